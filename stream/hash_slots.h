#pragma once
// Open-addressing hash table for the task's million-entry hot tables (key index, dedup
// window), keyed by an already well-mixed nonzero 64-bit hash. Linear probing with the key
// and value inline in one slot array, at most half full: a lookup touches one cache line
// (and one page) in the common case, where absl's separate control bytes cost a second
// miss and a second page walk. Deletion shifts entries back (no tombstones), so a table
// with a sliding window of keys never degrades.
//
// Not thread-safe. Key 0 marks an empty slot: it is never found, inserted or erased.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "stream/huge_pages.h"

namespace sw {

struct NoValue {};

template <typename Value>
class HashSlots {
 public:
  //! `expected` entries fit without rehashing; a full table doubles.
  explicit HashSlots(size_t expected = 0) { rehash(capacity_for(expected)); }

  //! Loads the key's home slot into cache (huge_pages::touch).
  void touch(uint64_t key) const { huge_pages::touch(&slots_[home(key)]); }
  //! For an erase: also the next cache line, which its backward shift usually reads.
  void touch_for_erase(uint64_t key) const {
    const size_t h = home(key);
    huge_pages::touch(&slots_[h]);
    huge_pages::touch(&slots_[(h + 64 / sizeof(Slot)) & mask_]);
  }

  Value* find(uint64_t key) {
    if (key == 0) return nullptr;
    for (size_t i = home(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == 0) return nullptr;
    }
  }
  const Value* find(uint64_t key) const { return const_cast<HashSlots*>(this)->find(key); }
  bool contains(uint64_t key) const { return find(key) != nullptr; }

  //! Inserts key -> value; returns false (and changes nothing) if the key is present.
  bool insert(uint64_t key, Value value = Value()) {
    if (key == 0) return false;
    if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.size() * 2);
    for (size_t i = home(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return false;
      if (slots_[i].key == 0) {
        slots_[i] = Slot{key, value};
        ++size_;
        return true;
      }
    }
  }

  //! Removes the key if present; returns whether it was.
  bool erase(uint64_t key) {
    if (key == 0) return false;
    size_t i = home(key);
    while (slots_[i].key != key) {
      if (slots_[i].key == 0) return false;
      i = (i + 1) & mask_;
    }
    // Backward shift: move later entries of the probe run into the hole when their home
    // slot is not cyclically within (hole, position].
    for (size_t j = (i + 1) & mask_; slots_[j].key != 0; j = (j + 1) & mask_) {
      const size_t h = home(slots_[j].key);
      const bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
      if (stays) continue;
      slots_[i] = slots_[j];
      i = j;
    }
    slots_[i] = Slot{};
    --size_;
    return true;
  }

  void clear() {
    for (Slot& s : slots_) s = Slot{};
    size_ = 0;
  }
  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }
  static constexpr size_t slot_bytes() { return sizeof(Slot); }

 private:
  struct Slot {
    uint64_t key = 0;
    [[no_unique_address]] Value value{};
  };
  static size_t capacity_for(size_t expected) {
    return std::bit_ceil(std::max<size_t>(16, expected * 2));
  }
  // Fibonacci hashing: the top bits of key * 2^64/phi, so any key bits spread.
  size_t home(uint64_t key) const {
    return static_cast<size_t>((key * 0x9e3779b97f4a7c15ull) >> shift_);
  }
  void rehash(size_t capacity) {
    HugePageVector<Slot> old;
    old.swap(slots_);
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    shift_ = 64 - std::countr_zero(capacity);
    size_ = 0;
    for (const Slot& s : old) {
      if (s.key == 0) continue;
      size_t i = home(s.key);
      while (slots_[i].key != 0) i = (i + 1) & mask_;
      slots_[i] = s;
      ++size_;
    }
  }

  HugePageVector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

}  // namespace sw
