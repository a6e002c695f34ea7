#include "connectors/file_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "stream/config.h"

namespace sw {

namespace {
constexpr std::string_view kNamespace = "sink/file";

Status write_all(int fd, const std::string& data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::io("writing '" + path + "': " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  return Status::ok();
}
}  // namespace

FileSink::FileSink(std::string dir) : dir_(std::move(dir)) {
  fds_.fill(-1);
}

FileSink::~FileSink() {
  for (int fd : fds_) {
    if (fd >= 0) ::close(fd);
  }
}

Status FileSink::open_all() {
  if (opened_) return Status::ok();
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::io("cannot create sinks.file.dir '" + dir_ + "': " + ec.message());
  for (int i = 0; i < kOutputStreamCount; ++i) {
    std::string path =
        dir_ + "/" + std::string(output_stream_name(static_cast<OutputStream>(i))) + ".jsonl";
    fds_[i] = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fds_[i] < 0) return Status::io("cannot open '" + path + "': " + std::strerror(errno));
  }
  opened_ = true;
  return Status::ok();
}

Status FileSink::recover(const StateStore& store) {
  SW_RETURN_IF_ERROR(open_all());
  // Check every file before truncating any: a refusal leaves all of them untouched.
  std::array<int64_t, kOutputStreamCount> committed{};
  std::array<int64_t, kOutputStreamCount> size{};
  for (int i = 0; i < kOutputStreamCount; ++i) {
    std::string_view stream = output_stream_name(static_cast<OutputStream>(i));
    auto r = store.get(kNamespace, stream);
    if (!r.is_ok()) return r.status();
    if (r.value().has_value()) {
      const std::string& v = *r.value();
      if (v.size() != sizeof(int64_t)) return Status::corruption("bad file sink checkpoint entry");
      std::memcpy(&committed[i], v.data(), sizeof(int64_t));
    }
    struct stat st {};
    if (::fstat(fds_[i], &st) != 0) return Status::io(std::strerror(errno));
    size[i] = st.st_size;
    std::string path = dir_ + "/" + std::string(stream) + ".jsonl";
    if (size[i] < committed[i]) {
      return Status::corruption("'" + path + "' is shorter (" + std::to_string(size[i]) +
                                " bytes) than its last checkpoint (" +
                                std::to_string(committed[i]) +
                                " bytes): was it modified or removed?");
    }
    if (fresh_state_ && !reset_outputs_ && size[i] > 0) {
      return Status::invalid(
          "'" + path + "' holds " + std::to_string(size[i]) +
          " bytes but the state directory is new and vouches for none of them (a lost or "
          "damaged state directory?); outputs left untouched. Restore the state directory, "
          "or start over with `shelfwatch run --reset-outputs` (sinks.file.reset_outputs: "
          "true) to truncate the outputs in '" +
          dir_ + "'");
    }
  }
  for (int i = 0; i < kOutputStreamCount; ++i) {
    std::string path =
        dir_ + "/" + std::string(output_stream_name(static_cast<OutputStream>(i))) + ".jsonl";
    if (size[i] > committed[i] && ::ftruncate(fds_[i], committed[i]) != 0) {
      return Status::io("cannot truncate '" + path + "': " + std::strerror(errno));
    }
    if (::lseek(fds_[i], committed[i], SEEK_SET) < 0) return Status::io(std::strerror(errno));
    sizes_[i] = committed[i];
  }
  return Status::ok();
}

Status FileSink::prepare(std::span<const OutputRecord> records, StateBatch& batch) {
  SW_RETURN_IF_ERROR(open_all());
  for (const OutputRecord& r : records) {
    std::string& b = buffers_[static_cast<int>(r.stream)];
    b += r.json;
    b += '\n';
  }
  for (int i = 0; i < kOutputStreamCount; ++i) {
    std::string& b = buffers_[i];
    if (b.empty()) continue;
    std::string path =
        dir_ + "/" + std::string(output_stream_name(static_cast<OutputStream>(i))) + ".jsonl";
    SW_RETURN_IF_ERROR(write_all(fds_[i], b, path));
    if (::fdatasync(fds_[i]) != 0)
      return Status::io("fsync '" + path + "': " + std::strerror(errno));
    sizes_[i] += static_cast<int64_t>(b.size());
    b.clear();
    char v[sizeof(int64_t)];
    std::memcpy(v, &sizes_[i], sizeof v);
    batch.put(kNamespace, output_stream_name(static_cast<OutputStream>(i)),
              std::string_view(v, sizeof v));
  }
  return Status::ok();
}

Status FileSink::close() {
  for (int& fd : fds_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  opened_ = false;
  return Status::ok();
}

std::unique_ptr<Sink> make_file_sink(const Config& config) {
  return std::make_unique<FileSink>(config.get_string("sinks.file.dir", "out"));
}

}  // namespace sw
