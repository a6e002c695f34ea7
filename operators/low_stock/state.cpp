#include "operators/low_stock/state.h"

#include <cmath>
#include <cstring>
#include <type_traits>

#include "operators/inventory.h"
#include "stream/bytes.h"

namespace sw::low_stock {

namespace {

static_assert(sizeof(KeyState) <= 96, "keep the per-key hot state compact");

float to_f(double v) {
  return static_cast<float>(v);
}

// The persisted fields of a key's state, in record order: the fixed record (layouts 1 and
// 2) holds all of them, the compact record (layout 3) those its mask names.
template <typename Fn>
void for_each_persisted(KeyState& s, Fn&& fn) {
  fn(s.on_hand);
  fn(s.low_since_ms);
  fn(s.stockout_since_ms);
  fn(s.overstock_since_ms);
  fn(s.last_event_ms);
  fn(s.on_order);
  fn(s.demand_mean);
  fn(s.demand_var);
  fn(s.today_qty);
  fn(s.day);
  fn(s.history_days);
  fn(s.flags);
  fn(s.low_severity);
}
template <typename T>
bool all_zero_bits(const T& v) {
  unsigned char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));
  for (unsigned char b : bytes) {
    if (b != 0) return false;
  }
  return true;
}
}  // namespace

void key_bytes(KeyId id, char out[4]) {
  out[0] = static_cast<char>(id >> 24);
  out[1] = static_cast<char>(id >> 16);
  out[2] = static_cast<char>(id >> 8);
  out[3] = static_cast<char>(id);
}

KeyId key_from_bytes(std::string_view k) {
  auto b = [&](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(k[i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

void encode_state(const KeyState& state, char* out) {
  KeyState s = state;
  s.flags &= kPersistedFlags;
  BufferWriter w(out);
  for_each_persisted(s, [&](auto& field) { w.put(field); });
}

void decode_state(const char* in, KeyState& s) {
  ByteReader r(std::string_view(in, kStateRecordBytes));  // the fields fill it exactly
  for_each_persisted(s, [&](auto& field) {
    if (!r.get(field)) field = {};
  });
  s.flags &= kPersistedFlags;
}

size_t encode_compact(const KeyState& state, char* out) {
  KeyState s = state;
  s.flags &= kPersistedFlags;
  BufferWriter w(out + 2);
  uint16_t mask = 0, bit = 1;
  for_each_persisted(s, [&](auto& field) {
    if (!all_zero_bits(field)) {
      mask |= bit;
      w.put(field);
    }
    bit = static_cast<uint16_t>(bit << 1);
  });
  BufferWriter{out}.put<uint16_t>(mask);
  return 2 + w.size();
}

bool decode_compact(std::string_view v, size_t& pos, KeyState& s) {
  if (pos > v.size()) return false;
  ByteReader r(v.substr(pos));
  uint16_t mask = 0;
  if (!r.get(mask) || mask >> 13 != 0) return false;
  bool ok = true;
  uint16_t bit = 1;
  for_each_persisted(s, [&](auto& field) {
    using T = std::remove_reference_t<decltype(field)>;
    if ((mask & bit) == 0) {
      field = T{};
    } else if (!r.get(field)) {
      field = T{};
      ok = false;
    }
    bit = static_cast<uint16_t>(bit << 1);
  });
  s.flags &= kPersistedFlags;
  pos = v.size() - r.remaining();
  return ok;
}

std::string encode_item(const ItemParams& p) {
  std::string out;
  ByteWriter w(out);
  w.put<uint8_t>(kItemVersion3);
  w.put<float>(p.lead_time_days);
  w.put<float>(p.lead_time_sd_days);
  w.put<float>(p.service_level);
  w.put<float>(p.pack_size);
  w.put<float>(p.moq);
  w.put<float>(p.cost);
  w.put_string(p.category);
  w.put<float>(p.shelf_life_days);
  w.put<int8_t>(p.perishable);
  w.put_string(p.supplier);
  return out;
}

bool decode_item(std::string_view v, ItemParams& p) {
  ByteReader r(v);
  uint8_t version = 0;
  if (!r.get(version) ||
      (version != kItemVersion && version != kItemVersion2 && version != kItemVersion3)) {
    return false;
  }
  // Versions 1 and 2 prefix their strings with a u16 length, version 3 with ByteWriter's u32.
  auto get_str = [&](std::string& out) {
    return version == kItemVersion3 ? r.get_string(out) : r.get_string16(out);
  };
  p.shelf_life_days = std::numeric_limits<float>::quiet_NaN();
  p.perishable = -1;
  p.supplier.clear();
  if (!r.get(p.lead_time_days) || !r.get(p.lead_time_sd_days) || !r.get(p.service_level) ||
      !r.get(p.pack_size) || !r.get(p.moq) || !r.get(p.cost) || !get_str(p.category)) {
    return false;
  }
  if (version != kItemVersion &&
      (!r.get(p.shelf_life_days) || !r.get(p.perishable) || !get_str(p.supplier))) {
    return false;
  }
  if (!r.empty()) return false;
  p.z = std::isnan(p.service_level) ? std::numeric_limits<float>::quiet_NaN()
                                    : to_f(inventory::inverse_normal_cdf(p.service_level));
  p.present = true;
  p.dirty = false;
  return true;
}

}  // namespace sw::low_stock
