#include "stream/read_ahead.h"

#include <array>
#include <cstring>

#include "stream/key_index.h"

namespace sw {

namespace {
constexpr size_t kPadding = simdjson::SIMDJSON_PADDING;
}  // namespace

ReadAhead::ReadAhead(Source& source, size_t batch_size, size_t max_record_bytes)
    : source_(source),
      batch_size_(batch_size),
      decoder_(max_record_bytes),
      task_decoder_(max_record_bytes),
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

uint64_t ReadAhead::oldest_unclaimed() const {
  for (uint64_t no = consumed_; no < produced_; ++no) {
    if (ring_[no % kDepth].stage == Batch::Stage::kPolled) return no;
  }
  return produced_;
}

void ReadAhead::decode_claimed(uint64_t no, bool consumer, std::unique_lock<std::mutex>& lock) {
  Batch& b = ring_[no % kDepth];
  b.stage = Batch::Stage::kDecoding;
  lock.unlock();
  decode(b, consumer ? task_decoder_ : decoder_);
  lock.lock();
  b.stage = Batch::Stage::kReady;
  ++decoded_[consumer ? 1 : 0];
}

uint64_t ReadAhead::decoded_by_reader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return decoded_[0];
}

uint64_t ReadAhead::decoded_by_consumer() const {
  std::lock_guard<std::mutex> lock(mu_);
  return decoded_[1];
}

ReadAhead::Batch* ReadAhead::next(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (produced_ > consumed_) {
      Batch& head = ring_[consumed_ % kDepth];
      if (head.stage == Batch::Stage::kReady) return &head;
      // Not decoded yet: decode it here rather than wait; if the reader is decoding it,
      // decode the next polled batch meanwhile.
      const uint64_t no = head.stage == Batch::Stage::kPolled ? consumed_ : oldest_unclaimed();
      if (no < produced_) {
        decode_claimed(no, true, lock);
        space_.notify_one();  // the reader may wait for work to claim or for room
        continue;
      }
    }
    if (ready_.wait_until(lock, deadline) == std::cv_status::timeout) {
      if (produced_ > consumed_ && ring_[consumed_ % kDepth].stage == Batch::Stage::kReady) {
        return &ring_[consumed_ % kDepth];
      }
      return nullptr;
    }
  }
}

void ReadAhead::release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ring_[consumed_ % kDepth].stage = Batch::Stage::kFree;
    ++consumed_;
  }
  space_.notify_one();
}

void ReadAhead::loop() {
  bool polling = true;  // false once the source has ended or failed
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    size_t waiting = 0;  // polled batches nobody decodes yet
    for (uint64_t no = consumed_; no < produced_; ++no) {
      waiting += ring_[no % kDepth].stage == Batch::Stage::kPolled;
    }
    const bool room = polling && produced_ - consumed_ < kDepth;
    if (stopping_) return;
    if (room && waiting < kPolledAhead) {
      // The slot is the reader's until it is published: the task only touches slots below
      // produced_ and has released this one.
      const uint64_t slot = produced_;
      lock.unlock();
      Batch& b = ring_[slot % kDepth];
      polled_.clear();
      b.records.clear();
      b.status = source_.poll(polled_, batch_size_, 100);
      const bool failed = !b.status.is_ok();
      if (!failed) copy_payloads(b);
      b.at_end = !failed && source_.at_end();
      lock.lock();
      if (polled_.empty() && !failed && !b.at_end) continue;  // idle: poll again
      b.stage = failed ? Batch::Stage::kReady : Batch::Stage::kPolled;
      ++produced_;
      if (failed || b.at_end) polling = false;
      ready_.notify_one();
      continue;
    }
    if (waiting > 0) {
      decode_claimed(oldest_unclaimed(), false, lock);
      ready_.notify_one();
      continue;
    }
    if (!polling) return;  // everything polled is decoded or claimed
    space_.wait(lock);
  }
}

void ReadAhead::copy_payloads(Batch& b) {
  const size_t n = polled_.size();
  size_t bytes = 0;
  for (const RawRecord& r : polled_) bytes += r.payload.size() + 1;
  b.payloads.clear();
  b.payloads.reserve(bytes + kPadding);
  b.records.resize(n);
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
  for (RawRecord& r : b.records) {
    r.readable_after = static_cast<size_t>(end - (r.payload.data() + r.payload.size()));
  }
}

void ReadAhead::decode(Batch& b, Decoder& decoder) {
  const size_t n = b.records.size();
  b.details.clear();
  b.spill.clear();
  b.strings.clear();
  // A decoded string is never longer than its JSON text (event ids given as integers print
  // no longer than they were written), so this capacity holds every string of the batch.
  b.strings.reserve(b.payloads.size());
  b.details.reserve(n);
  // Decoded events are reused across batches (the decoder sets every field of the type it
  // decodes, as on the inline path); only their string views are reset below, so that no
  // view into an earlier batch's storage is copied.
  if (b.decoded.size() < n) b.decoded.resize(n);
  for (size_t i = 0; i < n; ++i) {
    RawRecord& r = b.records[i];
    DecodedRecord& d = b.decoded[i];
    d.record = &r;
    d.key_hash = 0;
    d.detail = nullptr;
    for (std::string_view* v : event_string_fields(d.event)) *v = {};
    d.error = decoder.decode(r.payload, r.readable_after, d.event, r.oversize_bytes);
    if (d.error != DecodeError::kNone) {
      b.details.push_back(decoder.detail());
      d.detail = &b.details.back();
      continue;
    }
    // The decoder's strings live in its parser until the next decode: keep copies.
    Event& e = d.event;
    for (std::string_view* v : event_string_fields(e)) keep(*v, b);
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
