#include "operators/low_stock/regional.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "operators/low_stock/workflow.h"

namespace sw::low_stock {

void InProcessRegionalStock::publish(uint32_t region, uint32_t sku_id, KeyId key, uint32_t store_id,
                                     double surplus) {
  const uint64_t s = slot(region, sku_id);
  auto it = table_.find(s);
  if (it == table_.end()) {
    if (!(surplus > 0)) return;  // nothing to spare, nothing recorded: no change
    it = table_.emplace(s, std::vector<Donor>{}).first;
  }
  std::vector<Donor>& v = it->second;
  auto d = std::find_if(v.begin(), v.end(), [&](const Donor& x) { return x.key == key; });
  if (!(surplus > 0)) {
    if (d == v.end()) return;
    v.erase(d);
    if (v.empty()) table_.erase(it);
  } else if (d == v.end()) {
    v.push_back(Donor{key, store_id, surplus});
  } else if (d->surplus == surplus) {
    return;
  } else {
    d->surplus = surplus;
  }
  dirty_.push_back(s);  // only slots that changed are written at the next checkpoint
}

bool InProcessRegionalStock::best_donor(uint32_t region, uint32_t sku_id, KeyId receiver,
                                        Donor& out) const {
  auto it = table_.find(slot(region, sku_id));
  if (it == table_.end()) return false;
  bool found = false;
  for (const Donor& d : it->second) {
    if (d.key == receiver) continue;
    if (!found || d.surplus > out.surplus ||
        (d.surplus == out.surplus && d.store_id < out.store_id)) {
      out = d;
      found = true;
    }
  }
  return found;
}

// Record key: u32 region (big-endian) + sku name; value: u8 version, u32 count, then per
// entry u32 KeyId, u32 store id, f64 surplus (little-endian host order).
void InProcessRegionalStock::snapshot(StateBatch& batch, const KeyIndex& keys) {
  std::sort(dirty_.begin(), dirty_.end());
  dirty_.erase(std::unique(dirty_.begin(), dirty_.end()), dirty_.end());
  std::string k, v;
  for (uint64_t s : dirty_) {
    const auto region = static_cast<uint32_t>(s >> 32);
    const auto sku_id = static_cast<uint32_t>(s);
    k.assign(4, '\0');
    for (int i = 0; i < 4; ++i)
      k[static_cast<size_t>(i)] = static_cast<char>(region >> (24 - 8 * i));
    k += keys.sku_name(sku_id);
    auto it = table_.find(s);
    if (it == table_.end()) {
      batch.remove(kRegionalNs, k);
      continue;
    }
    v.assign(1, static_cast<char>(1));
    const auto n = static_cast<uint32_t>(it->second.size());
    v.append(reinterpret_cast<const char*>(&n), 4);
    for (const Donor& d : it->second) {
      v.append(reinterpret_cast<const char*>(&d.key), 4);
      v.append(reinterpret_cast<const char*>(&d.store_id), 4);
      v.append(reinterpret_cast<const char*>(&d.surplus), 8);
    }
    batch.put(kRegionalNs, k, v);
  }
  dirty_.clear();
}

Status InProcessRegionalStock::restore(const StateStore& store, const KeyIndex& keys) {
  table_.clear();
  dirty_.clear();
  std::string bad;
  SW_RETURN_IF_ERROR(
      store.scan_prefix(kRegionalNs, "", [&](std::string_view k, std::string_view v) {
        uint32_t n = 0;
        if (k.size() < 4 || v.size() < 5 || v[0] != 1 ||
            (std::memcpy(&n, v.data() + 1, 4), v.size() != 5 + static_cast<size_t>(n) * 16)) {
          bad = "low_stock regional record has an unknown layout";
          return false;
        }
        uint32_t region = 0;
        for (int i = 0; i < 4; ++i)
          region = (region << 8) | static_cast<unsigned char>(k[static_cast<size_t>(i)]);
        const uint32_t sku_id = keys.find_sku(k.substr(4));
        if (sku_id == UINT32_MAX) return true;  // no key of the sku left in the index
        std::vector<Donor>& out = table_[slot(region, sku_id)];
        for (uint32_t i = 0; i < n; ++i) {
          Donor d;
          std::memcpy(&d.key, v.data() + 5 + i * 16, 4);
          std::memcpy(&d.store_id, v.data() + 9 + i * 16, 4);
          std::memcpy(&d.surplus, v.data() + 13 + i * 16, 8);
          out.push_back(d);
        }
        return true;
      }));
  if (!bad.empty()) return Status::corruption(bad);
  return Status::ok();
}

size_t InProcessRegionalStock::memory_bytes() const {
  size_t b = table_.capacity() * (sizeof(uint64_t) + sizeof(std::vector<Donor>));
  for (const auto& [k, v] : table_) b += v.capacity() * sizeof(Donor);
  return b;
}

}  // namespace sw::low_stock
