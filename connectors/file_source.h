#pragma once
// JSON-lines file source (DESIGN.md §3a source.file.*): one record per line from a file or
// stdin ("-"), read in large chunks with the lines handed out as views into the chunk (no
// copy, simdjson padding available after each line). `follow` keeps reading as the file
// grows (tail mode: never at end). Single partition 0; the position is the byte offset.
// A line longer than `max_record_bytes` is never buffered whole: its first
// kOversizePrefixBytes are kept, the rest is read past, and it is handed out as one record
// with `oversize_bytes` set (dead-lettered too_large with its true length).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

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
  ~FileSource() override;
  //! Opens the file; errors name the path.
  Status open();

  Status poll(std::vector<RawRecord>& out, size_t max, int timeout_ms) override;
  bool at_end() const override {
    return eof_ && !options_.follow && pending_begin_ == pending_end_ && !skipping_;
  }
  Status seek(const std::vector<SourcePosition>& positions) override;
  std::string name() const override { return options_.path == "-" ? "stdin" : options_.path; }
  //! No partition is ever idle and checkpoints need no call back: reading ahead is safe.
  bool allows_read_ahead() const override { return true; }

 private:
  Status fill();
  //! Refills; in follow mode sleeps at end of file. `stop`: poll() should return now.
  Status wait_for_data(std::chrono::steady_clock::time_point deadline, int timeout_ms, bool& stop);
  RawRecord finish_oversize(int64_t ingest);
  FileSourceOptions options_;
  int fd_ = -1;
  std::vector<char> buf_;                       // chunk + padding
  size_t pending_begin_ = 0, pending_end_ = 0;  // unconsumed bytes in buf_
  int64_t file_offset_ = 0;                     // byte offset of buf_[pending_begin_]
  int64_t line_ = 0;                            // lines consumed
  bool eof_ = false;
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
