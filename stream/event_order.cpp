#include "stream/event_order.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "stream/key_index.h"
#include "stream/read_ahead.h"

namespace sw {

EventOrder::EventOrder() = default;
EventOrder::~EventOrder() = default;

bool EventOrder::after(const Entry& a, const Entry& b) const {
  if (a.ts_ms != b.ts_ms) return a.ts_ms > b.ts_ms;
  return slots_[a.slot].payload() > slots_[b.slot].payload();
}

EventOrder::Held& EventOrder::take_slot(uint32_t& index) {
  if (free_.empty()) {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    index = free_.back();
    free_.pop_back();
  }
  return slots_[index];
}

void EventOrder::push(int64_t ts_ms, const RawRecord& r, const Event& event, uint64_t key_hash) {
  uint32_t index;
  Held& h = take_slot(index);
  h.ts_ms = ts_ms;
  h.partition = r.partition;
  h.offset = r.offset;
  h.line = r.line;
  h.ingest_ms = r.ingest_ms;
  h.size = r.payload.size();
  h.key_hash = key_hash;
  h.event = event;
  // Layout: payload, padding, then the strings (wherever the decoder left them). Sized first,
  // so the views set below stay valid.
  std::array<std::string_view*, 14> fields = event_string_fields(h.event);
  size_t bytes = h.size + kPadding;
  for (const std::string_view* v : fields) bytes += v->size();
  if (h.capacity < bytes) {
    h.capacity = std::max(bytes, size_t{256});
    h.buffer = std::make_unique_for_overwrite<char[]>(h.capacity);
  }
  char* base = h.buffer.get();
  if (h.size > 0) std::memcpy(base, r.payload.data(), h.size);
  std::memset(base + h.size, 0, kPadding);
  size_t at = h.size + kPadding;
  for (std::string_view* v : fields) {
    if (v->empty()) {
      *v = {};
      continue;
    }
    std::memcpy(base + at, v->data(), v->size());
    *v = std::string_view(base + at, v->size());
    at += v->size();
  }
  push_slot(ts_ms, index);
}

void EventOrder::push_slot(int64_t ts_ms, uint32_t index) {
  heap_.push_back(Entry{ts_ms, index});
  std::push_heap(heap_.begin(), heap_.end(),
                 [this](const Entry& a, const Entry& b) { return after(a, b); });
}

uint32_t EventOrder::take() {
  std::pop_heap(heap_.begin(), heap_.end(),
                [this](const Entry& a, const Entry& b) { return after(a, b); });
  const uint32_t slot = heap_.back().slot;
  heap_.pop_back();
  return slot;
}

size_t EventOrder::memory_bytes() const {
  size_t b = slots_.capacity() * sizeof(Held) + free_.capacity() * sizeof(uint32_t) +
             heap_.capacity() * sizeof(Entry);
  for (const Held& h : slots_) b += h.capacity;
  if (decoder_ != nullptr) b += sizeof(Decoder);
  return b;
}

void EventOrder::encode(ByteWriter& w) const {
  w.put<uint32_t>(static_cast<uint32_t>(heap_.size()));
  for (const Entry& e : heap_) {
    const Held& h = slots_[e.slot];
    w.put(h.ts_ms);
    w.put(h.partition);
    w.put(h.offset);
    w.put(h.line);
    w.put(h.ingest_ms);
    w.put_string(h.payload());
  }
}

Status EventOrder::decode(ByteReader& r) {
  auto bad = [] { return Status::corruption("task checkpoint: held events are truncated"); };
  uint32_t n;
  if (!r.get(n)) return bad();
  heap_.clear();
  free_.clear();
  slots_.clear();
  // The payloads were accepted when they were read: no size limit applies again.
  if (decoder_ == nullptr) {
    decoder_ = std::make_unique<Decoder>(std::numeric_limits<size_t>::max());
  }
  std::string payload;
  for (uint32_t i = 0; i < n; ++i) {
    RawRecord rec;
    int64_t ts;
    if (!r.get(ts) || !r.get(rec.partition) || !r.get(rec.offset) || !r.get(rec.line) ||
        !r.get(rec.ingest_ms) || !r.get_string(payload)) {
      return bad();
    }
    const size_t size = payload.size();
    payload.append(kPadding, '\0');
    rec.payload = std::string_view(payload.data(), size);
    rec.readable_after = kPadding;
    Event event;
    if (decoder_->decode(rec.payload, kPadding, event) != DecodeError::kNone) {
      return Status::corruption("task checkpoint: a held event does not decode: " +
                                decoder_->detail());
    }
    push(ts, rec, event, keyed_event(event) ? KeyIndex::hash(event.store, event.sku) : 0);
  }
  return Status::ok();
}

}  // namespace sw
