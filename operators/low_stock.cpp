#include "operators/low_stock.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numbers>
#include <type_traits>

#include "stream/bytes.h"
#include "stream/calendar.h"
#include "stream/config.h"
#include "stream/json_writer.h"

namespace sw {

namespace inventory {

double normal_cdf(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0));
}

double inverse_normal_cdf(double p) {
  if (!(p > 0.0) || !(p < 1.0)) {
    if (p == 0.0) return -std::numeric_limits<double>::infinity();
    if (p == 1.0) return std::numeric_limits<double>::infinity();
    return std::numeric_limits<double>::quiet_NaN();
  }
  // Peter J. Acklam's rational approximation (relative error < 1.15e-9).
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double kLow = 0.02425;
  double x;
  if (p < kLow) {
    double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - kLow) {
    double q = p - 0.5;
    double r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    double q = std::sqrt(-2 * std::log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  // One Halley step against the exact CDF brings it to full double precision.
  double e = normal_cdf(x) - p;
  double u = e * std::sqrt(2 * std::numbers::pi) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

double safety_stock(double z, double d, double sd, double lead, double lead_sd) {
  return z * std::sqrt(lead * sd * sd + d * d * lead_sd * lead_sd);
}

double reorder_point(double z, double d, double sd, double lead, double lead_sd) {
  return d * lead + safety_stock(z, d, sd, lead, lead_sd);
}

double order_up_to(double z, double d, double sd, double lead, double lead_sd, double review) {
  double t = lead + review;
  return d * t + z * std::sqrt(t * sd * sd + d * d * lead_sd * lead_sd);
}

double order_quantity(double order_up_to_level, double position, double moq, double pack) {
  double need = order_up_to_level - position;
  if (!(need > 0)) return 0;
  double q = std::max(moq, need);
  if (!(pack > 0)) pack = 1;
  // Tolerate float noise so that 24.0000000001 does not round up to the next pack.
  return std::ceil(q / pack - 1e-9) * pack;
}

double stockout_probability(double on_hand, double mean, double var) {
  if (on_hand < 0) return 1;
  if (!(mean > 0)) return 0;
  if (mean < 10) {
    // Poisson(mean): P(X > floor(on_hand)) = 1 - sum_{k <= n} e^-m m^k / k!.
    double n = std::floor(on_hand);
    double term = std::exp(-mean), cdf = 0;
    for (double k = 0; k <= n; ++k) {
      cdf += term;
      if (k > mean && term < 1e-17) break;
      term *= mean / (k + 1);
    }
    return std::clamp(1 - cdf, 0.0, 1.0);
  }
  if (!(var > 0)) return on_hand < mean ? 1 : 0;
  return 1 - normal_cdf((on_hand - mean) / std::sqrt(var));
}

}  // namespace inventory

namespace {

constexpr uint8_t kInventoryKnown = 1;
constexpr uint8_t kCensoredToday = 2;
constexpr uint8_t kDirty = 4;
constexpr uint8_t kHasOverride = 8;
constexpr uint8_t kStockoutOpen = 16;
constexpr uint8_t kOverstockOpen = 32;
constexpr uint8_t kDemandInit = 64;
constexpr uint8_t kPersistedFlags = 0xff & ~kDirty;

constexpr uint8_t kStateVersion = 1;         // one key per entry (read for migration only)
constexpr uint8_t kStateBlockVersion = 2;    // base: fixed records of consecutive keys (read only)
constexpr uint8_t kStateLogVersion = 2;      // log: (u32 KeyId, fixed record) (read only)
constexpr uint8_t kCompactBlockVersion = 3;  // base: compact records of consecutive keys
constexpr uint8_t kCompactLogVersion = 3;    // log: (u32 KeyId, compact record)
constexpr uint8_t kItemVersion = 1;
constexpr int64_t kDayMs = 86'400'000;
// Missing days folded one by one beyond this many change nothing measurable.
constexpr int kMaxFoldedGap = 2000;

static_assert(sizeof(LowStockOperator::KeyState) <= 96, "keep the per-key hot state compact");

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

// Appends "3", "2.5" or "unlimited": readable numbers for summaries (one decimal at most).
void append_num(std::string& out, double v) {
  if (std::isinf(v)) {
    out += "unlimited";
    return;
  }
  double r = std::round(v * 10) / 10;
  if (r == 0) r = 0;  // no "-0"
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, r, std::chars_format::fixed, 1);
  char* end = res.ptr;
  if (end - buf >= 2 && end[-1] == '0' && end[-2] == '.') end -= 2;
  out.append(buf, end);
}

// Appends pieces: strings as they are, numbers through append_num().
void append_all(std::string&) {}
template <typename T, typename... Rest>
void append_all(std::string& out, const T& first, const Rest&... rest) {
  if constexpr (std::is_arithmetic_v<T>) {
    append_num(out, static_cast<double>(first));
  } else {
    out += first;
  }
  append_all(out, rest...);
}

// Like round_to(), without pow(): evidence values are rendered on every alert.
double rounded(double v, int digits) {
  static constexpr double kScale[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
  if (!std::isfinite(v)) return v;
  return std::round(v * kScale[digits]) / kScale[digits];
}

uint64_t fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace

LowStockOperator::LowStockOperator(const Config& config) {
  const std::string p = "operators.low_stock.";
  Settings& s = settings_;
  s.service_level = config.get_double(p + "service_level", 0.95, 0.5, 0.9999);
  s.default_lead_time_days = config.get_double(p + "default_lead_time_days", 7, 0, 365);
  s.default_lead_time_sd_days = config.get_double(p + "default_lead_time_sd_days", 1, 0, 365);
  s.review_period_days = config.get_double(p + "review_period_days", 7, 0, 365);
  s.overstock_days = config.get_double(p + "overstock_days", 90, 1, 3650);
  double half_life = config.get_double(p + "demand_half_life_days", 14, 0.5, 3650);
  s.demand_alpha = 1 - std::pow(0.5, 1 / half_life);
  if (config.has(p + "demand_alpha")) {
    s.demand_alpha = config.get_double(p + "demand_alpha", s.demand_alpha, 0.001, 1);
  }
  s.low_stock_clear_margin = config.get_double(p + "low_stock_clear_margin", 0.10, 0, 10);
  s.overstock_clear_margin = config.get_double(p + "overstock_clear_margin", 0.10, 0, 0.99);
  s.min_history_days = config.get_int(p + "min_history_days", 7, 0, 3650);
  s.min_demand_per_day = config.get_double(p + "min_demand_per_day", 0.1, 0, 1e9);
  s.stockout_clear_units = config.get_double(p + "stockout_clear_units", 1, 0, 1e9);
  default_z_ = inventory::inverse_normal_cdf(s.service_level);
}

uint32_t LowStockOperator::subscriptions() const {
  return (1u << static_cast<int>(EventType::kSale)) | (1u << static_cast<int>(EventType::kReturn)) |
         (1u << static_cast<int>(EventType::kInventory)) |
         (1u << static_cast<int>(EventType::kItem)) | (1u << static_cast<int>(EventType::kPrice));
}

std::string LowStockOperator::alert_id(std::string_view type, std::string_view store,
                                       std::string_view sku, int64_t since_ms) {
  uint64_t h = 0xcbf29ce484222325ull;
  h = fnv1a(h, type);
  h = fnv1a(h, std::string_view("\x1f", 1));
  h = fnv1a(h, store);
  h = fnv1a(h, std::string_view("\x1f", 1));
  h = fnv1a(h, sku);
  h = fnv1a(h, std::string_view("\x1f", 1));
  char t[24];
  auto r = std::to_chars(t, t + sizeof t, since_ms);
  h = fnv1a(h, std::string_view(t, static_cast<size_t>(r.ptr - t)));
  // Final avalanche (splitmix64) so that nearby times give unrelated ids.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) id[static_cast<size_t>(i)] = kHex[h & 0xf];
  return id;
}

LowStockOperator::KeyState& LowStockOperator::touch(KeyId key, const OperatorContext& ctx) {
  if (key >= states_.size()) states_.resize(std::max<size_t>(key + 1, ctx.keys().size()));
  return states_[key];
}

void LowStockOperator::mark_dirty(KeyId key, KeyState& s) {
  if (s.flags & kDirty) return;
  s.flags |= kDirty;
  dirty_.push_back(key);
}

LowStockOperator::ItemParams* LowStockOperator::sku_item(uint32_t sku_id) {
  return sku_id < sku_items_.size() && sku_items_[sku_id].present ? &sku_items_[sku_id] : nullptr;
}

const LowStockOperator::ItemParams* LowStockOperator::sku_item(uint32_t sku_id) const {
  return sku_id < sku_items_.size() && sku_items_[sku_id].present ? &sku_items_[sku_id] : nullptr;
}

const LowStockOperator::ItemParams* LowStockOperator::override_item(KeyId key) const {
  auto it = overrides_.find(key);
  return it == overrides_.end() ? nullptr : &it->second;
}

void LowStockOperator::adopt_pending(uint32_t sku_id) {
  if (pending_items_.empty() || keys_ == nullptr) return;
  auto it = pending_items_.find(std::string(keys_->sku_name(sku_id)));
  if (it == pending_items_.end()) return;
  if (sku_id >= sku_items_.size()) {
    sku_items_.resize(std::max<size_t>(sku_id + 1, keys_->sku_count()));
  }
  if (!sku_items_[sku_id].present) sku_items_[sku_id] = std::move(it->second);
  pending_items_.erase(it);
  // Same name, same store key: rewriting it from the sku table is idempotent.
  if (!sku_items_[sku_id].dirty) {
    sku_items_[sku_id].dirty = true;
    dirty_skus_.push_back(sku_id);
  }
}

void LowStockOperator::fold_day(KeyState& s, double qty, bool censored) {
  // Censored day (the key was out of stock at some point): observed sales are a lower bound
  // of demand, so they may raise the estimate but never lower it.
  if (censored && (!(s.flags & kDemandInit) || qty <= s.demand_mean)) return;
  if (!(s.flags & kDemandInit)) {
    s.demand_mean = to_f(qty);
    s.demand_var = to_f(qty);  // Poisson-like prior: variance = mean until more days arrive
    s.flags |= kDemandInit;
    return;
  }
  // West's incremental exponentially weighted mean and variance.
  const double a = settings_.demand_alpha;
  double mean = s.demand_mean, var = s.demand_var;
  double diff = qty - mean;
  double incr = a * diff;
  mean += incr;
  var = (1 - a) * (var + diff * incr);
  s.demand_mean = to_f(mean);
  s.demand_var = to_f(std::max(var, 0.0));
}

void LowStockOperator::roll_to(KeyState& s, int32_t day) {
  const bool out_now = (s.flags & kInventoryKnown) && s.on_hand <= 0;
  if (s.day == KeyState::kNoDay) {
    s.day = day;
    s.today_qty = 0;
    if (out_now) s.flags |= kCensoredToday;
    return;
  }
  if (day <= s.day) return;  // same day, or an older event: counts toward the open day
  fold_day(s, s.today_qty, s.flags & kCensoredToday);
  // Days without events: zero demand while in stock; censored (skipped) while out of stock.
  const int64_t gap = static_cast<int64_t>(day) - s.day - 1;
  if (gap > 0 && !out_now) {
    const int n = static_cast<int>(std::min<int64_t>(gap, kMaxFoldedGap));
    for (int i = 0; i < n; ++i) fold_day(s, 0, false);
  }
  int64_t hist = static_cast<int64_t>(s.history_days) + (static_cast<int64_t>(day) - s.day);
  s.history_days = static_cast<uint16_t>(std::min<int64_t>(hist, 65535));
  s.day = day;
  s.today_qty = 0;
  s.flags = static_cast<uint8_t>((s.flags & ~kCensoredToday) | (out_now ? kCensoredToday : 0));
}

void LowStockOperator::on_event(const Event& e, KeyId key, OperatorContext& ctx) {
  keys_ = &ctx.keys();
  if (!(subscriptions() & (1u << static_cast<int>(e.type)))) return;
  if (e.type == EventType::kItem || e.type == EventType::kPrice) {
    handle_item(e, key, ctx);
    return;
  }
  if (key == kNoKey) return;
  const KeyIndex& keys = ctx.keys();
  KeyState& s = touch(key, ctx);
  // evaluate() reads the sku's item record; the task's prefetch_related() warmed it.
  const uint32_t sku_id = keys.sku_id(key);
  if (s.day == KeyState::kNoDay) adopt_pending(sku_id);
  const LocalDay& ld = ctx.calendar().day(keys.store_id(key), keys.store(key), e.ts_ms);
  roll_to(s, ld.day);
  switch (e.type) {
    case EventType::kSale:
      s.on_hand -= e.qty;
      s.today_qty = to_f(s.today_qty + e.qty);
      break;
    case EventType::kReturn:
      if (e.restock) s.on_hand += e.qty;
      break;
    case EventType::kInventory:
      s.flags |= kInventoryKnown;
      switch (e.inventory_kind) {
        case InventoryKind::kSnapshot:
          s.on_hand = e.qty;
          break;
        case InventoryKind::kReceipt:
        case InventoryKind::kTransferIn:
          s.on_hand += e.qty;
          break;
        case InventoryKind::kTransferOut:
          s.on_hand -= e.qty;
          break;
        case InventoryKind::kAdjustment:
          s.on_hand += e.qty;
          break;
      }
      if (is_set(e.on_order)) s.on_order = to_f(e.on_order);
      break;
    default:
      return;
  }
  if ((s.flags & kInventoryKnown) && s.on_hand <= 0) s.flags |= kCensoredToday;
  if (e.ts_ms > s.last_event_ms) s.last_event_ms = e.ts_ms;
  mark_dirty(key, s);
  evaluate(key, s, e.ts_ms, ctx);
}

LowStockOperator::ItemParams* LowStockOperator::item_for_update(const Event& e, KeyId key,
                                                                OperatorContext& ctx) {
  const KeyIndex& keys = ctx.keys();
  if (!e.store.empty()) {
    if (key == kNoKey) key = keys.find(e.store, e.sku);
    if (key == kNoKey) return nullptr;  // store-specific record for a key the task did not route
    KeyState& s = touch(key, ctx);
    s.flags |= kHasOverride;
    mark_dirty(key, s);
    ItemParams& p = overrides_[key];
    p.present = true;
    if (!p.dirty) {
      p.dirty = true;
      dirty_overrides_.push_back(key);
    }
    return &p;
  }
  uint32_t sku_id = keys.find_sku(e.sku);
  if (sku_id == UINT32_MAX) {
    ItemParams& p = pending_items_[std::string(e.sku)];
    p.present = true;
    p.sku = std::string(e.sku);
    pending_dirty_ = true;
    return &p;
  }
  if (sku_id >= sku_items_.size()) {
    sku_items_.resize(std::max<size_t>(sku_id + 1, keys.sku_count()));
  }
  adopt_pending(sku_id);  // a record that arrived before the sku was known comes first
  ItemParams& p = sku_items_[sku_id];
  if (!p.present) {
    p.present = true;
    p.sku = std::string(e.sku);
  }
  if (!p.dirty) {
    p.dirty = true;
    dirty_skus_.push_back(sku_id);
  }
  return &p;
}

void LowStockOperator::handle_item(const Event& e, KeyId key, OperatorContext& ctx) {
  if (e.type == EventType::kPrice && !is_set(e.cost)) return;  // only cost matters here
  ItemParams* p = item_for_update(e, key, ctx);
  if (p == nullptr) return;
  if (e.type == EventType::kPrice) {
    p->cost = to_f(e.cost);
    return;
  }
  apply_item(*p, e);
}

void LowStockOperator::apply_item(ItemParams& p, const Event& e) {
  const ItemFields& f = e.item;
  if (!f.category.empty()) p.category = std::string(f.category);
  if (is_set(f.cost)) p.cost = to_f(f.cost);
  if (is_set(f.lead_time_days)) p.lead_time_days = to_f(f.lead_time_days);
  if (is_set(f.lead_time_sd_days)) p.lead_time_sd_days = to_f(f.lead_time_sd_days);
  if (is_set(f.service_level) && f.service_level > 0 && f.service_level < 1) {
    p.service_level = to_f(f.service_level);
    p.z = to_f(inventory::inverse_normal_cdf(p.service_level));
  }
  if (is_set(f.pack_size)) p.pack_size = to_f(f.pack_size);
  if (is_set(f.moq)) p.moq = to_f(f.moq);
}

LowStockOperator::Plan LowStockOperator::plan(KeyId key, int64_t now_ms,
                                              const OperatorContext* ctx) const {
  Plan p;
  const KeyState& s = states_[key];
  const ItemParams* ov = (s.flags & kHasOverride) ? override_item(key) : nullptr;
  const ItemParams* it = keys_ != nullptr ? sku_item(keys_->sku_id(key)) : nullptr;
  auto pick = [&](float ItemParams::*field, double def) -> double {
    if (ov != nullptr && !std::isnan(ov->*field)) return ov->*field;
    if (it != nullptr && !std::isnan(it->*field)) return it->*field;
    return def;
  };
  p.lead = pick(&ItemParams::lead_time_days, settings_.default_lead_time_days);
  p.lead_sd = pick(&ItemParams::lead_time_sd_days, settings_.default_lead_time_sd_days);
  p.service_level = pick(&ItemParams::service_level, settings_.service_level);
  p.z = pick(&ItemParams::z, default_z_);
  p.pack = pick(&ItemParams::pack_size, 1);
  p.moq = pick(&ItemParams::moq, 0);
  p.cost = pick(&ItemParams::cost, std::numeric_limits<double>::quiet_NaN());
  p.review = settings_.review_period_days;
  p.on_hand = s.on_hand;
  p.on_order = s.on_order;
  p.position = p.on_hand + p.on_order;
  p.inventory_known = (s.flags & kInventoryKnown) != 0;

  DemandEstimate est;
  const DemandView* view = ctx != nullptr ? ctx->views().demand : nullptr;
  if (view != nullptr && view->demand(key, now_ms, p.lead, p.on_hand, est)) {
    p.from_view = true;
    p.enough_history = true;
    p.demand = est.mean_per_day;
    p.demand_sd = est.sd_per_day;
    p.lead_demand_mean = est.total_mean;
    p.lead_demand_var = est.total_sd * est.total_sd + p.demand * p.demand * p.lead_sd * p.lead_sd;
    p.safety_stock = p.z * std::sqrt(p.lead_demand_var);
    p.reorder_point = p.lead_demand_mean + p.safety_stock;
    if (est.cover_days >= 0) {
      p.cover_days = est.cover_days;
    } else {
      p.cover_days = p.on_hand <= 0 ? 0
                     : p.demand > 0 ? p.on_hand / p.demand
                                    : std::numeric_limits<double>::infinity();
    }
    return p;
  }
  p.enough_history = s.history_days >= settings_.min_history_days;
  p.demand = (s.flags & kDemandInit) ? s.demand_mean : 0.0;
  p.demand_sd = (s.flags & kDemandInit) ? std::sqrt(static_cast<double>(s.demand_var)) : 0.0;
  p.lead_demand_mean = p.demand * p.lead;
  p.lead_demand_var =
      p.lead * p.demand_sd * p.demand_sd + p.demand * p.demand * p.lead_sd * p.lead_sd;
  p.safety_stock = inventory::safety_stock(p.z, p.demand, p.demand_sd, p.lead, p.lead_sd);
  p.reorder_point = p.lead_demand_mean + p.safety_stock;
  p.cover_days = p.on_hand <= 0 ? 0
                 : p.demand > 0 ? p.on_hand / p.demand
                                : std::numeric_limits<double>::infinity();
  return p;
}

void LowStockOperator::evaluate(KeyId key, KeyState& s, int64_t ts, OperatorContext& ctx) {
  if (!(s.flags & kInventoryKnown)) return;
  const Plan p = plan(key, ts, &ctx);
  const bool has_demand = p.demand > 0 && p.demand >= settings_.min_demand_per_day;
  const bool out = p.on_hand <= 0;

  if (!(s.flags & kStockoutOpen)) {
    if (out && has_demand) {
      s.flags |= kStockoutOpen;
      s.stockout_since_ms = ts;
      emit_alert(key, s, p, "stockout", "firing", "critical", ts, ts, ctx);
    }
  } else if (!out && p.on_hand >= settings_.stockout_clear_units) {
    s.flags &= static_cast<uint8_t>(~kStockoutOpen);
    emit_alert(key, s, p, "stockout", "resolved", "critical", s.stockout_since_ms, ts, ctx);
  }

  const bool critical = p.cover_days < p.lead;
  if (s.low_severity == 0) {
    const bool may_alert = p.enough_history || (out && has_demand);
    if (may_alert && has_demand && p.position < p.reorder_point) {
      s.low_severity = critical ? 2 : 1;
      s.low_since_ms = ts;
      emit_alert(key, s, p, "low_stock", "firing", critical ? "critical" : "warning", ts, ts, ctx);
    }
  } else if (p.position > p.reorder_point * (1 + settings_.low_stock_clear_margin)) {
    const char* sev = s.low_severity == 2 ? "critical" : "warning";
    s.low_severity = 0;
    emit_alert(key, s, p, "low_stock", "resolved", sev, s.low_since_ms, ts, ctx);
  } else if (s.low_severity == 1 && critical) {
    s.low_severity = 2;  // escalation within the episode: same id, new severity
    emit_alert(key, s, p, "low_stock", "firing", "critical", s.low_since_ms, ts, ctx);
  } else if (s.low_severity == 2 &&
             p.cover_days >= p.lead * (1 + settings_.low_stock_clear_margin)) {
    s.low_severity = 1;  // de-escalation, with the same hysteresis margin as the resolution
    emit_alert(key, s, p, "low_stock", "firing", "warning", s.low_since_ms, ts, ctx);
  }

  if (!(s.flags & kOverstockOpen)) {
    if (p.enough_history && !out && p.cover_days > settings_.overstock_days) {
      s.flags |= kOverstockOpen;
      s.overstock_since_ms = ts;
      emit_alert(key, s, p, "overstock", "firing", "info", ts, ts, ctx);
    }
  } else if (p.cover_days < settings_.overstock_days * (1 - settings_.overstock_clear_margin)) {
    s.flags &= static_cast<uint8_t>(~kOverstockOpen);
    emit_alert(key, s, p, "overstock", "resolved", "info", s.overstock_since_ms, ts, ctx);
  }
}

void LowStockOperator::emit_alert(KeyId key, const KeyState& s, const Plan& p,
                                  std::string_view type, std::string_view status,
                                  std::string_view severity, int64_t since_ms, int64_t ts_ms,
                                  OperatorContext& ctx) const {
  const KeyIndex& keys = ctx.keys();
  std::string_view store = keys.store(key), sku = keys.sku(key);
  const double up_to =
      inventory::order_up_to(p.z, p.demand, p.demand_sd, p.lead, p.lead_sd, p.review);
  const double order_qty = inventory::order_quantity(up_to, p.position, p.moq, p.pack);
  const bool resolved = status == "resolved";

  std::string summary;
  summary.reserve(160);
  append_all(summary, sku, " at ", store, ": ");
  if (type == "low_stock") {
    if (!resolved) {
      append_all(summary, p.on_hand, " units left, ", p.cover_days, " days of cover, lead time ",
                 p.lead, " d; position ", p.position, " below reorder point ", p.reorder_point,
                 ", suggest ordering ", order_qty);
    } else {
      append_all(summary, "low stock resolved, position ", p.position, " above ",
                 p.reorder_point * (1 + settings_.low_stock_clear_margin), " (reorder point ",
                 p.reorder_point, " + margin)");
    }
  } else if (type == "stockout") {
    if (!resolved) {
      append_all(summary, "out of stock (on hand ", p.on_hand, "), demand ", p.demand,
                 "/day, suggest ordering ", order_qty);
    } else {
      append_all(summary, "back in stock, ", p.on_hand, " units on hand");
    }
  } else {
    if (!resolved) {
      append_all(summary, p.on_hand, " units, ", p.cover_days, " days of cover (limit ",
                 settings_.overstock_days, " d)");
    } else {
      append_all(summary, "overstock resolved, ", p.cover_days, " days of cover");
    }
  }

  OutputRecord rec;
  rec.stream = OutputStream::kAlerts;
  rec.key = keys.key_string(key);
  rec.id = alert_id(type, store, sku, since_ms);
  rec.type = std::string(type);
  rec.time_ms = ts_ms;
  rec.json.reserve(900);
  JsonWriter w(rec.json);
  w.begin_object();
  w.field("id", rec.id).field("type", type).field("status", status).field("severity", severity);
  w.field("store", store).field("sku", sku);
  w.key("time").time_value(ts_ms);
  w.field("summary", summary);
  w.key("details").begin_object();
  w.field("on_hand", rounded(p.on_hand, 3));
  w.field("on_order", rounded(p.on_order, 3));
  w.field("inventory_position", rounded(p.position, 3));
  w.field("days_of_cover", rounded(p.cover_days, 2));
  w.field("reorder_point", rounded(p.reorder_point, 3));
  w.field("safety_stock", rounded(p.safety_stock, 3));
  w.field("order_up_to", rounded(up_to, 3));
  w.field("suggested_order_qty", rounded(order_qty, 3));
  if (!std::isnan(p.cost)) w.field("suggested_order_cost", rounded(order_qty * p.cost, 2));
  w.field("demand_per_day", rounded(p.demand, 4));
  w.field("demand_sd", rounded(p.demand_sd, 4));
  w.field("demand_source", p.from_view ? "forecast" : "ewma");
  w.field("history_days", static_cast<int64_t>(s.history_days));
  w.field("lead_time_days", rounded(p.lead, 3));
  w.field("lead_time_sd_days", rounded(p.lead_sd, 3));
  w.field("review_period_days", rounded(p.review, 3));
  w.field("service_level", rounded(p.service_level, 4));
  w.field("pack_size", rounded(p.pack, 3));
  w.field("moq", rounded(p.moq, 3));
  w.key("projected_stockout");
  if (p.on_hand <= 0) {
    w.time_value(ts_ms);
  } else if (std::isfinite(p.cover_days)) {
    w.time_value(ts_ms + static_cast<int64_t>(std::llround(p.cover_days * kDayMs)));
  } else {
    w.null();
  }
  w.field("stockout_probability",
          rounded(inventory::stockout_probability(p.on_hand, p.lead_demand_mean, p.lead_demand_var),
                  4));
  if (type == "low_stock") {
    w.field("clear_above", rounded(p.reorder_point * (1 + settings_.low_stock_clear_margin), 3));
  } else if (type == "overstock") {
    w.field("overstock_days", settings_.overstock_days);
    w.field("excess_units",
            rounded(std::max(0.0, p.on_hand - p.demand * settings_.overstock_days), 3));
  }
  w.key("since").time_value(since_ms);
  w.end_object();
  w.field("schema_version", 1);
  w.end_object();
  ctx.emit(std::move(rec));
}

namespace {
// The persisted fields of a key's state, in record order: the fixed record (layouts 1 and
// 2) holds all of them, the compact record (layout 3) those its mask names.
template <typename Fn>
void for_each_persisted(LowStockOperator::KeyState& s, Fn&& fn) {
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
}  // namespace

void LowStockOperator::encode_state(const KeyState& state, char* out) {
  KeyState s = state;
  s.flags &= kPersistedFlags;
  Writer w{out};
  for_each_persisted(s, [&](auto& field) { w.put(field); });
}

void LowStockOperator::decode_state(const char* in, KeyState& s) {
  Reader r{std::string_view(in, kStateRecordBytes)};
  for_each_persisted(
      s, [&](auto& field) { field = r.get<std::remove_reference_t<decltype(field)>>(); });
  s.flags &= kPersistedFlags;
}

namespace {
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

size_t LowStockOperator::encode_compact(const KeyState& state, char* out) {
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

bool LowStockOperator::decode_compact(std::string_view v, size_t& pos, KeyState& s) {
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

std::string LowStockOperator::encode_item(const ItemParams& p) {
  std::string out(1 + 6 * sizeof(float) + 2 + p.category.size(), '\0');
  Writer w{out.data()};
  w.put<uint8_t>(kItemVersion);
  w.put<float>(p.lead_time_days);
  w.put<float>(p.lead_time_sd_days);
  w.put<float>(p.service_level);
  w.put<float>(p.pack_size);
  w.put<float>(p.moq);
  w.put<float>(p.cost);
  const size_t n = std::min<size_t>(p.category.size(), 65535);
  w.put<uint16_t>(static_cast<uint16_t>(n));
  std::memcpy(w.p, p.category.data(), n);
  out.resize(1 + 6 * sizeof(float) + 2 + n);
  return out;
}

bool LowStockOperator::decode_item(std::string_view v, ItemParams& p) {
  Reader r{v};
  if (r.get<uint8_t>() != kItemVersion) return false;
  p.lead_time_days = r.get<float>();
  p.lead_time_sd_days = r.get<float>();
  p.service_level = r.get<float>();
  p.pack_size = r.get<float>();
  p.moq = r.get<float>();
  p.cost = r.get<float>();
  uint16_t n = r.get<uint16_t>();
  if (!r.ok || r.pos + n != v.size()) return false;
  p.category.assign(v.data() + r.pos, n);
  p.z = std::isnan(p.service_level) ? std::numeric_limits<float>::quiet_NaN()
                                    : to_f(inventory::inverse_normal_cdf(p.service_level));
  p.present = true;
  p.dirty = false;
  return true;
}

void LowStockOperator::snapshot_base(StateBatch& batch) {
  batch.remove_prefix(kStateNs);
  batch.remove_prefix(kStateLogNs);
  char key[4];
  char value[1 + kKeysPerBlock * kCompactMaxBytes];
  value[0] = static_cast<char>(kCompactBlockVersion);
  for (size_t first = 0; first < states_.size(); first += kKeysPerBlock) {
    const size_t end = std::min<size_t>(first + kKeysPerBlock, states_.size());
    size_t n = 1;
    for (size_t id = first; id < end; ++id) {
      states_[id].flags &= static_cast<uint8_t>(~kDirty);
      n += encode_compact(states_[id], value + n);
    }
    key_bytes(static_cast<KeyId>(first), key);
    batch.put(kStateNs, std::string_view(key, 4), std::string_view(value, n));
  }
  log_records_ = 0;
}

void LowStockOperator::snapshot_log(StateBatch& batch) {
  constexpr size_t kGroup = 32;  // dirty ids are in first-touch order: overlap the misses
  const std::string group = be64_key(log_checkpoint_);  // entries sort by checkpoint, chunk
  char value[1 + kLogChunkKeys * (4 + kCompactMaxBytes)];
  value[0] = static_cast<char>(kCompactLogVersion);
  const size_t count = dirty_.size();
  for (size_t chunk = 0; chunk * kLogChunkKeys < count; ++chunk) {
    const size_t first = chunk * kLogChunkKeys;
    const size_t end = std::min(first + kLogChunkKeys, count);
    size_t n = 1;
    for (size_t i = first; i < end; ++i) {
      // Load the next group's states back to back (huge_pages::touch), so their page
      // walks overlap.
      if (i % kGroup == 0) {
        for (size_t j = i == 0 ? 0 : i + kGroup; j < std::min(count, i + 2 * kGroup); ++j) {
          huge_pages::touch(&states_[dirty_[j]]);
        }
      }
      KeyState& s = states_[dirty_[i]];
      s.flags &= static_cast<uint8_t>(~kDirty);
      key_bytes(dirty_[i], value + n);
      n += 4 + encode_compact(s, value + n + 4);
    }
    batch.put(kStateLogNs, group + be32_key(static_cast<uint32_t>(chunk)),
              std::string_view(value, n));
  }
  log_records_ += count;
  ++log_checkpoint_;
}

void LowStockOperator::snapshot(StateBatch& batch) {
  char key[4];
  if (!dirty_.empty() || rewrite_base_) {
    // The base costs one record per key: rewrite it once the log has grown that large.
    if (rewrite_base_ || log_records_ + dirty_.size() >= states_.size()) {
      snapshot_base(batch);
      rewrite_base_ = false;
    } else {
      snapshot_log(batch);
    }
    dirty_.clear();
  }
  for (uint32_t sku_id : dirty_skus_) {
    ItemParams& p = sku_items_[sku_id];
    p.dirty = false;
    batch.put(kItemNs, p.sku, encode_item(p));
  }
  dirty_skus_.clear();
  if (pending_dirty_) {
    for (auto& [name, p] : pending_items_) batch.put(kItemNs, name, encode_item(p));
    pending_dirty_ = false;
  }
  for (KeyId id : dirty_overrides_) {
    ItemParams& p = overrides_[id];
    p.dirty = false;
    key_bytes(id, key);
    batch.put(kOverrideNs, std::string_view(key, 4), encode_item(p));
  }
  dirty_overrides_.clear();
}

Status LowStockOperator::restore(const StateStore& store, OperatorContext& ctx) {
  keys_ = &ctx.keys();
  const KeyIndex& keys = ctx.keys();
  states_.clear();
  dirty_.clear();
  log_checkpoint_ = 0;
  log_records_ = 0;
  rewrite_base_ = false;
  sku_items_.clear();
  dirty_skus_.clear();
  pending_items_.clear();
  pending_dirty_ = false;
  overrides_.clear();
  dirty_overrides_.clear();
  states_.resize(keys.size());

  std::string bad;
  // The state slot of key `id`, grown on demand.
  auto slot = [&](KeyId id) -> KeyState& {
    if (id >= states_.size()) states_.resize(static_cast<size_t>(id) + 1);
    return states_[id];
  };
  auto valid = [&](const KeyState& s) {
    if (s.low_severity <= 2) return true;
    bad = "low_stock key state has low_severity " + std::to_string(s.low_severity);
    return false;
  };
  // Decodes one fixed-size record (layouts 1 and 2) into states_[id].
  auto load = [&](KeyId id, const char* record) {
    KeyState& s = slot(id);
    decode_state(record, s);
    return valid(s);
  };
  // Decodes the compact record at `pos` of `v` (layout 3) into states_[id].
  auto load_compact = [&](KeyId id, std::string_view v, size_t& pos) {
    KeyState& s = slot(id);
    if (!decode_compact(v, pos, s)) {
      bad = "low_stock compact state record is truncated";
      return false;
    }
    return valid(s);
  };
  SW_RETURN_IF_ERROR(store.scan_prefix(kStateNs, "", [&](std::string_view k, std::string_view v) {
    const uint8_t version = v.empty() ? 0 : static_cast<uint8_t>(v[0]);
    const bool compact = version == kCompactBlockVersion;
    const size_t records = v.empty() ? 0 : (v.size() - 1) / kStateRecordBytes;
    const bool block = version == kStateBlockVersion && records <= kKeysPerBlock;
    const bool single = version == kStateVersion && records == 1;
    if (k.size() != 4 ||
        (!compact && ((!block && !single) || v.size() != 1 + records * kStateRecordBytes))) {
      bad = "low_stock key state has an unknown layout (" + std::to_string(v.size()) + " bytes)";
      return false;
    }
    const KeyId first = key_from_bytes(k);
    if ((compact || block) && first % kKeysPerBlock != 0) {
      bad = "low_stock state block starts at key " + std::to_string(first);
      return false;
    }
    if (compact) {
      size_t pos = 1;
      for (KeyId id = first; pos < v.size(); ++id) {
        if (id - first == kKeysPerBlock) {
          bad = "low_stock state block holds more than " + std::to_string(kKeysPerBlock) + " keys";
          return false;
        }
        if (!load_compact(id, v, pos)) return false;
      }
      return true;
    }
    if (single) rewrite_base_ = true;
    for (size_t i = 0; i < records; ++i) {
      if (!load(first + static_cast<KeyId>(i), v.data() + 1 + i * kStateRecordBytes)) return false;
    }
    return true;
  }));
  if (!bad.empty()) return Status::corruption(bad);

  // Then the log, in checkpoint order: later records of a key replace earlier ones.
  SW_RETURN_IF_ERROR(
      store.scan_prefix(kStateLogNs, "", [&](std::string_view k, std::string_view v) {
        constexpr size_t kRecord = 4 + kStateRecordBytes;
        const uint8_t version = v.empty() ? 0 : static_cast<uint8_t>(v[0]);
        const bool compact = version == kCompactLogVersion;
        if (k.size() != 12 || (!compact && version != kStateLogVersion) ||
            (!compact && (v.size() - 1) % kRecord != 0)) {
          bad = "low_stock state log entry has an unknown layout (" + std::to_string(v.size()) +
                " bytes)";
          return false;
        }
        log_checkpoint_ = std::max(log_checkpoint_, from_be64(k.substr(0, 8)) + 1);
        for (size_t off = 1; off < v.size();) {
          if (off + 4 > v.size()) {
            bad = "low_stock state log record is truncated";
            return false;
          }
          const KeyId id = key_from_bytes(v.substr(off, 4));
          off += 4;
          if (compact) {
            if (!load_compact(id, v, off)) return false;
          } else {
            if (!load(id, v.data() + off)) return false;
            off += kStateRecordBytes;
          }
          ++log_records_;
        }
        return true;
      }));
  if (!bad.empty()) return Status::corruption(bad);

  SW_RETURN_IF_ERROR(store.scan_prefix(kItemNs, "", [&](std::string_view k, std::string_view v) {
    ItemParams p;
    if (!decode_item(v, p)) {
      bad = "low_stock item record for sku '" + std::string(k) + "' has an unknown layout";
      return false;
    }
    p.sku = std::string(k);
    uint32_t sku_id = keys.find_sku(k);
    if (sku_id == UINT32_MAX) {
      pending_items_[p.sku] = std::move(p);
    } else {
      if (sku_id >= sku_items_.size())
        sku_items_.resize(std::max<size_t>(sku_id + 1, keys.sku_count()));
      sku_items_[sku_id] = std::move(p);
    }
    return true;
  }));
  if (!bad.empty()) return Status::corruption(bad);

  SW_RETURN_IF_ERROR(
      store.scan_prefix(kOverrideNs, "", [&](std::string_view k, std::string_view v) {
        ItemParams p;
        if (k.size() != 4 || !decode_item(v, p)) {
          bad = "low_stock item override has an unknown layout";
          return false;
        }
        overrides_[key_from_bytes(k)] = std::move(p);
        return true;
      }));
  if (!bad.empty()) return Status::corruption(bad);
  return Status::ok();
}

size_t LowStockOperator::memory_bytes() const {
  size_t b = states_.capacity() * sizeof(KeyState) + dirty_.capacity() * sizeof(KeyId);
  b += sku_items_.capacity() * sizeof(ItemParams) + dirty_skus_.capacity() * sizeof(uint32_t);
  b += (overrides_.capacity() + pending_items_.capacity()) * (sizeof(ItemParams) + 40);
  b += dirty_overrides_.capacity() * sizeof(KeyId);
  return b;
}

std::string LowStockOperator::describe(KeyId key) const {
  const KeyState* s = state(key);
  if (s == nullptr || keys_ == nullptr) return "{}";
  const Plan p = plan(key, s->last_event_ms, nullptr);
  const double up_to =
      inventory::order_up_to(p.z, p.demand, p.demand_sd, p.lead, p.lead_sd, p.review);
  std::string out;
  JsonWriter w(out);
  std::string_view store = keys_->store(key), sku = keys_->sku(key);
  w.begin_object();
  w.field("store", store).field("sku", sku);
  w.field("inventory_known", (s->flags & kInventoryKnown) != 0);
  // Float-held fields are rounded so that describe() shows 2.8, not 2.799999952316284.
  w.field("on_hand", rounded(p.on_hand, 4)).field("on_order", rounded(p.on_order, 4));
  w.field("inventory_position", rounded(p.position, 4));
  w.field("demand_per_day", rounded(p.demand, 4));
  w.field("demand_sd", rounded(p.demand_sd, 4));
  w.field("demand_today", rounded(s->today_qty, 4));
  w.field("local_day", static_cast<int64_t>(s->day));
  w.field("history_days", static_cast<int64_t>(s->history_days));
  w.field("lead_time_days", rounded(p.lead, 4));
  w.field("lead_time_sd_days", rounded(p.lead_sd, 4));
  w.field("service_level", rounded(p.service_level, 4));
  w.field("pack_size", rounded(p.pack, 4)).field("moq", rounded(p.moq, 4));
  w.field("safety_stock", rounded(p.safety_stock, 4));
  w.field("reorder_point", rounded(p.reorder_point, 4));
  w.field("order_up_to", rounded(up_to, 4));
  w.field("suggested_order_qty", inventory::order_quantity(up_to, p.position, p.moq, p.pack));
  w.field("days_of_cover", rounded(p.cover_days, 4));
  w.key("last_event").time_value(s->last_event_ms);
  w.key("open_alerts").begin_array();
  auto open = [&](std::string_view type, std::string_view severity, int64_t since) {
    w.begin_object();
    w.field("type", type).field("id", alert_id(type, store, sku, since));
    w.field("severity", severity);
    w.key("since").time_value(since);
    w.end_object();
  };
  if (s->low_severity != 0) {
    open("low_stock", s->low_severity == 2 ? "critical" : "warning", s->low_since_ms);
  }
  if (s->flags & kStockoutOpen) open("stockout", "critical", s->stockout_since_ms);
  if (s->flags & kOverstockOpen) open("overstock", "info", s->overstock_since_ms);
  w.end_array();
  w.end_object();
  return out;
}

}  // namespace sw
