#include "operators/low_stock/state.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "operators/inventory.h"

namespace sw::low_stock {

namespace {

static_assert(sizeof(KeyState) <= 96, "keep the per-key hot state compact");

// Little-endian fixed-layout writer/reader for the persisted records.
struct Writer {
  char* p;
  template <typename T>
  void put(T v) {
    unsigned char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    if constexpr (std::endian::native == std::endian::big) std::reverse(bytes, bytes + sizeof(T));
    std::memcpy(p, bytes, sizeof(T));
    p += sizeof(T);
  }
};

struct Reader {
  std::string_view v;
  size_t pos = 0;
  bool ok = true;
  template <typename T>
  T get() {
    T out{};
    if (pos + sizeof(T) > v.size()) {
      ok = false;
      return out;
    }
    unsigned char bytes[sizeof(T)];
    std::memcpy(bytes, v.data() + pos, sizeof(T));
    if constexpr (std::endian::native == std::endian::big) std::reverse(bytes, bytes + sizeof(T));
    std::memcpy(&out, bytes, sizeof(T));
    pos += sizeof(T);
    return out;
  }
};

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
  Writer w{out};
  for_each_persisted(s, [&](auto& field) { w.put(field); });
}

void decode_state(const char* in, KeyState& s) {
  Reader r{std::string_view(in, kStateRecordBytes)};
  for_each_persisted(
      s, [&](auto& field) { field = r.get<std::remove_reference_t<decltype(field)>>(); });
  s.flags &= kPersistedFlags;
}

size_t encode_compact(const KeyState& state, char* out) {
  KeyState s = state;
  s.flags &= kPersistedFlags;
  Writer w{out + 2};
  uint16_t mask = 0, bit = 1;
  for_each_persisted(s, [&](auto& field) {
    if (!all_zero_bits(field)) {
      mask |= bit;
      w.put(field);
    }
    bit = static_cast<uint16_t>(bit << 1);
  });
  Writer{out}.put<uint16_t>(mask);
  return static_cast<size_t>(w.p - out);
}

bool decode_compact(std::string_view v, size_t& pos, KeyState& s) {
  Reader r{v, pos};
  const auto mask = r.get<uint16_t>();
  if (!r.ok || mask >> 13 != 0) return false;
  uint16_t bit = 1;
  for_each_persisted(s, [&](auto& field) {
    using T = std::remove_reference_t<decltype(field)>;
    field = (mask & bit) != 0 ? r.get<T>() : T{};
    bit = static_cast<uint16_t>(bit << 1);
  });
  s.flags &= kPersistedFlags;
  pos = r.pos;
  return r.ok;
}

std::string encode_item(const ItemParams& p) {
  const size_t n = std::min<size_t>(p.category.size(), 65535);
  const size_t m = std::min<size_t>(p.supplier.size(), 65535);
  std::string out(1 + 6 * sizeof(float) + 2 + n + sizeof(float) + 1 + 2 + m, '\0');
  Writer w{out.data()};
  w.put<uint8_t>(kItemVersion2);
  w.put<float>(p.lead_time_days);
  w.put<float>(p.lead_time_sd_days);
  w.put<float>(p.service_level);
  w.put<float>(p.pack_size);
  w.put<float>(p.moq);
  w.put<float>(p.cost);
  w.put<uint16_t>(static_cast<uint16_t>(n));
  std::memcpy(w.p, p.category.data(), n);
  w.p += n;
  w.put<float>(p.shelf_life_days);
  w.put<int8_t>(p.perishable);
  w.put<uint16_t>(static_cast<uint16_t>(m));
  std::memcpy(w.p, p.supplier.data(), m);
  return out;
}

bool decode_item(std::string_view v, ItemParams& p) {
  Reader r{v};
  const auto version = r.get<uint8_t>();
  if (version != kItemVersion && version != kItemVersion2) return false;
  p.lead_time_days = r.get<float>();
  p.lead_time_sd_days = r.get<float>();
  p.service_level = r.get<float>();
  p.pack_size = r.get<float>();
  p.moq = r.get<float>();
  p.cost = r.get<float>();
  uint16_t n = r.get<uint16_t>();
  if (!r.ok || r.pos + n > v.size()) return false;
  p.category.assign(v.data() + r.pos, n);
  r.pos += n;
  p.shelf_life_days = std::numeric_limits<float>::quiet_NaN();
  p.perishable = -1;
  p.supplier.clear();
  if (version == kItemVersion2) {
    p.shelf_life_days = r.get<float>();
    p.perishable = r.get<int8_t>();
    uint16_t m = r.get<uint16_t>();
    if (!r.ok || r.pos + m > v.size()) return false;
    p.supplier.assign(v.data() + r.pos, m);
    r.pos += m;
  }
  if (!r.ok || r.pos != v.size()) return false;
  p.z = std::isnan(p.service_level) ? std::numeric_limits<float>::quiet_NaN()
                                    : to_f(inventory::inverse_normal_cdf(p.service_level));
  p.present = true;
  p.dirty = false;
  return true;
}

}  // namespace sw::low_stock
