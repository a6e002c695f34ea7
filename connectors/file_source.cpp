#include "connectors/file_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <utility>

#include "stream/bytes.h"
#include "stream/config.h"
#include "stream/state_store.h"

namespace sw {

namespace {
constexpr size_t kPadding = 64;  // simdjson::SIMDJSON_PADDING
constexpr std::string_view kNamespace = "source/file";
constexpr std::string_view kIdentityKey = "identity";
constexpr uint8_t kIdentityVersion = 1;
int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

FileSource::FileSource(FileSourceOptions options) : options_(std::move(options)) {
  buf_.resize(options_.chunk_bytes + kPadding);
}

FileSource::FileSource(FileSource&& o) noexcept
    : options_(std::move(o.options_)),
      fd_(std::exchange(o.fd_, -1)),
      buf_(std::move(o.buf_)),
      pending_begin_(o.pending_begin_),
      pending_end_(o.pending_end_),
      file_offset_(o.file_offset_),
      line_(o.line_),
      eof_(o.eof_),
      read_pos_(o.read_pos_),
      flush_partial_(o.flush_partial_),
      shared_(std::move(o.shared_)),
      stored_(o.stored_),
      skipping_(o.skipping_),
      oversize_prefix_(std::move(o.oversize_prefix_)),
      oversize_offset_(o.oversize_offset_),
      oversize_bytes_(o.oversize_bytes_) {}

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
  return switch_to(fd_, 0);
}

bool FileSource::fingerprint(int fd, uint32_t& len, uint64_t& fp) {
  char head[kFingerprintBytes];
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, head + got, len - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  len = static_cast<uint32_t>(got);
  fp = XXH64(head, got, 0);
  return true;
}

Status FileSource::identify(int fd, int64_t base, FileIdentity& id) const {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return Status::io("cannot stat input '" + options_.path + "': " + std::strerror(errno));
  }
  id.dev = static_cast<uint64_t>(st.st_dev);
  id.ino = static_cast<uint64_t>(st.st_ino);
  id.base = base;
  id.fp_len = kFingerprintBytes;
  if (!fingerprint(fd, id.fp_len, id.fp)) {
    return Status::io("reading '" + options_.path + "': " + std::strerror(errno));
  }
  return Status::ok();
}

Status FileSource::switch_to(int fd, int64_t base) {
  FileIdentity id;
  Status s = identify(fd, base, id);
  if (!s.is_ok()) {
    if (fd != fd_) ::close(fd);
    return s;
  }
  std::lock_guard lock(shared_->mu);  // snapshot() reads fd_ and shared_->files
  if (fd != fd_) {
    if (fd_ > 0) ::close(fd_);
    fd_ = fd;
  }
  shared_->files.push_back(id);
  if (shared_->files.size() > 64)
    shared_->files.erase(shared_->files.begin());  // positions only move forward
  return Status::ok();
}

void FileSource::snapshot(const std::vector<SourcePosition>& positions, StateBatch& batch) {
  if (fd_ == 0) return;  // stdin: no identity
  for (const SourcePosition& p : positions) {
    if (p.partition != 0) continue;
    std::lock_guard lock(shared_->mu);
    if (shared_->files.empty()) return;
    // The file the position is in: the newest one starting before it (a position at the
    // very end of a rotated file belongs to that file; on restart it is a different file
    // than the one now at the path, which is then read from its start, as it should be).
    size_t i = shared_->files.size() - 1;
    while (i > 0 && shared_->files[i].base >= p.next_offset) --i;
    FileIdentity& id = shared_->files[i];
    if (i + 1 == shared_->files.size() && id.fp_len < kFingerprintBytes) {
      // Grown since it was opened: cover more of it, if what was covered is unchanged.
      uint32_t len = id.fp_len;
      uint64_t fp;
      if (fingerprint(fd_, len, fp) && len == id.fp_len && fp == id.fp) {
        len = kFingerprintBytes;
        if (fingerprint(fd_, len, fp)) id.fp_len = len, id.fp = fp;
      }
    }
    std::string v;
    ByteWriter w(v);
    w.put<uint8_t>(kIdentityVersion);
    w.put(id.dev);
    w.put(id.ino);
    w.put(id.base);
    w.put(id.fp_len);
    w.put(id.fp);
    batch.put(kNamespace, kIdentityKey, v);
  }
}

Status FileSource::restore(const StateStore& store) {
  auto r = store.get(kNamespace, kIdentityKey);
  if (!r.is_ok()) return r.status();
  if (!r.value().has_value()) return Status::ok();
  ByteReader in(*r.value());
  uint8_t version;
  FileIdentity id;
  if (!in.get(version) || version != kIdentityVersion || !in.get(id.dev) || !in.get(id.ino) ||
      !in.get(id.base) || !in.get(id.fp_len) || !in.get(id.fp) || id.fp_len > kFingerprintBytes) {
    return Status::corruption("file source checkpoint entry is truncated or of an unknown version");
  }
  stored_ = id;
  return Status::ok();
}

Status FileSource::seek(const std::vector<SourcePosition>& positions) {
  for (const SourcePosition& p : positions) {
    if (p.partition != 0) continue;
    pending_begin_ = pending_end_ = 0;
    if (fd_ == 0) {
      // stdin is a new stream on every run: skipping the stored number of bytes of it would
      // drop records of this run's input. The state carries over; the position does not.
      if (p.next_offset > 0) {
        std::fprintf(stderr,
                     "shelfwatch: source.file.path is stdin: the checkpointed position (byte "
                     "%lld) is ignored, this run reads its stdin from the start\n",
                     static_cast<long long>(p.next_offset));
        shared_->replaced.fetch_add(1, std::memory_order_relaxed);
      }
      return Status::ok();
    }
    int64_t phys = p.next_offset;
    bool same = true;
    if (stored_) {
      // Same file = same first bytes (whatever its inode: a copied or restored file resumes)
      // and at least as long as the position.
      phys = p.next_offset - stored_->base;
      uint32_t len = stored_->fp_len;
      uint64_t fp = 0;
      struct stat st {};
      same = phys >= 0 && ::fstat(fd_, &st) == 0 && st.st_size >= phys &&
             fingerprint(fd_, len, fp) && len == stored_->fp_len && fp == stored_->fp;
    }
    if (!same) {
      std::fprintf(stderr,
                   "shelfwatch: '%s' is not the file the checkpoint was taken on (its first "
                   "bytes differ, or it is shorter than the checkpointed position %lld): "
                   "reading it from its beginning\n",
                   options_.path.c_str(), static_cast<long long>(phys));
      shared_->replaced.fetch_add(1, std::memory_order_relaxed);
      file_offset_ = p.next_offset;  // positions keep growing
      line_ = 0;
      read_pos_ = 0;
      std::lock_guard lock(shared_->mu);
      shared_->files.back().base = p.next_offset;
      return Status::ok();
    }
    if (::lseek(fd_, phys, SEEK_SET) < 0) {
      return Status::io("cannot seek '" + options_.path + "': " + std::strerror(errno));
    }
    read_pos_ = phys;
    file_offset_ = p.next_offset;
    line_ = p.line;
    std::lock_guard lock(shared_->mu);
    shared_->files.back().base = p.next_offset - phys;
  }
  return Status::ok();
}

Status FileSource::check_file(bool& changed, bool rotation) {
  changed = false;
  struct stat cur {};
  if (::fstat(fd_, &cur) != 0) return Status::io("stat '" + name() + "': " + std::strerror(errno));
  const int64_t pending = static_cast<int64_t>(pending_end_ - pending_begin_);
  if (cur.st_size < read_pos_) {
    // Truncated (copytruncate, or rewritten in place): its new content starts at byte 0.
    std::fprintf(stderr,
                 "shelfwatch: '%s' was truncated (%lld -> %lld bytes): reading it again from "
                 "its beginning%s\n",
                 options_.path.c_str(), static_cast<long long>(read_pos_),
                 static_cast<long long>(cur.st_size),
                 pending > 0 || skipping_ ? "; the unterminated line before it is dropped" : "");
    shared_->truncations.fetch_add(1, std::memory_order_relaxed);
    file_offset_ += pending;
    pending_begin_ = pending_end_ = 0;
    skipping_ = false;
    if (::lseek(fd_, 0, SEEK_SET) < 0) return Status::io(std::strerror(errno));
    read_pos_ = 0;
    line_ = 0;
    SW_RETURN_IF_ERROR(switch_to(fd_, file_offset_));
    changed = true;
    return Status::ok();
  }
  {
    // Rewritten in place without shrinking below what was read: its first bytes changed.
    FileIdentity current;
    {
      std::lock_guard lock(shared_->mu);
      current = shared_->files.back();
    }
    uint32_t len = current.fp_len;
    uint64_t fp = 0;
    if (fingerprint(fd_, len, fp) && (len != current.fp_len || fp != current.fp)) {
      std::fprintf(stderr,
                   "shelfwatch: '%s' was rewritten in place (its first bytes changed): reading "
                   "it again from its beginning\n",
                   options_.path.c_str());
      shared_->truncations.fetch_add(1, std::memory_order_relaxed);
      file_offset_ += pending;
      pending_begin_ = pending_end_ = 0;
      skipping_ = false;
      if (::lseek(fd_, 0, SEEK_SET) < 0) return Status::io(std::strerror(errno));
      read_pos_ = 0;
      line_ = 0;
      SW_RETURN_IF_ERROR(switch_to(fd_, file_offset_));
      changed = true;
      return Status::ok();
    }
  }
  if (!rotation) return Status::ok();
  struct stat now {};
  if (::stat(options_.path.c_str(), &now) != 0) return Status::ok();  // renamed, not yet replaced
  if (now.st_dev == cur.st_dev && now.st_ino == cur.st_ino) return Status::ok();
  // Rotated: the old file is read to its end (we are at its end now); its unterminated last
  // line, if any, is its last record.
  if ((pending > 0 || skipping_) && !flush_partial_) {
    flush_partial_ = true;
    changed = true;
    return Status::ok();
  }
  int fd = ::open(options_.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::ok();  // gone again: retry at the next poll
  std::fprintf(stderr,
               "shelfwatch: '%s' was rotated: the old file was read to its end (%lld bytes), "
               "now reading the new one from its start\n",
               options_.path.c_str(), static_cast<long long>(read_pos_));
  shared_->rotations.fetch_add(1, std::memory_order_relaxed);
  flush_partial_ = false;
  file_offset_ += pending;
  pending_begin_ = pending_end_ = 0;
  read_pos_ = 0;
  line_ = 0;
  SW_RETURN_IF_ERROR(switch_to(fd, file_offset_));
  changed = true;
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
    flush_partial_ = false;
    pending_end_ += static_cast<size_t>(n);
    read_pos_ += n;
  }
  std::memset(buf_.data() + pending_end_, ' ', kPadding);
  return Status::ok();
}

Status FileSource::wait_for_data(std::chrono::steady_clock::time_point deadline, int timeout_ms,
                                 bool& stop) {
  stop = false;
  if (options_.follow && fd_ != 0) {
    // Before reading more of a followed file, make sure it was only appended to (a file
    // truncated or rewritten since is read from its start; one fstat and a 1 KiB pread per
    // chunk). A rotation is only acted on at the old file's end, below, so nothing appended
    // to it is lost.
    bool changed;
    SW_RETURN_IF_ERROR(check_file(changed, false));
    if (changed) return Status::ok();
  }
  SW_RETURN_IF_ERROR(fill());
  if (pending_end_ != pending_begin_ && !eof_) return Status::ok();
  if (!eof_) return Status::ok();
  if (!options_.follow) {
    stop = pending_end_ == pending_begin_ && !skipping_;
    return Status::ok();
  }
  if (fd_ != 0) {
    bool changed;
    SW_RETURN_IF_ERROR(check_file(changed, true));
    if (changed) return Status::ok();
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
      if (nl != nullptr || (eof_ && (!options_.follow || flush_partial_))) {
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
      if (eof_ && (!options_.follow || flush_partial_) && p != end) {
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

void FileSource::update_probe() {
  auto sync = [this](const char* name, const char* help, uint64_t now) {
    Probe::Counter& c = probe_->counter(name, help);
    if (now > c.value()) c.add(now - c.value());
  };
  sync("source_file_rotations_total", "Followed input files renamed away and replaced (followed).",
       rotations());
  sync("source_file_truncations_total",
       "Followed input files truncated or rewritten (read again from the start).", truncations());
  sync("source_file_replaced_total",
       "Restarts on a different input file than the checkpoint's, or on stdin.", replaced());
}

}  // namespace sw
