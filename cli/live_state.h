#pragma once
// Queryable state for the metrics server's /state and /alerts endpoints (DESIGN.md §5).
// Operators are single-threaded, so HTTP threads never touch them: a /state request is
// queued and answered by the task thread between batches (Task loop hook); open alerts are
// tracked by a sink that sees every committed alert record.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
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

//! Hot reload requests (SIGHUP, POST /admin/reload; DESIGN.md §5 "Operations"). Like
//! StateQueries, the reload runs on the task thread between batches, so operators and sinks
//! are never touched concurrently; requesters only wait for its result.
class ReloadRequests {
 public:
  struct Result {
    bool applied = false;
    std::string message;  // what changed, or why the new configuration was rejected
  };
  //! Set once before the task runs: re-reads and applies the configuration (task thread).
  void set_handler(std::function<Result()> handler) { handler_ = std::move(handler); }
  //! Any thread (the signal thread): asks for a reload and returns at once.
  void request();
  //! Any thread (HTTP): asks for a reload and waits for the one that starts after this call;
  //! nullopt when the task does not run it within `timeout_ms` (it still runs later).
  std::optional<Result> request_and_wait(int timeout_ms);
  //! Task thread: runs one reload when any was asked for since the last one.
  void serve();

 private:
  std::function<Result()> handler_;
  std::atomic<bool> pending_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t started_ = 0;   // reloads begun (under mu_)
  uint64_t finished_ = 0;  // reloads finished (under mu_)
  Result last_;
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
