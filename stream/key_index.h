#pragma once
// Dense ids for (store, sku) keys. Operators keep per-key state in vectors indexed by KeyId,
// so hot state is compact and cache-friendly. Ids are assigned in first-seen order and
// persisted, so they are identical across restarts and replays.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "stream/hash_slots.h"
#include "stream/huge_pages.h"

namespace sw {

using KeyId = uint32_t;
inline constexpr KeyId kNoKey = 0xffffffffu;

class KeyIndex {
 public:
  //! Nonzero 64-bit hash of (store, sku); also the cache-warming handle for find_or_add.
  static uint64_t hash(std::string_view store, std::string_view sku);
  //! First stage: loads the hash's map slot into cache.
  void touch(uint64_t h) const { map_.touch(h); }
  //! Second stage: looks up an existing key by hash (no string check; a hint only) and
  //! loads its entry into cache. Returns kNoKey when absent.
  KeyId touch_entry(uint64_t h) const {
    const KeyId* id = map_.find(h);
    if (id == nullptr) return kNoKey;
    huge_pages::touch(&entries_[*id]);
    return *id;
  }

  //! Third stage (the key's entry is in cache by now): loads its sku name, which the
  //! exact check of find_or_add reads, into cache.
  void touch_names(KeyId id) const {
    if (id < entries_.size()) huge_pages::touch(skus_[entries_[id].sku].data());
  }

  //! Returns the key's id, adding it if new. `added` tells whether it was new.
  KeyId find_or_add(uint64_t h, std::string_view store, std::string_view sku, bool& added);
  KeyId find(std::string_view store, std::string_view sku) const;

  size_t size() const { return entries_.size(); }
  std::string_view store(KeyId id) const { return stores_[entries_[id].store]; }
  std::string_view sku(KeyId id) const { return skus_[entries_[id].sku]; }
  uint32_t store_id(KeyId id) const { return entries_[id].store; }
  uint32_t sku_id(KeyId id) const { return entries_[id].sku; }
  //! "store|sku": the Kafka record key and the human-readable key.
  std::string key_string(KeyId id) const;

  //! Interned store / sku ids (dense, first-seen order).
  uint32_t intern_store(std::string_view store);
  uint32_t intern_sku(std::string_view sku);
  uint32_t find_sku(std::string_view sku) const;  // UINT32_MAX if unknown
  size_t store_count() const { return stores_.size(); }
  size_t sku_count() const { return skus_.size(); }
  std::string_view store_name(uint32_t store_id) const { return stores_[store_id]; }
  std::string_view sku_name(uint32_t sku_id) const { return skus_[sku_id]; }
  //! Keys of one sku (for chain-wide fan-out), in id order.
  const std::vector<KeyId>& keys_of_sku(uint32_t sku_id) const { return sku_keys_[sku_id]; }

  //! Approximate heap bytes held.
  size_t memory_bytes() const;

 private:
  struct Entry {
    uint32_t store;
    uint32_t sku;
  };
  KeyId add_entry(std::string_view store, std::string_view sku);
  HashSlots<KeyId> map_;  // hash(store, sku) -> id
  // Keys whose hash collides with an earlier, different key (practically never used).
  absl::flat_hash_map<std::string, KeyId> collided_;
  HugePageVector<Entry> entries_;
  std::vector<std::string> stores_, skus_;
  absl::flat_hash_map<std::string, uint32_t> store_ids_, sku_ids_;
  std::vector<std::vector<KeyId>> sku_keys_;
};

}  // namespace sw
