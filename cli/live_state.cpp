#include "cli/live_state.h"

#include <chrono>

#include <simdjson.h>

#include "stream/json_writer.h"

namespace sw::cli {

std::string StateQueries::query(std::string_view store, std::string_view sku, int timeout_ms) {
  Request r{std::string(store), std::string(sku), "", false};
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&r);
  if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return r.done; })) {
    std::erase(queue_, &r);
    return R"json({"error":"the task did not answer in time (busy checkpointing or stopped)"})json";
  }
  return r.answer;
}

void StateQueries::serve(const Task& task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (queue_.empty()) return;
  for (Request* r : queue_) {
    KeyId key = task.keys().find(r->store, r->sku);
    if (key != kNoKey) {
      std::string out;
      JsonWriter w(out);
      w.begin_object().field("store", r->store).field("sku", r->sku);
      for (const Operator* op : task.operators())
        w.key(op->name()).raw(op->describe(key, task.keys()));
      w.end_object();
      r->answer = std::move(out);
    }
    r->done = true;
  }
  queue_.clear();
  cv_.notify_all();
}

void ReloadRequests::request() {
  pending_.store(true, std::memory_order_release);
}

std::optional<ReloadRequests::Result> ReloadRequests::request_and_wait(int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  // The reload that answers this call is the first to start after it (one already running
  // may have read the configuration before the caller changed it).
  const uint64_t wanted = started_ + 1;
  pending_.store(true, std::memory_order_release);
  if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                    [&] { return finished_ >= wanted; })) {
    return std::nullopt;
  }
  return last_;
}

void ReloadRequests::serve() {
  if (!pending_.load(std::memory_order_acquire)) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.store(false, std::memory_order_relaxed);
    ++started_;
  }
  Result r = handler_ ? handler_() : Result{false, "reload is not available"};
  std::lock_guard<std::mutex> lock(mu_);
  ++finished_;
  last_ = std::move(r);
  cv_.notify_all();
}

Status OpenAlertsSink::prepare(std::span<const OutputRecord> records, StateBatch&) {
  for (const OutputRecord& r : records) {
    if (r.stream == OutputStream::kAlerts && !r.id.empty()) staged_.emplace_back(r.id, r.json);
  }
  return Status::ok();
}

Status OpenAlertsSink::committed() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, json] : staged_) {
    if (json.find(R"("status":"resolved")") != std::string::npos) {
      open_.erase(id);
    } else {
      open_[id] = std::move(json);
    }
  }
  staged_.clear();
  return Status::ok();
}

Status OpenAlertsSink::recover(const StateStore&) {
  // Open alerts are rebuilt from outputs produced after the restart; the alert files and
  // topics keep the full history.
  staged_.clear();
  return Status::ok();
}

std::string OpenAlertsSink::open_alerts_json() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out = "[";
  bool first = true;
  for (const auto& [id, json] : open_) {
    if (!first) out += ',';
    first = false;
    out += json;
  }
  out += ']';
  return out;
}

}  // namespace sw::cli
