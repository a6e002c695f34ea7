#include "stream/key_index.h"

#include <xxhash.h>

namespace sw {

uint64_t KeyIndex::hash(std::string_view store, std::string_view sku) {
  uint64_t h = XXH3_64bits_withSeed(store.data(), store.size(), 0x5157);
  h = XXH3_64bits_withSeed(sku.data(), sku.size(), h);
  return h != 0 ? h : 1;  // 0 is "no key" for the task and the empty slot for map_
}

uint32_t KeyIndex::intern_store(std::string_view store) {
  auto it = store_ids_.find(absl::string_view(store.data(), store.size()));
  if (it != store_ids_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(stores_.size());
  store_ids_.emplace(std::string(store), id);
  stores_.emplace_back(store);
  return id;
}

uint32_t KeyIndex::intern_sku(std::string_view sku) {
  auto it = sku_ids_.find(absl::string_view(sku.data(), sku.size()));
  if (it != sku_ids_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(skus_.size());
  sku_ids_.emplace(std::string(sku), id);
  skus_.emplace_back(sku);
  sku_keys_.emplace_back();
  return id;
}

uint32_t KeyIndex::find_sku(std::string_view sku) const {
  auto it = sku_ids_.find(absl::string_view(sku.data(), sku.size()));
  return it == sku_ids_.end() ? UINT32_MAX : it->second;
}

KeyId KeyIndex::add_entry(std::string_view store, std::string_view sku) {
  KeyId id = static_cast<KeyId>(entries_.size());
  entries_.push_back({intern_store(store), intern_sku(sku)});
  sku_keys_[entries_.back().sku].push_back(id);
  return id;
}

KeyId KeyIndex::find_or_add(uint64_t h, std::string_view store, std::string_view sku, bool& added) {
  added = false;
  const KeyId* found = map_.find(h);
  if (found == nullptr) {
    KeyId id = add_entry(store, sku);
    map_.insert(h, id);
    added = true;
    return id;
  }
  const Entry& e = entries_[*found];
  if (stores_[e.store] == store && skus_[e.sku] == sku) return *found;
  // Hash collision with a different key: resolve exactly through the string map.
  std::string full = std::string(store) + '\x1f' + std::string(sku);
  auto c = collided_.find(full);
  if (c != collided_.end()) return c->second;
  KeyId id = add_entry(store, sku);
  collided_.emplace(std::move(full), id);
  added = true;
  return id;
}

KeyId KeyIndex::find(std::string_view store, std::string_view sku) const {
  uint64_t h = hash(store, sku);
  const KeyId* found = map_.find(h);
  if (found == nullptr) return kNoKey;
  const Entry& e = entries_[*found];
  if (stores_[e.store] == store && skus_[e.sku] == sku) return *found;
  auto c = collided_.find(std::string(store) + '\x1f' + std::string(sku));
  return c == collided_.end() ? kNoKey : c->second;
}

std::string KeyIndex::key_string(KeyId id) const {
  std::string out(store(id));
  out += '|';
  out += sku(id);
  return out;
}

size_t KeyIndex::memory_bytes() const {
  size_t b = map_.capacity() * map_.slot_bytes() + entries_.capacity() * sizeof(Entry);
  for (const auto& s : stores_) b += sizeof(std::string) + (s.size() > 15 ? s.capacity() : 0);
  for (const auto& s : skus_) b += sizeof(std::string) + (s.size() > 15 ? s.capacity() : 0);
  b += (store_ids_.capacity() + sku_ids_.capacity()) * (sizeof(std::string) + 5);
  for (const auto& v : sku_keys_) b += sizeof(v) + v.capacity() * sizeof(KeyId);
  return b;
}

}  // namespace sw
