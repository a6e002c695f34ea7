#include "stream/event_order.h"

#include <algorithm>

namespace sw {

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

void EventOrder::push(int64_t ts_ms, const RawRecord& r) {
  uint32_t index;
  Held& h = take_slot(index);
  h.ts_ms = ts_ms;
  h.partition = r.partition;
  h.offset = r.offset;
  h.line = r.line;
  h.ingest_ms = r.ingest_ms;
  h.size = r.payload.size();
  h.buffer.assign(r.payload);
  h.buffer.append(kPadding, '\0');
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
  for (const Held& h : slots_) b += h.buffer.capacity();
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
  std::string payload;
  for (uint32_t i = 0; i < n; ++i) {
    RawRecord rec;
    int64_t ts;
    if (!r.get(ts) || !r.get(rec.partition) || !r.get(rec.offset) || !r.get(rec.line) ||
        !r.get(rec.ingest_ms) || !r.get_string(payload)) {
      return bad();
    }
    rec.payload = payload;
    push(ts, rec);
  }
  return Status::ok();
}

}  // namespace sw
