#include "connectors/file_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "stream/config.h"

namespace sw {

namespace {
constexpr size_t kPadding = 64;  // simdjson::SIMDJSON_PADDING
int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

FileSource::FileSource(FileSourceOptions options) : options_(std::move(options)) {
  buf_.resize(options_.chunk_bytes + kPadding);
}

FileSource::~FileSource() {
  if (fd_ > 0) ::close(fd_);
}

Status FileSource::open() {
  if (options_.path == "-") {
    fd_ = 0;
    return Status::ok();
  }
  fd_ = ::open(options_.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    return Status::io("cannot open input '" + options_.path + "': " + std::strerror(errno));
  }
  return Status::ok();
}

Status FileSource::seek(const std::vector<SourcePosition>& positions) {
  for (const SourcePosition& p : positions) {
    if (p.partition != 0) continue;
    if (fd_ == 0) {
      // stdin cannot seek: skip the already-processed bytes.
      int64_t skip = p.next_offset;
      while (skip > 0) {
        ssize_t n = ::read(fd_, buf_.data(), std::min<int64_t>(skip, options_.chunk_bytes));
        if (n <= 0) return Status::io("stdin ended before the checkpointed position");
        skip -= n;
      }
    } else if (::lseek(fd_, p.next_offset, SEEK_SET) < 0) {
      return Status::io("cannot seek '" + options_.path + "': " + std::strerror(errno));
    }
    file_offset_ = p.next_offset;
    line_ = p.line;
    pending_begin_ = pending_end_ = 0;
  }
  return Status::ok();
}

Status FileSource::fill() {
  // Move the unconsumed tail to the front, grow if one line fills the whole buffer.
  size_t tail = pending_end_ - pending_begin_;
  if (pending_begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pending_begin_, tail);
    pending_begin_ = 0;
    pending_end_ = tail;
  }
  if (buf_.size() - kPadding - pending_end_ < options_.chunk_bytes / 2) {
    buf_.resize(std::max(buf_.size() * 2, pending_end_ + options_.chunk_bytes + kPadding));
  }
  size_t room = buf_.size() - kPadding - pending_end_;
  ssize_t n;
  do {
    n = ::read(fd_, buf_.data() + pending_end_, room);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::io("reading '" + name() + "': " + std::strerror(errno));
  if (n == 0) {
    eof_ = true;
  } else {
    eof_ = false;
    pending_end_ += static_cast<size_t>(n);
  }
  std::memset(buf_.data() + pending_end_, ' ', kPadding);
  return Status::ok();
}

Status FileSource::wait_for_data(std::chrono::steady_clock::time_point deadline, int timeout_ms,
                                 bool& stop) {
  stop = false;
  SW_RETURN_IF_ERROR(fill());
  if (pending_end_ != pending_begin_ && !eof_) return Status::ok();
  if (!eof_) return Status::ok();
  if (!options_.follow) {
    stop = pending_end_ == pending_begin_ && !skipping_;
    return Status::ok();
  }
  if (std::chrono::steady_clock::now() >= deadline) {
    stop = true;
    return Status::ok();
  }
  std::this_thread::sleep_for(
      std::chrono::milliseconds(std::min(options_.follow_poll_ms, std::max(timeout_ms, 1))));
  eof_ = false;
  return Status::ok();
}

RawRecord FileSource::finish_oversize(int64_t ingest) {
  skipping_ = false;
  ++line_;
  RawRecord r;
  r.payload = oversize_prefix_;
  r.readable_after = 0;
  r.partition = 0;
  r.offset = oversize_offset_;
  r.next_offset = file_offset_;
  r.line = line_;
  r.ingest_ms = ingest;
  r.oversize_bytes = std::max<int64_t>(oversize_bytes_, 1);
  return r;
}

Status FileSource::poll(std::vector<RawRecord>& out, size_t max, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int64_t ingest = now_ms();
  while (out.size() < max) {
    char* base = buf_.data();
    char* p = base + pending_begin_;
    char* end = base + pending_end_;
    char* nl = static_cast<char*>(std::memchr(p, '\n', end - p));
    if (skipping_) {
      // Inside a line longer than max_record_bytes: count and drop its bytes up to the
      // newline; only its first kOversizePrefixBytes were kept.
      size_t n = static_cast<size_t>((nl == nullptr ? end : nl) - p);
      size_t consumed = n + (nl == nullptr ? 0 : 1);
      oversize_bytes_ += static_cast<int64_t>(n);
      file_offset_ += static_cast<int64_t>(consumed);
      pending_begin_ += consumed;
      if (nl != nullptr || (eof_ && !options_.follow)) {
        // The payload views oversize_prefix_: hand it out before anything can replace it.
        out.push_back(finish_oversize(ingest));
        return Status::ok();
      }
      if (!out.empty()) return Status::ok();
      bool stop;
      SW_RETURN_IF_ERROR(wait_for_data(deadline, timeout_ms, stop));
      if (stop) return Status::ok();
      continue;
    }
    if (nl == nullptr) {
      if (static_cast<size_t>(end - p) > options_.max_record_bytes) {
        // Longer than any record may be: keep a prefix for the dead-letter record and
        // stream past the rest without buffering it.
        skipping_ = true;
        oversize_prefix_.assign(p, std::min(kOversizePrefixBytes, static_cast<size_t>(end - p)));
        oversize_offset_ = file_offset_;
        oversize_bytes_ = 0;
        continue;
      }
      if (!out.empty()) return Status::ok();  // hand out what we have before refilling
      if (eof_ && !options_.follow && p != end) {
        // Last line without a trailing newline.
        nl = end;
      } else {
        bool stop;
        SW_RETURN_IF_ERROR(wait_for_data(deadline, timeout_ms, stop));
        if (stop) return Status::ok();
        continue;
      }
    }
    size_t line_len = static_cast<size_t>(nl - p);
    size_t consumed = line_len + (nl == end ? 0 : 1);
    size_t len = line_len;
    if (len > 0 && p[len - 1] == '\r') --len;
    ++line_;
    int64_t offset = file_offset_;
    file_offset_ += static_cast<int64_t>(consumed);
    pending_begin_ += consumed;
    bool blank = true;
    for (size_t i = 0; i < len && blank; ++i) blank = p[i] == ' ' || p[i] == '\t';
    if (blank) continue;  // blank lines are not records
    RawRecord r;
    r.payload = std::string_view(p, len);
    r.readable_after = static_cast<size_t>(base + buf_.size() - (p + len));
    r.partition = 0;
    r.offset = offset;
    r.next_offset = file_offset_;
    r.line = line_;
    r.ingest_ms = ingest;
    out.push_back(r);
  }
  return Status::ok();
}

FileSourceOptions file_source_options(const Config& config) {
  FileSourceOptions o;
  o.path = config.require_string("source.file.path",
                                 "set source.file.path to a JSON-lines file, or - for stdin");
  o.follow = config.get_bool("source.file.follow", false);
  o.chunk_bytes =
      static_cast<size_t>(config.get_int("source.file.chunk_bytes", 4 << 20, 64 << 10, 256 << 20));
  // Same key, default and range as the task's (TaskOptions::from_config).
  o.max_record_bytes =
      static_cast<size_t>(config.get_int("pipeline.max_record_bytes", 1 << 20, 256, 64 << 20));
  return o;
}

std::unique_ptr<Source> make_file_source(const Config& config) {
  auto src = std::make_unique<FileSource>(file_source_options(config));
  Status s = src->open();
  if (!s.is_ok()) throw ConfigError("source.file.path", s.message(), "check the path exists");
  return src;
}

}  // namespace sw
