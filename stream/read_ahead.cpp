#include "stream/read_ahead.h"

#include <array>
#include <cstring>

#include "stream/key_index.h"

namespace sw {

namespace {
constexpr size_t kPadding = simdjson::SIMDJSON_PADDING;

std::array<std::string_view*, 11> string_fields(Event& e) {
  return {&e.event_id,   &e.store,  &e.sku,      &e.channel, &e.currency,     &e.promo_id,
          &e.competitor, &e.series, &e.alert_id, &e.by,      &e.item.category};
}
}  // namespace

ReadAhead::ReadAhead(Source& source, size_t batch_size, size_t max_record_bytes)
    : source_(source),
      batch_size_(batch_size),
      decoder_(max_record_bytes),
      ring_(std::make_unique<Batch[]>(kDepth)) {
  polled_.reserve(batch_size);
}

ReadAhead::~ReadAhead() {
  stop();
}

void ReadAhead::start() {
  thread_ = std::thread([this] { loop(); });
}

void ReadAhead::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  space_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ReadAhead::Batch* ReadAhead::next(int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!ready_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                       [this] { return produced_ > consumed_; })) {
    return nullptr;
  }
  return &ring_[consumed_ % kDepth];
}

void ReadAhead::release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++consumed_;
  }
  space_.notify_one();
}

void ReadAhead::loop() {
  for (;;) {
    uint64_t slot;
    {
      std::unique_lock<std::mutex> lock(mu_);
      space_.wait(lock, [this] { return stopping_ || produced_ - consumed_ < kDepth; });
      if (stopping_) return;
      slot = produced_;
    }
    // The slot is the reader's until it is published: the task only reads slots below
    // produced_ and has released this one.
    Batch& b = ring_[slot % kDepth];
    polled_.clear();
    b.records.clear();
    b.status = source_.poll(polled_, batch_size_, 100);
    const bool failed = !b.status.is_ok();
    if (!failed) fill(b);
    b.at_end = !failed && source_.at_end();
    if (polled_.empty() && !failed && !b.at_end) continue;  // idle: poll again
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++produced_;
    }
    ready_.notify_one();
    if (failed || b.at_end) return;
  }
}

void ReadAhead::fill(Batch& b) {
  const size_t n = polled_.size();
  size_t bytes = 0;
  for (const RawRecord& r : polled_) bytes += r.payload.size() + 1;
  b.records.clear();
  b.details.clear();
  b.spill.clear();
  b.payloads.clear();
  b.payloads.reserve(bytes + kPadding);
  b.strings.clear();
  // A decoded string is never longer than its JSON text (event ids given as integers print
  // no longer than they were written), so this capacity holds every string of the batch.
  b.strings.reserve(bytes);
  b.details.reserve(n);
  b.records.resize(n);
  // Decoded events are reused across batches (the decoder sets every field of the type it
  // decodes, as on the inline path); only their string views are reset below, so that no
  // view into an earlier batch's storage is copied.
  if (b.decoded.size() < n) b.decoded.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const RawRecord& src = polled_[i];
    RawRecord& r = b.records[i];
    r = src;
    r.payload = std::string_view(b.payloads.data() + b.payloads.size(), src.payload.size());
    b.payloads.append(src.payload);
    b.payloads.push_back('\n');
  }
  b.payloads.append(kPadding, ' ');
  const char* end = b.payloads.data() + b.payloads.size();
  for (size_t i = 0; i < n; ++i) {
    RawRecord& r = b.records[i];
    r.readable_after = static_cast<size_t>(end - (r.payload.data() + r.payload.size()));
    DecodedRecord& d = b.decoded[i];
    d.record = &r;
    d.key_hash = 0;
    d.detail = nullptr;
    for (std::string_view* v : string_fields(d.event)) *v = {};
    d.error = decoder_.decode(r.payload, r.readable_after, d.event);
    if (d.error != DecodeError::kNone) {
      b.details.push_back(decoder_.detail());
      d.detail = &b.details.back();
      continue;
    }
    // The decoder's strings live in its parser until the next decode: keep copies.
    Event& e = d.event;
    for (std::string_view* v : {&e.event_id, &e.store, &e.sku, &e.channel, &e.currency, &e.promo_id,
                                &e.competitor, &e.series, &e.alert_id, &e.by, &e.item.category}) {
      keep(*v, b);
    }
    if (keyed_event(e)) d.key_hash = KeyIndex::hash(e.store, e.sku);
  }
}

void ReadAhead::keep(std::string_view& v, Batch& b) {
  if (v.empty()) return;
  if (b.strings.size() + v.size() <= b.strings.capacity()) {
    const size_t at = b.strings.size();
    b.strings.append(v);
    v = std::string_view(b.strings.data() + at, v.size());
    return;
  }
  v = b.spill.emplace_back(v);
}

}  // namespace sw
