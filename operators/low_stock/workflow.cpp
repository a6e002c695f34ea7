#include "operators/low_stock/workflow.h"

#include <type_traits>

#include "stream/bytes.h"

namespace sw::low_stock {

bool Flow::empty(int64_t now_ms) const {
  if (!orders.empty() || !lots.empty() || expiry_since_ms >= 0 || transfer_since_ms >= 0) {
    return false;
  }
  for (int64_t q : quiet_until) {
    if (q > now_ms) return false;
  }
  return true;
}

std::string encode_flow(const Flow& f) {
  std::string s;
  ByteWriter o(s);
  o.put<uint8_t>(kFlowVersion2);
  o.put<uint32_t>(static_cast<uint32_t>(f.orders.size()));
  for (const OpenOrder& r : f.orders) {
    o.put_string(r.po_id);
    o.put_string(r.supplier);
    o.put(r.ordered);
    o.put(r.open);
    o.put(r.ordered_ms);
    o.put(r.expected_ms);
    o.put(r.overdue_since_ms);
    o.put(r.overdue_severity);
  }
  o.put<uint32_t>(static_cast<uint32_t>(f.lots.size()));
  for (const inventory::Lot& l : f.lots) {
    o.put(l.expires_ms);
    o.put(l.units);
  }
  o.put_string(f.supplier);
  o.put(f.expiry_since_ms);
  o.put(f.expiry_severity);
  o.put(f.transfer_since_ms);
  o.put<uint32_t>(f.transfer_from);
  o.put(f.transfer_qty);
  for (int64_t q : f.quiet_until) o.put(q);
  o.put(f.acked);
  return s;
}

bool decode_flow(std::string_view v, Flow& f) {
  ByteReader in(v);
  uint8_t version = 0;
  if (!in.get(version) || (version != kFlowVersion && version != kFlowVersion2)) return false;
  // Version 1 prefixes its strings with a u16 length, version 2 with ByteWriter's u32.
  auto get_str = [&](std::string& out) {
    return version == kFlowVersion2 ? in.get_string(out) : in.get_string16(out);
  };
  f = Flow{};
  uint32_t n_orders = 0;
  if (!in.get(n_orders) || n_orders > v.size()) return false;
  for (uint32_t i = 0; i < n_orders; ++i) {
    OpenOrder r;
    if (!get_str(r.po_id) || !get_str(r.supplier) || !in.get(r.ordered) || !in.get(r.open) ||
        !in.get(r.ordered_ms) || !in.get(r.expected_ms) || !in.get(r.overdue_since_ms) ||
        !in.get(r.overdue_severity)) {
      return false;
    }
    f.orders.push_back(std::move(r));
  }
  uint32_t n_lots = 0;
  if (!in.get(n_lots) || n_lots > v.size()) return false;
  for (uint32_t i = 0; i < n_lots; ++i) {
    inventory::Lot l;
    if (!in.get(l.expires_ms) || !in.get(l.units)) return false;
    f.lots.push_back(l);
  }
  static_assert(std::is_same_v<KeyId, uint32_t>, "transfer_from is a u32 in the record");
  if (!get_str(f.supplier) || !in.get(f.expiry_since_ms) || !in.get(f.expiry_severity) ||
      !in.get(f.transfer_since_ms) || !in.get(f.transfer_from) || !in.get(f.transfer_qty)) {
    return false;
  }
  for (int64_t& q : f.quiet_until) {
    if (!in.get(q)) return false;
  }
  return in.get(f.acked) && in.empty();
}

std::string encode_lead(const inventory::LeadStats& st) {
  std::string s;
  ByteWriter o(s);
  o.put<uint8_t>(kLeadVersion);
  o.put(st.n);
  o.put(st.mean);
  o.put(st.m2);
  return s;
}

bool decode_lead(std::string_view v, inventory::LeadStats& st) {
  ByteReader in(v);
  uint8_t version = 0;
  return in.get(version) && version == kLeadVersion && in.get(st.n) && in.get(st.mean) &&
         in.get(st.m2) && in.empty();
}

std::string encode_budget(const Budget& b) {
  std::string s;
  ByteWriter o(s);
  o.put<uint8_t>(kBudgetVersion);
  o.put(b.day);
  o.put(b.spent);
  return s;
}

bool decode_budget(std::string_view v, Budget& b) {
  ByteReader in(v);
  uint8_t version = 0;
  b.dirty = false;
  return in.get(version) && version == kBudgetVersion && in.get(b.day) && in.get(b.spent) &&
         in.empty();
}

}  // namespace sw::low_stock
