#pragma once
// Event-time order of a task's applied events (DESIGN.md §4, Determinism). Accepted events
// wait here until the watermark (rounded down to Task::kReleaseStepMs) passes their event time; the
// task then applies them by (event time, payload bytes), with the timers due interleaved by time
// (stream/task.h). So the sequence the operators see is a function of the set of events the
// watermark did not pass before they arrived, not of the order they arrived in: a file with a
// delayed record, the same records over 16 partitions keyed or round-robin, a reference topic
// beside an event topic, all give the same operator calls. Equal event times are ordered by payload
// bytes: equal payloads are the same event, so which copy goes first changes nothing.
//
// A held record keeps its payload (copied, with decoding padding), its origin and its decoded
// event, whose strings are rebased into the slot's own buffer (after the payload), so the task
// applies it without decoding it again. The held records are part of the checkpoint
// (encode()/decode()), because the source positions are past them; the checkpoint keeps the
// payloads only (the format of earlier builds), and decode() decodes them again (decoding is
// pure, so the events are the same).
//
// Ownership: owned by its Task. Threading: the task thread only. Memory: one slot per held
// record, reused (a slot keeps its buffer), so steady state allocates nothing.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stream/bytes.h"
#include "stream/decoder.h"
#include "stream/event.h"
#include "stream/source.h"
#include "stream/status.h"

namespace sw {

class EventOrder {
 public:
  //! Bytes of zeros after each held payload (simdjson reads up to 64 past the end).
  static constexpr size_t kPadding = 64;
  struct Held {
    int64_t ts_ms = 0;
    int32_t partition = 0;
    int64_t offset = 0;
    int64_t line = 0;
    int64_t ingest_ms = 0;
    size_t size = 0;        // payload bytes
    uint64_t key_hash = 0;  // KeyIndex::hash(store, sku) of the event; 0 = not keyed
    Event event;            // decoded; its strings point into `buffer`
    // Payload, kPadding zero bytes, then the event's strings; reused while large enough (not
    // zero-filled: every byte up to the end of the strings is written on push).
    std::unique_ptr<char[]> buffer;
    size_t capacity = 0;
    std::string_view payload() const { return {buffer.get(), size}; }
  };
  // The event's views point into `buffer`: moving a slot (the slots' vector growing) must
  // move the buffer, whose storage then stays where it was.
  static_assert(std::is_nothrow_move_constructible_v<Held>);

  EventOrder();
  ~EventOrder();
  //! Holds `record`, decoded as `event` (an event at `ts_ms`; `key_hash` its key's hash, 0 if
  //! not keyed), until released. The event's strings are copied.
  void push(int64_t ts_ms, const RawRecord& record, const Event& event, uint64_t key_hash);
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  //! The next record in (event time, payload) order; valid until pop(). Requires !empty().
  const Held& top() const { return slots_[heap_.front().slot]; }
  void pop() { free(take()); }
  //! Takes the next record out of the order; it stays valid (at(slot)) until free(slot).
  uint32_t take();
  const Held& at(uint32_t slot) const { return slots_[slot]; }
  void free(uint32_t slot) { free_.push_back(slot); }
  //! Bytes held (slots and payload buffers).
  size_t memory_bytes() const;

  //! The held records, in no particular order (the checkpoint's "task/event_order" value):
  //! per record its time, origin and payload.
  void encode(ByteWriter& w) const;
  //! Replaces the held records with those of encode(); decodes each payload again. A payload
  //! that does not decode (or a truncated value) is a corruption.
  [[nodiscard]] Status decode(ByteReader& r);

 private:
  // A heap entry carries the event time, so sifting reads the slots only on equal times.
  struct Entry {
    int64_t ts_ms;
    uint32_t slot;
  };
  bool after(const Entry& a, const Entry& b) const;  // heap comparator: a goes after b
  Held& take_slot(uint32_t& index);
  void push_slot(int64_t ts_ms, uint32_t index);

  std::unique_ptr<Decoder> decoder_;  // decode() only (restore), made on first use
  std::vector<Held> slots_;
  std::vector<uint32_t> free_;
  std::vector<Entry> heap_;  // min-heap by (ts, payload)
};

}  // namespace sw
