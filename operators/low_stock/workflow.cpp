#include "operators/low_stock/workflow.h"

#include <algorithm>
#include <cstring>

namespace sw::low_stock {

namespace {

// Little-endian appender/reader of the workflow records (host order is little-endian on
// every supported platform; the state records of state.cpp assert the same).
struct Out {
  std::string& s;
  template <typename T>
  void put(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    s.append(b, sizeof(T));
  }
  void str(std::string_view v) {
    put<uint16_t>(static_cast<uint16_t>(std::min<size_t>(v.size(), 65535)));
    s.append(v.data(), std::min<size_t>(v.size(), 65535));
  }
};

struct In {
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
    std::memcpy(&out, v.data() + pos, sizeof(T));
    pos += sizeof(T);
    return out;
  }
  std::string str() {
    const auto n = get<uint16_t>();
    if (!ok || pos + n > v.size()) {
      ok = false;
      return {};
    }
    std::string out(v.substr(pos, n));
    pos += n;
    return out;
  }
};

}  // namespace

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
  Out o{s};
  o.put<uint8_t>(kFlowVersion);
  o.put<uint32_t>(static_cast<uint32_t>(f.orders.size()));
  for (const OpenOrder& r : f.orders) {
    o.str(r.po_id);
    o.str(r.supplier);
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
  o.str(f.supplier);
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
  In in{v};
  if (in.get<uint8_t>() != kFlowVersion) return false;
  f = Flow{};
  const auto n_orders = in.get<uint32_t>();
  if (!in.ok || n_orders > v.size()) return false;
  for (uint32_t i = 0; i < n_orders && in.ok; ++i) {
    OpenOrder r;
    r.po_id = in.str();
    r.supplier = in.str();
    r.ordered = in.get<double>();
    r.open = in.get<double>();
    r.ordered_ms = in.get<int64_t>();
    r.expected_ms = in.get<int64_t>();
    r.overdue_since_ms = in.get<int64_t>();
    r.overdue_severity = in.get<uint8_t>();
    f.orders.push_back(std::move(r));
  }
  const auto n_lots = in.get<uint32_t>();
  if (!in.ok || n_lots > v.size()) return false;
  for (uint32_t i = 0; i < n_lots && in.ok; ++i) {
    inventory::Lot l;
    l.expires_ms = in.get<int64_t>();
    l.units = in.get<double>();
    f.lots.push_back(l);
  }
  f.supplier = in.str();
  f.expiry_since_ms = in.get<int64_t>();
  f.expiry_severity = in.get<uint8_t>();
  f.transfer_since_ms = in.get<int64_t>();
  f.transfer_from = in.get<uint32_t>();
  f.transfer_qty = in.get<double>();
  for (int64_t& q : f.quiet_until) q = in.get<int64_t>();
  f.acked = in.get<uint8_t>();
  return in.ok && in.pos == v.size();
}

std::string encode_lead(const inventory::LeadStats& st) {
  std::string s;
  Out o{s};
  o.put<uint8_t>(kLeadVersion);
  o.put(st.n);
  o.put(st.mean);
  o.put(st.m2);
  return s;
}

bool decode_lead(std::string_view v, inventory::LeadStats& st) {
  In in{v};
  if (in.get<uint8_t>() != kLeadVersion) return false;
  st.n = in.get<uint32_t>();
  st.mean = in.get<double>();
  st.m2 = in.get<double>();
  return in.ok && in.pos == v.size();
}

std::string encode_budget(const Budget& b) {
  std::string s;
  Out o{s};
  o.put<uint8_t>(kBudgetVersion);
  o.put(b.day);
  o.put(b.spent);
  return s;
}

bool decode_budget(std::string_view v, Budget& b) {
  In in{v};
  if (in.get<uint8_t>() != kBudgetVersion) return false;
  b.day = in.get<int32_t>();
  b.spent = in.get<double>();
  b.dirty = false;
  return in.ok && in.pos == v.size();
}

}  // namespace sw::low_stock
