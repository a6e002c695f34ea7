#include "sim/generator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <tuple>

#include "sim/bad_records.h"
#include "sim/catalog.h"
#include "sim/demand.h"
#include "sim/event_writer.h"
#include "sim/format.h"
#include "sim/orders.h"
#include "sim/rng.h"
#include "stream/civil_time.h"

namespace sw {

namespace {

using namespace sim;

const char* const kFeedbackActions[] = {"ack", "dismiss", "confirm"};

enum TimelineKind : uint8_t {
  kTlSnapshot,
  kTlArrival,
  kTlDemand,
  kTlReturn,
  kTlAdjust,
  kTlTransfer
};

struct TimelineItem {
  int32_t t;
  uint8_t kind;
  uint8_t sub;
  int32_t qty;
  int32_t po = -1;  // arrivals: sim day of the purchase order
};

class Generator {
 public:
  Generator(const GeneratorOptions& o, const ChunkWriter& events, const ChunkWriter* truth,
            GeneratorStats& stats)
      : o_(o),
        stats_(stats),
        out_(&events, &stats.bytes),
        truth_(truth, nullptr),
        buckets_(kBuckets) {}

  Status run();

 private:
  static constexpr int kBuckets = 1440 + 30;

  void sku_day(int64_t day, int64_t day_start);
  //! The promotion's sku, promo_id, start, end and discount_pct fields (the event record and
  //! the truth record share them), starting inside the sku value after its opening quote.
  char* put_promotion_fields(char* p, const Sku& k) const;
  void key_day(uint32_t key, int64_t day, int64_t day_start);
  void store_day(uint32_t store, int64_t day, int64_t day_start);
  void review(uint32_t key, KeyState& k, const Sku& sku, Rng& r, int64_t day);
  void place_order(uint32_t key, KeyState& k, const Sku& sku, Pending& pd, int64_t day);
  Status regions_and_imbalances();
  void spoil_expired(uint32_t key, const Sku& sku, KeyState& k, int64_t day);
  void push(Rec rec, Rng& r);
  void push_raw(uint8_t type, uint32_t a, int32_t t, std::string_view body, Rng& r);
  Status emit_day(int64_t day_start);
  void open_stockout(KeyState& k, int64_t ts);
  void close_stockout(uint32_t key, KeyState& k, int64_t ts);
  Status truth_line(std::string_view line);
  char* truth_room(Status& st) { return truth_.room(st); }

  const GeneratorOptions& o_;
  GeneratorStats& stats_;
  OutBuf out_;
  OutBuf truth_;
  Status status_;
  int64_t start_day_ = 0;
  std::string id_prefix_;
  Catalog catalog_;
  std::vector<Store>& stores_ = catalog_.stores;
  std::vector<Sku>& skus_ = catalog_.skus;
  std::vector<KeyState> keys_;
  std::vector<std::vector<Rec>> buckets_;
  std::string pool_;
  uint32_t day_events_ = 0;
  uint64_t id_base_ = 0;
  double bad_credit_ = 0;
  double bad_per_good_ = 0;
  int64_t promo_counter_ = 0;
  std::vector<TimelineItem> timeline_;
  std::vector<std::vector<SimLot>> lots_;  // per key (perishables), first-expiring first
};

void Generator::push(Rec rec, Rng& r) {
  rec.id = day_events_++;
  rec.dup = 0;
  if (o_.disorder_rate > 0 && r.chance(o_.disorder_rate)) {
    rec.delay = static_cast<uint32_t>(1 + r.below(static_cast<uint64_t>(o_.max_disorder_ms)));
  } else {
    rec.delay = 0;
  }
  auto bucket = [](const Rec& x) {
    int64_t m = (static_cast<int64_t>(x.t) + x.delay) / kMinuteMs;
    return static_cast<size_t>(std::clamp<int64_t>(m, 0, kBuckets - 1));
  };
  buckets_[bucket(rec)].push_back(rec);
  stats_.by_type[rec.type]++;
  if (o_.duplicate_rate > 0 && r.chance(o_.duplicate_rate)) {
    Rec copy = rec;
    copy.dup = 1;
    copy.delay += static_cast<uint32_t>(r.range(1000, 120'000));
    buckets_[bucket(copy)].push_back(copy);
    stats_.duplicates++;
  }
}

void Generator::push_raw(uint8_t type, uint32_t a, int32_t t, std::string_view body, Rng& r) {
  Rec rec{};
  rec.type = type;
  rec.a = a;
  rec.t = t;
  rec.c = static_cast<int32_t>(pool_.size());
  rec.d = static_cast<int32_t>(body.size());
  pool_.append(body);
  push(rec, r);
}

Status Generator::truth_line(std::string_view line) {
  Status st;
  char* p = truth_.room(st);
  std::memcpy(p, line.data(), line.size());
  truth_.commit(p + line.size());
  return st;
}

void Generator::open_stockout(KeyState& k, int64_t ts) {
  if (k.stockout_start < 0) {
    k.stockout_start = ts;
    k.stockout_lost = 0;
  }
}

void Generator::close_stockout(uint32_t key, KeyState& k, int64_t ts) {
  if (k.stockout_start < 0) return;
  stats_.stockouts++;
  if (truth_.enabled()) {
    Status st;
    char* p = truth_.room(st);
    p = put(p, "{\"record\":\"stockout\",\"store\":\"");
    p = put(p, stores_[key / static_cast<uint32_t>(o_.skus)].name);
    p = put(p, "\",\"sku\":\"");
    p = put(p, skus_[key % static_cast<uint32_t>(o_.skus)].name);
    p = put(p, "\",\"start\":\"");
    p = put_rfc3339(p, k.stockout_start, 0);
    if (ts >= 0) {
      p = put(p, "\",\"end\":\"");
      p = put_rfc3339(p, ts, 0);
      p = put(p, "\"");
    } else {
      p = put(p, "\",\"end\":null");
    }
    p = put(p, ",\"lost_units\":");
    p = put_i64(p, k.stockout_lost);
    p = put(p, "}\n");
    truth_.commit(p);
    if (!st.is_ok() && status_.is_ok()) status_ = st;
  }
  k.stockout_start = -1;
  k.stockout_lost = 0;
}

char* Generator::put_promotion_fields(char* p, const Sku& k) const {
  p = put(p, k.name);
  p = put(p, "\",\"promo_id\":\"PR");
  p = put_i64(p, k.promo.id);
  p = put(p, "\",\"start\":\"");
  p = put_rfc3339(p, (start_day_ + k.promo.start_day) * kDayMs, 0);
  p = put(p, "\",\"end\":\"");
  p = put_rfc3339(p, (start_day_ + k.promo.end_day) * kDayMs, 0);
  p = put(p, "\",\"discount_pct\":");
  return put_i64(p, k.promo.discount_pct);
}

void Generator::sku_day(int64_t day, int64_t day_start) {
  const int64_t sim_day = day - start_day_;
  const civil::Date date = civil::civil_from_days(day);
  const auto mm = static_cast<unsigned>(date.month), dd = static_cast<unsigned>(date.day);
  const int weekday = civil::weekday(day);
  // Month-of-year profile interpolated between month midpoints (cyclic).
  double pos = (static_cast<double>(mm) - 1) + (static_cast<double>(dd) - 0.5) / 30.44 - 0.5;
  int m0 = static_cast<int>(std::floor(pos));
  double frac = pos - m0;
  int ma = ((m0 % 12) + 12) % 12, mb = (ma + 1) % 12;
  char buf[512];
  for (uint32_t i = 0; i < skus_.size(); ++i) {
    Sku& k = skus_[i];
    Rng r(o_.seed ^ 0x5a5a, static_cast<uint64_t>(i), static_cast<uint64_t>(day));
    const int c = k.category;
    if (sim_day == 0) {
      char* p = buf;
      p = put(p, ",\"sku\":\"");
      p = put(p, k.name);
      p = put(p, "\",\"category\":\"");
      p = put(p, kCategories[c].name);
      p = put(p, "\",\"cost\":");
      p = put_fixed(p, k.cost_cents, 2);
      p = put(p, ",\"lead_time_days\":");
      p = put_i64(p, k.lead_time_days);
      p = put(p, ",\"lead_time_sd_days\":");
      p = put_double(p, k.lead_time_sd_days, 1);
      p = put(p, ",\"service_level\":");
      p = put_double(p, k.service_level, 2);
      p = put(p, ",\"pack_size\":");
      p = put_i64(p, k.pack_size);
      p = put(p, ",\"moq\":");
      p = put_i64(p, k.moq);
      p = put(p, ",\"min_price\":");
      p = put_fixed(p, k.min_cents, 2);
      p = put(p, ",\"max_price\":");
      p = put_fixed(p, k.max_cents, 2);
      if (k.map_cents > 0) {
        p = put(p, ",\"map_price\":");
        p = put_fixed(p, k.map_cents, 2);
      }
      if (k.perishable) {
        p = put(p, ",\"perishable\":true,\"shelf_life_days\":");
        p = put_i64(p, k.shelf_life_days);
      }
      if (o_.purchase_orders) {
        p = put(p, ",\"supplier\":\"");
        p = put(p, supplier_name(k, i));
        *p++ = '"';
      }
      push_raw(kRecItem, i, static_cast<int32_t>(i % 30'000), std::string_view(buf, p - buf), r);
      Rec pr{};
      pr.type = kRecPrice;
      pr.a = i;
      pr.t = static_cast<int32_t>(30'000 + i % 30'000);
      pr.b = static_cast<int32_t>(k.price_cents);
      pr.c = static_cast<int32_t>(k.cost_cents);
      pr.d = -1;
      push(pr, r);
    } else if (r.chance(o_.price_change_rate)) {
      int64_t cents =
          price_ending_cents(static_cast<double>(k.base_cents) * r.uniform(0.8, 1.2) / 100.0);
      cents = std::clamp(cents, k.min_cents, k.max_cents);
      if (cents != k.price_cents) {
        k.price_cents = cents;
        Rec pr{};
        pr.type = kRecPrice;
        pr.a = i;
        pr.t = static_cast<int32_t>(4 * kHourMs + r.below(kHourMs));
        pr.b = static_cast<int32_t>(cents);
        pr.c = r.chance(0.5) ? static_cast<int32_t>(k.cost_cents) : -1;
        pr.d = -1;
        push(pr, r);
        for (int s = 0; s < o_.stores; ++s) {
          keys_[static_cast<size_t>(s) * skus_.size() + i].price_override_cents = 0;
        }
      }
    }
    // Promotions: announced one to three days ahead, chain-wide.
    if (k.promo.id != 0 && sim_day >= k.promo.end_day) k.promo = Promo{};
    if (k.promo.id == 0 && sim_day > 0 && r.chance(o_.promo_rate)) {
      const int discounts[] = {10, 15, 20, 25, 30, 40};
      k.promo.id = ++promo_counter_;
      k.promo.start_day = sim_day + r.range(1, 3);
      k.promo.end_day = k.promo.start_day + r.range(3, 10);
      k.promo.discount_pct = discounts[r.below(6)];
      char* p = buf;
      p = put(p, ",\"sku\":\"");
      p = put_promotion_fields(p, k);
      push_raw(kRecPromotion, i, static_cast<int32_t>(3 * kHourMs + r.below(kHourMs)),
               std::string_view(buf, p - buf), r);
      if (truth_.enabled()) {
        double uplift =
            kPromoDisplayUplift * std::pow(1.0 - k.promo.discount_pct / 100.0, k.elasticity);
        p = buf;
        p = put(p, "{\"record\":\"promotion\",\"sku\":\"");
        p = put_promotion_fields(p, k);
        p = put(p, ",\"uplift\":");
        p = put_double(p, uplift, 4);
        p = put(p, "}\n");
        Status st = truth_line(std::string_view(buf, p - buf));
        if (!st.is_ok() && status_.is_ok()) status_ = st;
      }
    }
    if (k.competitor_tracked && sim_day > 0 && r.chance(1.0 / 7)) {
      Rec cp{};
      cp.type = kRecCompetitor;
      cp.a = i;
      cp.t = static_cast<int32_t>(9 * kHourMs + r.below(8 * kHourMs));
      cp.b = static_cast<int32_t>(
          price_ending_cents(static_cast<double>(k.price_cents) * r.uniform(0.8, 1.12) / 100.0));
      cp.d = static_cast<int32_t>(r.below(3));
      cp.c = (o_.stores > 0 && r.chance(0.2)) ? static_cast<int32_t>(1 + r.below(o_.stores)) : 0;
      push(cp, r);
    }
    // Today's chain-level demand multiplier.
    const bool on_promo =
        k.promo.id != 0 && sim_day >= k.promo.start_day && sim_day < k.promo.end_day;
    k.on_promo = on_promo;
    k.day_price_cents = on_promo
                            ? std::llround(k.price_cents * (100 - k.promo.discount_pct) / 100.0)
                            : k.price_cents;
    double seasonal = catalog_.cat_weekly[c][weekday] * (catalog_.cat_monthly[c][ma] * (1 - frac) +
                                                         catalog_.cat_monthly[c][mb] * frac);
    double trend = std::exp(k.trend_per_year * static_cast<double>(sim_day) / 365.0);
    double price_mult = price_demand_multiplier(static_cast<double>(k.day_price_cents),
                                                static_cast<double>(k.base_cents), k.elasticity);
    k.day_mult = seasonal * trend * price_mult * (on_promo ? kPromoDisplayUplift : 1.0);
  }
  (void)day_start;
}

void Generator::store_day(uint32_t si, int64_t day, int64_t day_start) {
  Store& s = stores_[si];
  Rng r(o_.seed ^ 0x777, si, static_cast<uint64_t>(day));
  if (o_.metric_interval_min <= 0) return;
  if (s.metric_anom_end <= day_start && r.chance(0.03)) {
    s.metric_anom_start = day_start + r.range(8, 19) * kHourMs + r.range(0, 3) * 15 * kMinuteMs;
    s.metric_anom_end = s.metric_anom_start + r.range(2, 8) * 15 * kMinuteMs;
    s.metric_anom_mult = r.uniform(3, 6);
    stats_.anomalies++;
    if (truth_.enabled()) {
      char buf[256];
      char* p = buf;
      p = put(p, "{\"record\":\"anomaly\",\"series\":\"pos_latency_ms.");
      p = put(p, s.name);
      p = put(p, "\",\"start\":\"");
      p = put_rfc3339(p, s.metric_anom_start, 0);
      p = put(p, "\",\"end\":\"");
      p = put_rfc3339(p, s.metric_anom_end, 0);
      p = put(p, "\",\"kind\":\"spike\",\"magnitude\":");
      p = put_double(p, s.metric_anom_mult, 3);
      p = put(p, "}\n");
      Status st = truth_line(std::string_view(buf, p - buf));
      if (!st.is_ok() && status_.is_ok()) status_ = st;
    }
  }
  const int64_t step = o_.metric_interval_min * kMinuteMs;
  const int64_t jitter = static_cast<int64_t>(si % 60) * 1000;
  for (int64_t t = 0; t < kDayMs; t += step) {
    int64_t ts = day_start + t + jitter;
    double h = static_cast<double>(t) / kHourMs;
    bool open = h >= s.open_hour && h < s.close_hour;
    double busy = open ? 1.0 + 0.5 * std::exp(-(h - 17.5) * (h - 17.5) / 4.0) : 0.7;
    double v = s.latency_base_ms * busy * std::exp(0.15 * r.normal());
    if (ts >= s.metric_anom_start && ts < s.metric_anom_end) v *= s.metric_anom_mult;
    Rec m{};
    m.type = kRecMetric;
    m.a = si;
    m.t = static_cast<int32_t>(t + jitter);
    m.b = static_cast<int32_t>(std::llround(v * 10));
    push(m, r);
  }
}

void Generator::review(uint32_t key, KeyState& k, const Sku& sku, Rng& r, int64_t day) {
  const int64_t sim_day = day - start_day_;
  int32_t position = k.on_hand + k.on_order;
  if (position > k.reorder_point) return;
  if (r.chance(0.1)) return;  // the buyer is late today
  if (k.n_pending >= k.pending.size()) return;
  int32_t qty = std::max(k.order_up_to - position, sku.moq);
  qty = (qty + sku.pack_size - 1) / sku.pack_size * sku.pack_size;
  if (o_.purchase_orders) {
    Pending pd;
    pd.qty = qty;
    place_order(key, k, sku, pd, day);
    k.pending[k.n_pending++] = pd;
    k.on_order += qty;
    return;
  }
  int lead = std::max(
      1, static_cast<int>(std::lround(sku.lead_time_days + sku.lead_time_sd_days * r.normal())));
  Pending pd;
  pd.day = static_cast<int32_t>(sim_day + lead);
  pd.t = static_cast<int32_t>(5 * kHourMs + r.below(2 * kHourMs));
  pd.qty = qty;
  pd.kind = 0;
  k.pending[k.n_pending++] = pd;
  k.on_order += qty;
}

void Generator::key_day(uint32_t key, int64_t day, int64_t day_start) {
  const int64_t sim_day = day - start_day_;
  const uint32_t si = key / static_cast<uint32_t>(o_.skus);
  const uint32_t ki = key % static_cast<uint32_t>(o_.skus);
  const Store& st = stores_[si];
  const Sku& sku = skus_[ki];
  KeyState& k = keys_[key];
  Rng r(o_.seed, key, static_cast<uint64_t>(day));
  timeline_.clear();

  // Store-specific price (cleared by the next chain-wide change).
  if (sim_day > 0 && r.chance(0.0005)) {
    int64_t cents = std::clamp(
        price_ending_cents(static_cast<double>(sku.price_cents) * r.uniform(0.88, 1.05) / 100.0),
        sku.min_cents, sku.max_cents);
    k.price_override_cents = static_cast<int32_t>(cents);
    Rec pr{};
    pr.type = kRecPrice;
    pr.a = ki;
    pr.t = static_cast<int32_t>(4 * kHourMs + r.below(kHourMs));
    pr.b = static_cast<int32_t>(cents);
    pr.c = -1;
    pr.d = static_cast<int32_t>(si);
    pr.sub = 1;  // store-specific
    push(pr, r);
  }
  const bool on_promo = sku.on_promo;
  int64_t shelf_cents = sku.day_price_cents;
  double mult = sku.day_mult;
  if (k.price_override_cents > 0) {
    int64_t regular = k.price_override_cents;
    int64_t promo_cents =
        on_promo ? std::llround(regular * (100 - sku.promo.discount_pct) / 100.0) : regular;
    mult *= price_demand_multiplier(static_cast<double>(promo_cents),
                                    static_cast<double>(sku.day_price_cents), sku.elasticity);
    shelf_cents = promo_cents;
  }
  const double lam_txn = k.base_txn * mult;

  // Snapshots: at start and periodically.
  if (sim_day == 0 || (o_.snapshot_every_days > 0 && sim_day % o_.snapshot_every_days == 0)) {
    int32_t t = static_cast<int32_t>((sim_day == 0 ? kMinuteMs : kHourMs) +
                                     static_cast<int64_t>(r.below(58 * kMinuteMs)));
    timeline_.push_back({t, kTlSnapshot, 0, 0});
  }
  for (uint8_t i = 0; i < k.n_pending;) {
    if (k.pending[i].day == sim_day) {
      timeline_.push_back({k.pending[i].t, kTlArrival, k.pending[i].kind, k.pending[i].qty,
                           k.pending[i].order_day});
      k.pending[i] = k.pending[--k.n_pending];
    } else {
      ++i;
    }
  }
  if (o_.perishable_lots && sku.perishable) spoil_expired(key, sku, k, day);
  // Injected demand anomaly (on keys whose demand is visible).
  if (k.anom_end <= day_start && k.base_txn >= 1.0 && r.chance(o_.anomaly_rate)) {
    bool spike = r.chance(0.5);
    int64_t start = day_start + (st.open_hour + r.range(0, 6)) * kHourMs;
    int64_t dur = r.chance(0.25) ? r.range(24, 72) * kHourMs : r.range(2, 8) * kHourMs;
    k.anom_start = start;
    k.anom_end = start + dur;
    k.anom_mult = static_cast<float>(spike ? r.uniform(3, 8) : r.uniform(0, 0.2));
    stats_.anomalies++;
    if (truth_.enabled()) {
      Status s;
      char* p = truth_.room(s);
      p = put(p, "{\"record\":\"anomaly\",\"store\":\"");
      p = put(p, st.name);
      p = put(p, "\",\"sku\":\"");
      p = put(p, sku.name);
      p = put(p, "\",\"start\":\"");
      p = put_rfc3339(p, k.anom_start, 0);
      p = put(p, "\",\"end\":\"");
      p = put_rfc3339(p, k.anom_end, 0);
      p = put(p, spike ? "\",\"kind\":\"spike\",\"magnitude\":"
                       : "\",\"kind\":\"drop\",\"magnitude\":");
      p = put_double(p, k.anom_mult, 3);
      p = put(p, "}\n");
      truth_.commit(p);
      if (!s.is_ok() && status_.is_ok()) status_ = s;
    }
  }
  const bool anom_today = k.anom_end > day_start && k.anom_start < day_start + kDayMs;
  const int64_t n_txn = r.poisson(lam_txn);
  for (int64_t i = 0; i < n_txn; ++i) {
    bool online = r.chance(0.05);
    int32_t t =
        online ? static_cast<int32_t>(6 * kHourMs + r.below(18 * kHourMs)) : sample_time(st, r);
    uint8_t channel = online ? static_cast<uint8_t>(1 + r.below(3)) : 0;
    int q = txn_qty(r);
    if (anom_today) {
      int64_t ts = day_start + t;
      if (ts >= k.anom_start && ts < k.anom_end) {
        if (k.anom_mult < 1) {
          if (!r.chance(k.anom_mult)) continue;
        } else {
          int64_t extra = r.poisson(k.anom_mult - 1.0);
          for (int64_t e = 0; e < extra; ++e) {
            int32_t te = static_cast<int32_t>(t - t % kHourMs + r.below(kHourMs));
            if (day_start + te < k.anom_start || day_start + te >= k.anom_end) te = t;
            timeline_.push_back({te, kTlDemand, channel, txn_qty(r)});
          }
        }
      }
    }
    timeline_.push_back({t, kTlDemand, channel, q});
  }
  // Returns of earlier purchases.
  const int64_t n_ret = r.poisson(0.02 * lam_txn * kMeanTxnQty);
  for (int64_t i = 0; i < n_ret; ++i) {
    double u = r.uniform();
    uint8_t code = u < 0.3 ? 0 : (u < 0.65 ? 1 : 2);  // 0 restock=false, 1 true, 2 omitted
    timeline_.push_back({sample_time(st, r), kTlReturn, code, r.chance(0.9) ? 1 : 2});
  }
  // Shrink / count corrections / spoilage after closing.
  double shrink_p = sku.perishable ? 0.02 : 0.003;
  if (r.chance(shrink_p)) {
    timeline_.push_back({static_cast<int32_t>(22 * kHourMs + r.below(kHourMs)), kTlAdjust, 0,
                         -static_cast<int32_t>(r.range(1, 3))});
  } else if (r.chance(0.001)) {
    timeline_.push_back({static_cast<int32_t>(22 * kHourMs + r.below(kHourMs)), kTlAdjust, 0,
                         static_cast<int32_t>(r.range(1, 2))});
  }
  // Transfers out of overstocked keys to another store (arrive the next morning).
  if (o_.stores > 1 && k.on_hand > k.order_up_to && r.chance(0.02)) {
    timeline_.push_back({static_cast<int32_t>(21 * kHourMs + 30 * kMinuteMs + r.below(kHourMs)),
                         kTlTransfer, 0, std::max<int32_t>(1, (k.on_hand - k.order_up_to) / 2)});
  }

  std::sort(timeline_.begin(), timeline_.end(), [](const TimelineItem& a, const TimelineItem& b) {
    // A total order, so the result does not depend on the sort algorithm.
    return std::tie(a.t, a.kind, a.sub, a.qty) < std::tie(b.t, b.kind, b.sub, b.qty);
  });
  for (size_t i = 1; i < timeline_.size(); ++i) {
    if (timeline_[i].t <= timeline_[i - 1].t) timeline_[i].t = timeline_[i - 1].t + 1;
  }

  int64_t demand = 0, sold_total = 0;
  for (const TimelineItem& it : timeline_) {
    const int64_t ts = day_start + it.t;
    Rec rec{};
    rec.t = it.t;
    rec.a = key;
    switch (it.kind) {
      case kTlSnapshot:
        rec.type = kRecInventory;
        rec.sub = 0;
        rec.b = k.on_hand;
        rec.c = k.on_order;
        rec.d = -1;
        push(rec, r);
        if (k.on_hand == 0) open_stockout(k, ts);
        break;
      case kTlArrival:
        if (it.sub == 2) {  // a lost order: the buyer writes it off, nothing arrives
          k.on_order -= it.qty;
          break;
        }
        k.on_hand += it.qty;
        if (o_.perishable_lots && sku.perishable) {
          add_sim_lot(lots_[key], static_cast<int32_t>(day + sku.shelf_life_days), it.qty);
        }
        rec.type = kRecInventory;
        rec.b = it.qty;
        rec.d = -1;
        if (it.sub == 0) {
          k.on_order -= it.qty;
          rec.sub = 1;
          rec.c = k.on_order;
          if (sku.perishable) rec.d = static_cast<int32_t>(day + sku.shelf_life_days);
          if (it.po >= 0 && it.po < 2048 && k.on_order >= 0 && k.on_order < (1 << kOrderDayShift)) {
            rec.flags = 1;  // names its order: c = on_order | order day << 20
            rec.c = k.on_order | (it.po << kOrderDayShift);
          }
        } else {
          rec.sub = 2;
          rec.c = -1;
        }
        push(rec, r);
        close_stockout(key, k, ts);
        break;
      case kTlDemand: {
        demand += it.qty;
        int32_t sold = std::min(it.qty, k.on_hand);
        if (sold > 0) {
          k.on_hand -= sold;
          sold_total += sold;
          if (o_.perishable_lots && sku.perishable) take_sim_lots(lots_[key], sold);
          rec.type = kRecSale;
          rec.sub = it.sub;
          rec.b = sold;
          rec.c = static_cast<int32_t>(shelf_cents);
          rec.d = on_promo ? static_cast<int32_t>(sku.promo.id) : 0;
          rec.flags = r.chance(0.01) ? 1 : 0;  // explicit currency
          push(rec, r);
          if (k.on_hand == 0) open_stockout(k, ts);
        }
        if (k.stockout_start >= 0) k.stockout_lost += it.qty - sold;
        break;
      }
      case kTlReturn:
        rec.type = kRecReturn;
        rec.sub = it.sub;
        rec.b = it.qty;
        push(rec, r);
        if (it.sub != 0) {
          k.on_hand += it.qty;
          close_stockout(key, k, ts);
        }
        break;
      case kTlAdjust: {
        int32_t q = it.qty < 0 ? -std::min(-it.qty, k.on_hand) : it.qty;
        if (q == 0) break;
        k.on_hand += q;
        if (q < 0 && it.sub == 0 && o_.perishable_lots && sku.perishable) {
          take_sim_lots(lots_[key], -q);
        }
        rec.type = kRecInventory;
        rec.sub = 4;
        rec.b = q;
        rec.c = -1;
        rec.d = -1;
        push(rec, r);
        if (k.on_hand == 0) open_stockout(k, ts);
        if (q > 0) close_stockout(key, k, ts);
        break;
      }
      case kTlTransfer: {
        int32_t q = std::min(it.qty, k.on_hand - 1);
        uint32_t other = static_cast<uint32_t>(r.below(static_cast<uint64_t>(o_.stores - 1)));
        if (other >= si) ++other;
        KeyState& dst = keys_[static_cast<size_t>(other) * skus_.size() + ki];
        if (q <= 0 || dst.n_pending >= dst.pending.size()) break;
        k.on_hand -= q;
        if (o_.perishable_lots && sku.perishable) take_sim_lots(lots_[key], q);
        rec.type = kRecInventory;
        rec.sub = 3;
        rec.b = q;
        rec.c = -1;
        rec.d = -1;
        push(rec, r);
        Pending pd;
        pd.day = static_cast<int32_t>(sim_day + 1);
        pd.t = static_cast<int32_t>(6 * kHourMs + r.below(2 * kHourMs));
        pd.qty = q;
        pd.kind = 1;
        dst.pending[dst.n_pending++] = pd;
        break;
      }
    }
  }
  review(key, k, sku, r, day);

  if (truth_.enabled() && o_.truth_demand && (demand > 0 || anom_today)) {
    Status s;
    char* p = truth_.room(s);
    p = put(p, "{\"record\":\"demand\",\"store\":\"");
    p = put(p, st.name);
    p = put(p, "\",\"sku\":\"");
    p = put(p, sku.name);
    p = put(p, "\",\"day\":\"");
    p = put_date(p, day);
    p = put(p, "\",\"demand\":");
    p = put_i64(p, demand);
    p = put(p, ",\"sold\":");
    p = put_i64(p, sold_total);
    p = put(p, ",\"mean\":");
    p = put_double(p, lam_txn * kMeanTxnQty, 4);
    p = put(p, ",\"price\":");
    p = put_fixed(p, shelf_cents, 2);
    if (on_promo) p = put(p, ",\"promo\":true");
    p = put(p, "}\n");
    truth_.commit(p);
    if (!s.is_ok() && status_.is_ok()) status_ = s;
  }
}

// --- Orders, lots and regions (sim/orders.h) ----------------------------------------------

// The buyer's order as an `order` event at the end of the day; its fate (on time, late,
// lost) comes from a stream of its own and goes to the truth file.
void Generator::place_order(uint32_t key, KeyState& k, const Sku& sku, Pending& pd, int64_t day) {
  const int64_t sim_day = day - start_day_;
  const uint32_t ki = key % static_cast<uint32_t>(o_.skus);
  Rng ro(o_.seed ^ 0x0dde5ULL, key, static_cast<uint64_t>(day));
  const OrderPlan plan = plan_order(sku, o_.order_late_rate, o_.order_lost_rate, ro);
  pd.day = static_cast<int32_t>(sim_day + plan.arrival_days);
  pd.t = static_cast<int32_t>(5 * kHourMs + ro.below(2 * kHourMs));
  pd.kind = plan.fate == OrderFate::kLost ? 2 : 0;
  pd.order_day = static_cast<int32_t>(sim_day);
  Rec rec{};
  rec.type = kRecInventory;
  rec.sub = 5;
  rec.a = key;
  rec.b = pd.qty;
  rec.c = static_cast<int32_t>(sim_day);
  rec.d = static_cast<int32_t>(day + plan.expected_days);
  rec.t = static_cast<int32_t>(22 * kHourMs + ro.below(30 * kMinuteMs));
  push(rec, ro);
  (void)k;
  if (!truth_.enabled()) return;
  Status st;
  char* p = truth_.room(st);
  p = put(p, "{\"record\":\"order\",\"store\":\"");
  p = put(p, stores_[key / static_cast<uint32_t>(o_.skus)].name);
  p = put(p, "\",\"sku\":\"");
  p = put(p, sku.name);
  p = put(p, "\",\"po_id\":\"PO-");
  p = put_u64(p, key);
  *p++ = '-';
  p = put_i64(p, sim_day);
  p = put(p, "\",\"supplier\":\"");
  p = put(p, supplier_name(sku, ki));
  p = put(p, "\",\"qty\":");
  p = put_i64(p, pd.qty);
  p = put(p, ",\"ordered\":\"");
  p = put_rfc3339(p, day * kDayMs + rec.t, 0);
  p = put(p, "\",\"expected\":\"");
  p = put_rfc3339(p, (day + plan.expected_days) * kDayMs + 12 * kHourMs, 0);
  p = put(p, "\",\"arrival\":");
  if (plan.fate == OrderFate::kLost) {
    p = put(p, "null");
  } else {
    *p++ = '"';
    p = put_rfc3339(p, (day + plan.arrival_days) * kDayMs + pd.t, 0);
    *p++ = '"';
  }
  p = put(p, ",\"fate\":\"");
  p = put(p, fate_name(plan.fate));
  p = put(p, "\"}\n");
  truth_.commit(p);
  if (!st.is_ok() && status_.is_ok()) status_ = st;
}

// Lots of a perishable key that expired by `day` are written off after closing the night
// before (an adjustment at 05:30) and recorded as spoilage in the truth file.
void Generator::spoil_expired(uint32_t key, const Sku& sku, KeyState& k, int64_t day) {
  std::vector<SimLot>& lots = lots_[key];
  if (lots.empty() || lots.front().expires_day > day) return;
  int32_t first = -1;
  const int32_t units =
      std::min(expire_sim_lots(lots, static_cast<int32_t>(day), first), k.on_hand);
  if (units <= 0) return;
  timeline_.push_back({static_cast<int32_t>(5 * kHourMs + 30 * kMinuteMs), kTlAdjust, 1, -units});
  if (!truth_.enabled()) return;
  Status st;
  char* p = truth_.room(st);
  p = put(p, "{\"record\":\"spoilage\",\"store\":\"");
  p = put(p, stores_[key / static_cast<uint32_t>(o_.skus)].name);
  p = put(p, "\",\"sku\":\"");
  p = put(p, sku.name);
  p = put(p, "\",\"expired\":\"");
  p = put_date(p, first);
  p = put(p, "\",\"units\":");
  p = put_i64(p, units);
  p = put(p, "}\n");
  truth_.commit(p);
  if (!st.is_ok() && status_.is_ok()) status_ = st;
}

// Regions of `region_size` consecutive stores (truth: one "region" record each), regional
// imbalances at the start (one store of a region overstocked, another short of a sku), and
// the opening lots of perishable keys.
Status Generator::regions_and_imbalances() {
  const auto n_stores = static_cast<uint32_t>(stores_.size());
  const auto n_skus = static_cast<uint32_t>(skus_.size());
  const int rs = o_.region_size;
  const int n_regions = rs > 0 ? static_cast<int>((n_stores + rs - 1) / rs) : 0;
  char buf[4096];
  if (truth_.enabled()) {
    for (int g = 0; g < n_regions; ++g) {
      char* p = buf;
      p = put(p, "{\"record\":\"region\",\"region\":\"");
      p = put(p, region_name(g));
      p = put(p, "\",\"stores\":[");
      for (uint32_t st = static_cast<uint32_t>(g * rs);
           st < std::min<uint32_t>(n_stores, (g + 1) * rs) && p < buf + 3900; ++st) {
        if (st != static_cast<uint32_t>(g * rs)) *p++ = ',';
        *p++ = '"';
        p = put(p, stores_[st].name);
        *p++ = '"';
      }
      p = put(p, "]}\n");
      SW_RETURN_IF_ERROR(truth_line(std::string_view(buf, static_cast<size_t>(p - buf))));
    }
  }
  for (int g = 0; g < n_regions && o_.imbalance_rate > 0; ++g) {
    const uint32_t first = static_cast<uint32_t>(g * rs);
    const uint32_t size = std::min<uint32_t>(n_stores, first + rs) - first;
    if (size < 2) continue;
    for (uint32_t ki = 0; ki < n_skus; ++ki) {
      Rng r(o_.seed ^ 0x1b1a1ceULL, ki, static_cast<uint64_t>(g));
      if (!r.chance(o_.imbalance_rate)) continue;
      const uint32_t donor = first + static_cast<uint32_t>(r.below(size));
      uint32_t receiver = first + static_cast<uint32_t>(r.below(size - 1));
      if (receiver >= donor) ++receiver;
      KeyState& d = keys_[static_cast<size_t>(donor) * n_skus + ki];
      KeyState& v = keys_[static_cast<size_t>(receiver) * n_skus + ki];
      d.on_hand += 3 * std::max(d.order_up_to, 4);
      v.on_hand = std::max(1, v.reorder_point / 3);
      if (truth_.enabled()) {
        char* p = buf;
        p = put(p, "{\"record\":\"imbalance\",\"sku\":\"");
        p = put(p, skus_[ki].name);
        p = put(p, "\",\"region\":\"");
        p = put(p, region_name(g));
        p = put(p, "\",\"donor\":\"");
        p = put(p, stores_[donor].name);
        p = put(p, "\",\"receiver\":\"");
        p = put(p, stores_[receiver].name);
        p = put(p, "\",\"donor_on_hand\":");
        p = put_i64(p, d.on_hand);
        p = put(p, ",\"receiver_on_hand\":");
        p = put_i64(p, v.on_hand);
        p = put(p, "}\n");
        SW_RETURN_IF_ERROR(truth_line(std::string_view(buf, static_cast<size_t>(p - buf))));
      }
    }
  }
  lots_.assign(keys_.size(), {});
  if (o_.perishable_lots) {
    for (size_t key = 0; key < keys_.size(); ++key) {
      const Sku& sku = skus_[key % n_skus];
      if (sku.perishable) {
        add_sim_lot(lots_[key], static_cast<int32_t>(start_day_ + sku.shelf_life_days),
                    keys_[key].on_hand);
      }
    }
  }
  return Status::ok();
}

Status Generator::emit_day(int64_t day_start) {
  Status st;
  for (auto& bucket : buckets_) {
    std::sort(bucket.begin(), bucket.end(), [](const Rec& a, const Rec& b) {
      int64_t ka = static_cast<int64_t>(a.t) + a.delay, kb = static_cast<int64_t>(b.t) + b.delay;
      if (ka != kb) return ka < kb;
      if (a.id != b.id) return a.id < b.id;
      return a.dup < b.dup;
    });
    for (const Rec& rec : bucket) {
      char* p = out_.room(st);
      if (!st.is_ok()) return st;
      p = write_event(p, rec, day_start, EventContext{catalog_, id_base_, id_prefix_, pool_});
      stats_.lines++;
      stats_.good++;
      if (bad_per_good_ > 0) {
        bad_credit_ += bad_per_good_;
        while (bad_credit_ >= 1.0) {
          bad_credit_ -= 1.0;
          if (o_.log_bad_lines) {
            stats_.bad_lines.emplace_back(
                stats_.lines + 1, static_cast<uint8_t>(stats_.bad % kGeneratedBadCodes.size()));
          }
          p = write_bad_record(p, stats_.bad, day_start + rec.t, catalog_);
          stats_.bad_by_code[bad_record_code(stats_.bad)]++;
          stats_.bad++;
          stats_.lines++;
        }
      }
      out_.commit(p);
    }
    bucket.clear();
  }
  return st;
}

Status Generator::run() {
  if (!parse_civil_date(o_.start_date, start_day_) || start_day_ < 0) {
    return Status::invalid("start date '" + o_.start_date + "' is not YYYY-MM-DD from 1970 on");
  }
  {
    char pfx[16];
    std::snprintf(pfx, sizeof pfx, "g%04x-", static_cast<unsigned>(mix64(o_.seed) & 0xffff));
    id_prefix_ = pfx;
  }
  bad_per_good_ = o_.bad_rate > 0 ? o_.bad_rate / (1.0 - o_.bad_rate) : 0.0;
  build_catalog(o_, catalog_);
  init_key_states(o_, catalog_, keys_);
  stats_.keys = keys_.size();
  SW_RETURN_IF_ERROR(regions_and_imbalances());
  if (truth_.enabled()) {
    char buf[512];
    for (int c = 0; c < kCategoryCount; ++c) {
      char* p = buf;
      p = put(p, "{\"record\":\"category\",\"category\":\"");
      p = put(p, kCategories[c].name);
      p = put(p, "\",\"elasticity_centre\":");
      p = put_double(p, kCategories[c].elasticity_centre, 4);
      p = put(p, "}\n");
      SW_RETURN_IF_ERROR(truth_line(std::string_view(buf, p - buf)));
    }
    for (const Sku& k : skus_) {
      char* p = buf;
      p = put(p, "{\"record\":\"sku\",\"sku\":\"");
      p = put(p, k.name);
      p = put(p, "\",\"category\":\"");
      p = put(p, kCategories[k.category].name);
      p = put(p, "\",\"elasticity\":");
      p = put_double(p, k.elasticity, 4);
      p = put(p, ",\"base_price\":");
      p = put_fixed(p, k.base_cents, 2);
      p = put(p, ",\"trend_per_year\":");
      p = put_double(p, k.trend_per_year, 4);
      p = put(p, ",\"level\":");
      p = put_double(p, k.level, 4);
      p = put(p, "}\n");
      SW_RETURN_IF_ERROR(truth_line(std::string_view(buf, p - buf)));
    }
  }
  const uint32_t n_keys = static_cast<uint32_t>(keys_.size());
  for (int64_t sim_day = 0; sim_day < o_.days; ++sim_day) {
    const int64_t day = start_day_ + sim_day;
    const int64_t day_start = day * kDayMs;
    day_events_ = 0;
    pool_.clear();
    sku_day(day, day_start);
    for (uint32_t s = 0; s < stores_.size(); ++s) store_day(s, day, day_start);
    for (uint32_t key = 0; key < n_keys; ++key) key_day(key, day, day_start);
    {
      Rng r(o_.seed ^ 0xfeed, 0, static_cast<uint64_t>(day));
      int64_t n = r.poisson(2.0);
      for (int64_t i = 0; i < n; ++i) {
        char buf[128];
        char* p = buf;
        p = put(p, ",\"alert_id\":\"a-");
        p = put_u64(p, r.next() & 0xffffffffffULL);
        p = put(p, "\",\"action\":\"");
        p = put(p, kFeedbackActions[r.below(3)]);
        p = put(p, r.chance(0.5) ? "\",\"by\":\"ops-oncall\"" : "\"");
        push_raw(kRecFeedback, 0, static_cast<int32_t>(8 * kHourMs + r.below(12 * kHourMs)),
                 std::string_view(buf, p - buf), r);
      }
    }
    if (!status_.is_ok()) return status_;
    SW_RETURN_IF_ERROR(emit_day(day_start));
    id_base_ += day_events_;
  }
  for (uint32_t key = 0; key < n_keys; ++key) {
    if (keys_[key].stockout_start >= 0) close_stockout(key, keys_[key], -1);
  }
  if (!status_.is_ok()) return status_;
  if (truth_.enabled()) {
    char buf[1024];
    char* p = buf;
    p = put(p, "{\"record\":\"summary\",\"seed\":");
    p = put_u64(p, o_.seed);
    p = put(p, ",\"stores\":");
    p = put_i64(p, o_.stores);
    p = put(p, ",\"skus\":");
    p = put_i64(p, o_.skus);
    p = put(p, ",\"days\":");
    p = put_i64(p, o_.days);
    p = put(p, ",\"start\":\"");
    p = put_date(p, start_day_);
    p = put(p, "\",\"lines\":");
    p = put_u64(p, stats_.lines);
    p = put(p, ",\"good\":");
    p = put_u64(p, stats_.good);
    p = put(p, ",\"duplicates\":");
    p = put_u64(p, stats_.duplicates);
    p = put(p, ",\"bad\":");
    p = put_u64(p, stats_.bad);
    p = put(p, ",\"bad_by_code\":{");
    for (size_t i = 0; i < kGeneratedBadCodes.size(); ++i) {
      if (i > 0) *p++ = ',';
      *p++ = '"';
      p = put(p, kGeneratedBadCodes[i]);
      p = put(p, "\":");
      p = put_u64(p, stats_.bad_by_code[i]);
    }
    p = put(p, "},\"stockouts\":");
    p = put_u64(p, stats_.stockouts);
    p = put(p, ",\"anomalies\":");
    p = put_u64(p, stats_.anomalies);
    p = put(p, "}\n");
    SW_RETURN_IF_ERROR(truth_line(std::string_view(buf, p - buf)));
  }
  SW_RETURN_IF_ERROR(out_.flush());
  return truth_.flush();
}

}  // namespace

bool parse_civil_date(std::string_view s, int64_t& days) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  auto num = [&](size_t pos, size_t len, unsigned& out) {
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + static_cast<unsigned>(s[i] - '0');
    }
    return true;
  };
  unsigned y, m, d;
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return false;
  if (m < 1 || m > 12 || d < 1) return false;
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDays[m - 1] + (m == 2 && leap ? 1 : 0)) return false;
  days = civil::days_from_civil(y, m, d);
  return true;
}

Status generate_stream(const GeneratorOptions& options, const ChunkWriter& events,
                       const ChunkWriter* truth, GeneratorStats& stats) {
  if (options.stores < 1 || options.skus < 1 || options.days < 1) {
    return Status::invalid("stores, skus and days must all be >= 1");
  }
  const double keys = static_cast<double>(options.stores) * static_cast<double>(options.skus);
  if (keys > 20e6) return Status::invalid("stores x skus must be <= 20,000,000");
  if (!(options.bad_rate >= 0 && options.bad_rate < 0.9)) {
    return Status::invalid("bad rate must be in [0, 0.9)");
  }
  if (!(options.events_per_key_day > 0 && options.events_per_key_day <= 10'000)) {
    return Status::invalid("events per key and day must be in (0, 10000]");
  }
  // One day of events is held in memory (32 bytes each) with 32-bit indices.
  if (keys * options.events_per_key_day > 200e6) {
    return Status::invalid("stores x skus x events per key and day must be <= 200,000,000");
  }
  if (!(options.duplicate_rate >= 0 && options.duplicate_rate <= 0.5) ||
      !(options.disorder_rate >= 0 && options.disorder_rate <= 1) || options.max_disorder_ms < 1 ||
      options.max_disorder_ms > 600'000) {
    return Status::invalid("duplicate rate, disorder rate or max disorder out of range");
  }
  if (options.snapshot_every_days < 0 || options.metric_interval_min < 0 ||
      options.metric_interval_min > 1440) {
    return Status::invalid("snapshot interval or metric interval out of range");
  }
  stats = GeneratorStats{};
  Generator g(options, events, truth, stats);
  return g.run();
}

}  // namespace sw
