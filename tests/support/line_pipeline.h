#pragma once
// Test doubles for running a real Task: a Source over in-memory lines (positions are line
// indexes; stop_after() simulates a crash point) and a Sink that keeps committed outputs
// and, like the file sink, drops on recover() whatever the last checkpoint did not record.

#include <string>
#include <vector>

#include "stream/sink.h"
#include "stream/source.h"

namespace sw::testing {

class LineSource final : public Source {
 public:
  explicit LineSource(std::vector<std::string> lines) : lines_(std::move(lines)) {}
  Status poll(std::vector<RawRecord>& out, size_t max, int) override {
    while (out.size() < max && next_ < lines_.size() && (limit_ == 0 || next_ < limit_)) {
      RawRecord r;
      r.payload = lines_[next_];
      r.offset = static_cast<int64_t>(next_);
      r.next_offset = static_cast<int64_t>(next_ + 1);
      r.line = static_cast<int64_t>(next_ + 1);
      r.ingest_ms = 42;
      out.push_back(r);
      ++next_;
    }
    return Status::ok();
  }
  bool at_end() const override { return next_ == lines_.size(); }
  bool bounded() const override { return bounded_; }
  Status seek(const std::vector<SourcePosition>& positions) override {
    for (const auto& p : positions) next_ = static_cast<size_t>(p.next_offset);
    return Status::ok();
  }
  std::string name() const override { return "mem"; }
  bool allows_read_ahead() const override { return read_ahead_; }
  void stop_after(size_t n) { limit_ = n; }
  void set_read_ahead(bool on) { read_ahead_ = on; }
  //! false: a live source (event-time sanity against ingest_ms = 42, the "wall clock").
  void set_bounded(bool on) { bounded_ = on; }

 private:
  std::vector<std::string> lines_;
  size_t next_ = 0;
  size_t limit_ = 0;
  bool read_ahead_ = false;
  bool bounded_ = true;
};

class CollectSink final : public Sink {
 public:
  std::string name() const override { return "collect"; }
  Status prepare(std::span<const OutputRecord> records, StateBatch& batch) override {
    for (const auto& r : records) lines.push_back(r.json);
    batch.put("sink/collect", "n", std::to_string(lines.size()));
    return Status::ok();
  }
  Status committed() override { return Status::ok(); }
  Status recover(const StateStore& store) override {
    auto r = store.get("sink/collect", "n");
    lines.resize(r.value().has_value() ? std::stoul(*r.value()) : 0);
    return Status::ok();
  }
  Status close() override { return Status::ok(); }
  std::vector<std::string> lines;
};

}  // namespace sw::testing
