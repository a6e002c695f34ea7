#pragma once
// JSON-lines file sink (DESIGN.md §3): one file per output stream in `sinks.file.dir`
// (alerts.jsonl, forecasts.jsonl, ...). Exactly-once by truncation: prepare() appends and
// fsyncs the records of the checkpoint interval and records every file's length in the
// checkpoint batch; recover() truncates each file back to the length of the last committed
// checkpoint (0 when there is none), so records written after it are re-produced, never
// duplicated. The directory is owned by one pipeline.
// A state directory created by this start vouches for no output byte: recover() then refuses
// non-empty output files (touching none of them) unless reset_outputs is set
// (`--reset-outputs`, `sinks.file.reset_outputs`), so a lost or damaged state directory can
// never silently empty the outputs.

#include <array>
#include <memory>
#include <string>

#include "stream/sink.h"

namespace sw {

class Config;

class FileSink final : public Sink {
 public:
  explicit FileSink(std::string dir);
  ~FileSink() override;
  std::string name() const override { return "file"; }
  Status prepare(std::span<const OutputRecord> records, StateBatch& batch) override;
  Status committed() override { return Status::ok(); }
  Status recover(const StateStore& store) override;
  Status close() override;
  const std::string& dir() const { return dir_; }
  //! Before recover(): `fresh_state` = the state store was created empty by this start;
  //! `reset_outputs` = non-empty outputs may then be truncated to 0.
  void set_fresh_state(bool fresh_state, bool reset_outputs) {
    fresh_state_ = fresh_state;
    reset_outputs_ = reset_outputs;
  }

 private:
  Status open_all();
  std::string dir_;
  std::array<int, kOutputStreamCount> fds_{};
  std::array<int64_t, kOutputStreamCount> sizes_{};
  std::array<std::string, kOutputStreamCount> buffers_;
  bool opened_ = false;
  bool fresh_state_ = false;
  bool reset_outputs_ = false;
};

std::unique_ptr<Sink> make_file_sink(const Config& config);

}  // namespace sw
