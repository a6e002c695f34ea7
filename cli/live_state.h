#pragma once
// Queryable state for the metrics server's /state and /alerts endpoints (DESIGN.md §5).
// Operators are single-threaded, so HTTP threads never touch them: a /state request is
// queued and answered by the task thread between batches (Task loop hook); open alerts are
// tracked by a sink that sees every committed alert record.

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "stream/operator.h"
#include "stream/sink.h"
#include "stream/task.h"

namespace sw::cli {

class StateQueries {
 public:
  //! HTTP thread: returns the key's live state as JSON, "" if unknown (404), or an error
  //! object when the task does not answer within `timeout_ms`.
  std::string query(std::string_view store, std::string_view sku, int timeout_ms = 2000);
  //! Task thread: answers queued queries from live operator state.
  void serve(const Task& task);

 private:
  struct Request {
    std::string store, sku, answer;
    bool done = false;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request*> queue_;
};

//! Sink that keeps the set of open (firing, not yet resolved) alerts as committed.
class OpenAlertsSink final : public Sink {
 public:
  std::string name() const override { return "open-alerts"; }
  Status prepare(std::span<const OutputRecord> records, StateBatch& batch) override;
  Status committed() override;
  Status recover(const StateStore& store) override;
  Status close() override { return Status::ok(); }
  //! JSON array of open alerts (latest record of each), oldest first.
  std::string open_alerts_json() const;

 private:
  std::vector<std::pair<std::string, std::string>> staged_;  // (id, json) in order
  mutable std::mutex mu_;
  std::map<std::string, std::string> open_;  // id -> latest firing record
};

}  // namespace sw::cli
