#pragma once
// JSON-lines file source (DESIGN.md §3a source.file.*): one record per line from a file or
// stdin ("-"), read in large chunks with the lines handed out as views into the chunk (no
// copy, simdjson padding available after each line). `follow` keeps reading as the file
// grows (tail mode: never at end). Single partition 0; the position is the byte offset in
// the stream read so far: in one file its byte offset, and across a rotation or truncation
// (follow mode) it continues from where the previous content ended, so positions only grow.
//
// File identity (docs/contract.md "File sources"): every checkpoint also records the
// identity of the file its position is in (device, inode, where the file starts in the
// stream, and an xxh64 fingerprint of its first bytes, up to 1 KiB). On restart the position
// is resumed only if the file at the path has the same fingerprint and is at least that
// long (a copied or restored file resumes); otherwise it is a different file and is read
// from its beginning (logged, counted in replaced()). In follow mode a rename + new file is
// followed (the old one read to its end, then the new one from its start; rotations()) and a
// file that shrank is read again from its beginning (truncations()). stdin has no identity:
// a stored position is ignored (logged) and each run reads its stdin from the start.
// A line longer than `max_record_bytes` is never buffered whole: its first
// kOversizePrefixBytes are kept, the rest is read past, and it is handed out as one record
// with `oversize_bytes` set (dead-lettered too_large with its true length).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "stream/probe.h"
#include "stream/source.h"

namespace sw {

class Config;

struct FileSourceOptions {
  std::string path;  // "-" = stdin
  bool follow = false;
  size_t chunk_bytes = 4u << 20;
  int follow_poll_ms = 100;
  size_t max_record_bytes = 1u << 20;  // pipeline.max_record_bytes
};

class FileSource final : public Source {
 public:
  explicit FileSource(FileSourceOptions options);
  //! Moves the open file too (the moved-from source no longer closes it).
  FileSource(FileSource&& o) noexcept;
  ~FileSource() override;
  //! Opens the file; errors name the path.
  Status open();

  Status poll(std::vector<RawRecord>& out, size_t max, int timeout_ms) override;
  bool at_end() const override {
    return eof_ && !options_.follow && pending_begin_ == pending_end_ && !skipping_;
  }
  bool bounded() const override { return !options_.follow; }
  Status seek(const std::vector<SourcePosition>& positions) override;
  std::string name() const override { return options_.path == "-" ? "stdin" : options_.path; }
  //! No partition is ever idle and checkpoints need no call back: reading ahead is safe.
  bool allows_read_ahead() const override { return true; }
  void snapshot(const std::vector<SourcePosition>& positions, StateBatch& batch) override;
  Status restore(const StateStore& store) override;

  //! Follow mode: files renamed away and replaced at the path, followed to the new file.
  uint64_t rotations() const { return shared_->rotations.load(std::memory_order_relaxed); }
  //! Follow mode: times the file shrank and was read again from its beginning.
  uint64_t truncations() const { return shared_->truncations.load(std::memory_order_relaxed); }
  //! Restarts that found a different file at the path than the checkpoint's (read from its
  //! beginning) or read stdin while a position was stored (ignored).
  uint64_t replaced() const { return shared_->replaced.load(std::memory_order_relaxed); }
  //! The three counts above as metrics (source_file_{rotations,truncations,replaced}_total).
  const Probe* probe() const override { return probe_.get(); }
  void update_probe() override;

  //! Identity of one file read by this source (persisted with each checkpoint).
  struct FileIdentity {
    uint64_t dev = 0, ino = 0;
    int64_t base = 0;     // stream position of the file's byte 0
    uint32_t fp_len = 0;  // bytes covered by the fingerprint (<= kFingerprintBytes)
    uint64_t fp = 0;      // xxh64 of the first fp_len bytes
  };
  static constexpr uint32_t kFingerprintBytes = 1024;

 private:
  Status fill();
  //! Refills; in follow mode sleeps at end of file. `stop`: poll() should return now.
  Status wait_for_data(std::chrono::steady_clock::time_point deadline, int timeout_ms, bool& stop);
  RawRecord finish_oversize(int64_t ingest);
  //! Follow mode at end of file: detects a rotation or truncation and switches to the new
  //! content (`changed`); a pending partial last line of a rotated file is handed out first.
  //! `rotation` = false: only truncation / in-place rewrite (before reading appended data).
  Status check_file(bool& changed, bool rotation);
  Status identify(int fd, int64_t base, FileIdentity& id) const;
  //! Makes `fd` the file read (closing the previous one) starting at stream position `base`.
  Status switch_to(int fd, int64_t base);
  //! Fingerprint of the first `len` bytes of `fd` (shorter if the file is); false on error.
  static bool fingerprint(int fd, uint32_t& len, uint64_t& fp);
  FileSourceOptions options_;
  std::unique_ptr<Probe> probe_ = std::make_unique<Probe>();
  int fd_ = -1;
  std::vector<char> buf_;                       // chunk + padding
  size_t pending_begin_ = 0, pending_end_ = 0;  // unconsumed bytes in buf_
  int64_t file_offset_ = 0;                     // byte offset of buf_[pending_begin_]
  int64_t line_ = 0;                            // lines consumed
  bool eof_ = false;
  int64_t read_pos_ = 0;  // bytes read from fd_ (its file offset)
  // Rotated: hand out the unterminated last line of the old file, then switch.
  bool flush_partial_ = false;
  // What snapshot() (task thread) shares with poll() (reader thread), behind a pointer so
  // the source stays movable.
  struct Shared {
    std::mutex mu;
    std::vector<FileIdentity> files;  // of this run, oldest first; guarded by mu
    std::atomic<uint64_t> rotations{0}, truncations{0}, replaced{0};
  };
  std::unique_ptr<Shared> shared_ = std::make_unique<Shared>();
  std::optional<FileIdentity> stored_;  // from the checkpoint, for seek()
  // Inside a line longer than max_record_bytes (skipped while read).
  bool skipping_ = false;
  std::string oversize_prefix_;
  int64_t oversize_offset_ = 0;
  int64_t oversize_bytes_ = 0;
};

//! Reads and checks source.file.* without opening anything (validate).
FileSourceOptions file_source_options(const Config& config);
std::unique_ptr<Source> make_file_source(const Config& config);

}  // namespace sw
