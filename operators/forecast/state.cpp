#include "operators/forecast/state.h"

#include <algorithm>

namespace sw::forecast {

namespace {

// absl's heterogeneous lookup takes absl::string_view (a distinct type in Debian's build).
absl::string_view av(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// Minimal binary writer/reader for the globals blob (host byte order: checkpoints are local).
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  template <typename T>
  void pod(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void str(std::string_view s) {
    pod(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }

 private:
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  bool pod(T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (in_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool str(std::string& s) {
    uint32_t n = 0;
    if (!pod(n) || in_.size() - pos_ < n) return false;
    s.assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

std::string_view model_name(Model m) {
  switch (m) {
    case Model::kSmoothing:
      return "damped_trend_seasonal";
    case Model::kCrostonSba:
      return "croston_sba";
    case Model::kTsb:
      return "tsb";
  }
  return "unknown";
}

std::string encode_globals(const Globals& g) {
  std::string out;
  Writer w(out);
  w.pod(kGlobalsVersion);
  w.pod(g.max_event_ms);
  w.pod(g.late_sales);
  w.pod(g.censored_buckets);
  w.pod(g.spilled_sales);
  w.pod(g.overall);
  w.pod(g.overall_day);
  w.pod(static_cast<uint32_t>(g.categories.size()));
  for (size_t i = 0; i < g.categories.size(); ++i) {
    w.str(g.category_names[i]);
    w.pod(g.categories[i]);
  }
  std::vector<std::string_view> promo_skus;
  for (const auto& [sku, list] : g.promos) promo_skus.push_back(sku);
  std::sort(promo_skus.begin(), promo_skus.end());
  w.pod(static_cast<uint32_t>(promo_skus.size()));
  for (std::string_view sku : promo_skus) {
    const auto& list = g.promos.find(av(sku))->second;
    w.str(sku);
    w.pod(static_cast<uint32_t>(list.size()));
    for (const Promo& p : list) {
      w.str(p.store);
      w.pod(p.start_ms);
      w.pod(p.end_ms);
      w.pod(p.discount);
    }
  }
  return out;
}

Status decode_globals(std::string_view bytes, Globals& g) {
  Reader r(bytes);
  uint32_t version = 0;
  if (!r.pod(version)) return Status::corruption("op/forecast globals: truncated");
  if (version != kGlobalsVersion) {
    return Status::state_version("op/forecast globals: ", std::to_string(version),
                                 std::to_string(kGlobalsVersion));
  }
  uint32_t n = 0;
  bool ok = r.pod(g.max_event_ms) && r.pod(g.late_sales) && r.pod(g.censored_buckets) &&
            r.pod(g.spilled_sales) && r.pod(g.overall) && r.pod(g.overall_day) && r.pod(n);
  g.categories.clear();
  g.category_names.clear();
  g.category_ids.clear();
  for (uint32_t i = 0; ok && i < n; ++i) {
    std::string name;
    CategoryState c;
    ok = r.str(name) && r.pod(c);
    g.category_ids.emplace(name, static_cast<uint16_t>(i));
    g.category_names.push_back(std::move(name));
    g.categories.push_back(c);
  }
  ok = ok && r.pod(n);
  g.promos.clear();
  for (uint32_t i = 0; ok && i < n; ++i) {
    std::string sku;
    uint32_t count = 0;
    ok = r.str(sku) && r.pod(count);
    auto& list = g.promos[sku];
    for (uint32_t k = 0; ok && k < count; ++k) {
      Promo p;
      ok = r.str(p.store) && r.pod(p.start_ms) && r.pod(p.end_ms) && r.pod(p.discount);
      list.push_back(std::move(p));
    }
  }
  if (!ok || !r.done()) return Status::corruption("op/forecast globals: malformed");
  return Status::ok();
}

std::string record_key(char kind, uint32_t id) {
  return std::string(1, kind) + be32_key(id);
}

void encode_pool(std::string& value, uint64_t group_key, const PoolProfile& p) {
  value.clear();
  value.push_back(static_cast<char>(kStateVersion));
  value.append(reinterpret_cast<const char*>(&group_key), sizeof(uint64_t));
  value.append(reinterpret_cast<const char*>(&p), sizeof(PoolProfile));
}

Status restore_pools(const StateStore& store, std::vector<PoolProfile>& groups,
                     std::vector<uint64_t>& group_keys) {
  Status bad = Status::ok();
  SW_RETURN_IF_ERROR(
      store.scan_prefix(kNamespace, "p", [&](std::string_view key, std::string_view value) {
        if (key.size() != 5 || value.size() != 1 + sizeof(uint64_t) + sizeof(PoolProfile) ||
            static_cast<uint8_t>(value[0]) != kStateVersion) {
          bad = Status::corruption("op/forecast: malformed pool record");
          return false;
        }
        const uint32_t id = from_be32(key.substr(1));
        if (id >= groups.size()) {
          groups.resize(static_cast<size_t>(id) + 1);
          group_keys.resize(groups.size(), UINT64_MAX);
        }
        std::memcpy(&group_keys[id], value.data() + 1, sizeof(uint64_t));
        std::memcpy(&groups[id], value.data() + 1 + sizeof(uint64_t), sizeof(PoolProfile));
        return true;
      }));
  return bad;
}

Status restore_sku_categories(const StateStore& store,
                              absl::flat_hash_map<std::string, uint16_t>& out) {
  Status bad = Status::ok();
  SW_RETURN_IF_ERROR(
      store.scan_prefix(kNamespace, "s", [&](std::string_view key, std::string_view value) {
        uint16_t cat = 0;
        if (value.size() != 1 + sizeof(uint16_t) ||
            static_cast<uint8_t>(value[0]) != kStateVersion) {
          bad = Status::corruption("op/forecast: malformed sku category record");
          return false;
        }
        std::memcpy(&cat, value.data() + 1, sizeof(uint16_t));
        out.emplace(std::string(key.substr(1)), cat);
        return true;
      }));
  return bad;
}

}  // namespace sw::forecast
