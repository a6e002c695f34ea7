#pragma once
// The dedup window (DESIGN.md §5): the event_id hashes of the most recent `capacity` events a
// task accepted, as a ring (insertion order, for eviction and checkpoints) plus a HashSlots set
// (membership). An id is a duplicate while it is in the window; the capacity-th insertion
// after it evicts it.
//
// Ownership: owned by its Task; the memory (8 bytes per ring entry plus the set's slots) is
// allocated once at construction. Threading: task thread only. Checkpoints: snapshot() writes
// the ids inserted since the previous snapshot as one chunk (namespace "dedup", key = be64
// insertion number of its first id) and removes chunks whose ids have all left the window;
// restore() replays the chunks in order, so the window after a restart equals the one of an
// uninterrupted run. Failures: restore() returns the store's error; nothing else fails.
// Capacity 0 disables deduplication (seen_before() is always false, nothing is persisted).

#include <cstdint>
#include <utility>
#include <vector>

#include "stream/hash_slots.h"
#include "stream/huge_pages.h"
#include "stream/state_store.h"
#include "stream/status.h"

namespace sw {

class DedupWindow {
 public:
  explicit DedupWindow(size_t capacity);

  size_t capacity() const { return capacity_; }
  //! Ids inserted so far (live and restored), evicted ones included.
  uint64_t total() const { return total_; }

  //! True if `h` is in the window; otherwise inserts it (evicting the oldest id when full).
  bool seen_before(uint64_t h) {
    if (capacity_ == 0) return false;
    if (set_.contains(h)) return true;
    remember(h);
    return false;
  }
  //! Inserts `h` as the newest id (live processing and checkpoint restore alike).
  void remember(uint64_t h) {
    // The slot of the id this insertion evicts was warmed by the task (touch_evictions).
    const size_t slot = total_ % capacity_;
    if (total_ >= capacity_) set_.erase(ring_[slot]);
    ring_[slot] = h;
    set_.insert(h);
    ++total_;
  }

  //! Cache warming (huge_pages::touch) for the task's pipeline stages: the set slot of `h`.
  void touch(uint64_t h) const {
    if (capacity_ > 0) set_.touch(h);
  }
  //! Warms the set slots of the ids that insertions first..first+count-1 will evict.
  void touch_evictions(uint64_t first, size_t count) const {
    // Insertion number k (k >= capacity) evicts the id inserted at k - capacity.
    const uint64_t cap = capacity_;
    if (cap == 0) return;
    for (uint64_t k = std::max(first, cap); k < first + count; ++k) {
      if (k - cap >= total_) break;  // not inserted yet
      set_.touch_for_erase(ring_[k % cap]);
    }
  }

  //! Adds the ids inserted since the last snapshot to `batch` as one chunk and removes the
  //! chunks that fell out of the window.
  void snapshot(StateBatch& batch);
  //! Replaces the window with the one checkpointed in `store`.
  [[nodiscard]] Status restore(const StateStore& store);
  size_t memory_bytes() const { return ring_.capacity() * 8 + set_.capacity() * set_.slot_bytes(); }

 private:
  size_t capacity_;
  HugePageVector<uint64_t> ring_;
  HashSlots<NoValue> set_;
  uint64_t total_ = 0;                                 // ids ever inserted
  uint64_t persisted_ = 0;                             // ids written to checkpoints
  std::vector<std::pair<uint64_t, uint64_t>> chunks_;  // (first id no, end id no)
};

}  // namespace sw
