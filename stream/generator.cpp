#include "stream/generator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <tuple>

namespace sw {

namespace {

// ---------------------------------------------------------------------------------------
// Randomness: splitmix64 streams, seeded per (seed, entity, day) so that every draw is a
// function of the options alone and independent of loop order.

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(mix64(seed + kGolden)) {}
  Rng(uint64_t seed, uint64_t a, uint64_t b)
      : s_(mix64(seed ^ mix64(a * 0xd1b54a32d192ed03ULL + mix64(b + 0x632be59bd9b4e019ULL)))) {}
  uint64_t next() {
    s_ += kGolden;
    return mix64(s_);
  }
  //! Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  //! Uniform integer in [0, n).
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  int64_t range(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo + 1)));
  }
  bool chance(double p) { return uniform() < p; }
  //! Standard normal (Box-Muller, one value per call).
  double normal() {
    double u1 = 1.0 - uniform();  // (0, 1]
    double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  //! Poisson: multiplication method below 10, Hoermann's PTRS above.
  int64_t poisson(double lam) {
    if (!(lam > 0)) return 0;
    if (lam < 10) {
      double limit = std::exp(-lam);
      double p = uniform();
      int64_t k = 0;
      while (p > limit) {
        ++k;
        p *= uniform();
      }
      return k;
    }
    double slam = std::sqrt(lam);
    double loglam = std::log(lam);
    double b = 0.931 + 2.53 * slam;
    double a = -0.059 + 0.02483 * b;
    double invalpha = 1.1239 + 1.1328 / (b - 3.4);
    double vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      double u = uniform() - 0.5;
      double v = uniform();
      double us = 0.5 - std::fabs(u);
      double kf = std::floor((2 * a / us + b) * u + lam + 0.43);
      if (us >= 0.07 && v <= vr) return static_cast<int64_t>(kf);
      if (kf < 0 || (us < 0.013 && v > us)) continue;
      if (std::log(v) + std::log(invalpha) - std::log(a / (us * us) + b) <=
          -lam + kf * loglam - std::lgamma(kf + 1)) {
        return static_cast<int64_t>(kf);
      }
    }
  }

 private:
  uint64_t s_;
};

// ---------------------------------------------------------------------------------------
// Calendar arithmetic (proleptic Gregorian, Howard Hinnant's algorithms).

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kMinuteMs = 60'000;

// ---------------------------------------------------------------------------------------
// Fast formatting into a raw char buffer. Callers guarantee room (OutBuf::room).

inline char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

inline char* put_u64(char* p, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) *p++ = tmp[--n];
  return p;
}

inline char* put_i64(char* p, int64_t v) {
  if (v < 0) {
    *p++ = '-';
    return put_u64(p, static_cast<uint64_t>(-v));
  }
  return put_u64(p, static_cast<uint64_t>(v));
}

inline char* put_2d(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

//! Fixed-point decimal of `units` / 10^decimals ("349" with 2 -> "3.49").
inline char* put_fixed(char* p, int64_t units, int decimals) {
  if (units < 0) {
    *p++ = '-';
    units = -units;
  }
  int64_t scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  p = put_u64(p, static_cast<uint64_t>(units / scale));
  if (decimals > 0) {
    *p++ = '.';
    int64_t frac = units % scale;
    for (int64_t s = scale / 10; s >= 1; s /= 10) {
      *p++ = static_cast<char>('0' + (frac / s) % 10);
    }
  }
  return p;
}

inline char* put_double(char* p, double v, int decimals) {
  double scale = std::pow(10.0, decimals);
  return put_fixed(p, std::llround(v * scale), decimals);
}

inline char* put_date(char* p, int64_t day) {
  int64_t y;
  unsigned m, d;
  civil_from_days(day, y, m, d);
  p = put_u64(p, static_cast<uint64_t>(y));
  *p++ = '-';
  p = put_2d(p, m);
  *p++ = '-';
  return put_2d(p, d);
}

//! RFC 3339 with milliseconds; offset_min 0 renders "Z", otherwise "+hh:mm"/"-hh:mm".
inline char* put_rfc3339(char* p, int64_t epoch_ms, int offset_min) {
  int64_t local = epoch_ms + static_cast<int64_t>(offset_min) * kMinuteMs;
  int64_t day = floor_div(local, kDayMs);
  int64_t in_day = local - day * kDayMs;
  p = put_date(p, day);
  *p++ = 'T';
  unsigned secs = static_cast<unsigned>(in_day / 1000);
  p = put_2d(p, secs / 3600);
  *p++ = ':';
  p = put_2d(p, (secs / 60) % 60);
  *p++ = ':';
  p = put_2d(p, secs % 60);
  *p++ = '.';
  unsigned ms = static_cast<unsigned>(in_day % 1000);
  *p++ = static_cast<char>('0' + ms / 100);
  p = put_2d(p, ms % 100);
  if (offset_min == 0) {
    *p++ = 'Z';
  } else {
    unsigned a = static_cast<unsigned>(offset_min < 0 ? -offset_min : offset_min);
    *p++ = offset_min < 0 ? '-' : '+';
    p = put_2d(p, a / 60);
    *p++ = ':';
    p = put_2d(p, a % 60);
  }
  return p;
}

class OutBuf {
 public:
  OutBuf(const ChunkWriter* writer, uint64_t* bytes)
      : writer_(writer), bytes_(bytes), buf_(new char[kCapacity]) {}
  //! Ensures `n` writable bytes (n <= kReserve) and returns the write position.
  char* room(Status& st) {
    if (pos_ + kReserve > kCapacity) st = flush();
    return buf_.get() + pos_;
  }
  void commit(char* end) { pos_ = static_cast<size_t>(end - buf_.get()); }
  Status flush() {
    if (pos_ == 0 || writer_ == nullptr) {
      pos_ = 0;
      return Status::ok();
    }
    if (bytes_ != nullptr) *bytes_ += pos_;
    Status s = (*writer_)(std::string_view(buf_.get(), pos_));
    pos_ = 0;
    return s;
  }
  bool enabled() const { return writer_ != nullptr; }
  static constexpr size_t kReserve = 16 * 1024;

 private:
  static constexpr size_t kCapacity = 1 << 20;
  const ChunkWriter* writer_;
  uint64_t* bytes_;
  std::unique_ptr<char[]> buf_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------
// Model tables.

struct Category {
  const char* name;
  double elasticity_centre;
  double median_price;
  double lead_time_days;
  double lead_time_sd_days;
  double perishable_share;
  int shelf_life_days;
  double weekly[7];    // Monday..Sunday
  double monthly[12];  // January..December
};

// Month-of-year and day-of-week profiles are relative; they are normalised to mean 1 at start.
const Category kCategories[] = {
    {"grocery",
     -1.3,
     3.0,
     4,
     1.0,
     0.0,
     0,
     {0.9, 0.88, 0.9, 0.95, 1.12, 1.3, 0.95},
     {0.95, 0.9, 0.97, 1.0, 1.0, 1.0, 1.02, 1.02, 0.98, 1.0, 1.03, 1.15}},
    {"produce",
     -1.1,
     2.2,
     2,
     0.5,
     1.0,
     7,
     {0.92, 0.9, 0.95, 0.95, 1.1, 1.28, 0.9},
     {0.85, 0.85, 0.92, 1.0, 1.08, 1.15, 1.15, 1.12, 1.05, 0.98, 0.92, 0.95}},
    {"dairy",
     -1.0,
     1.8,
     3,
     0.7,
     1.0,
     14,
     {0.95, 0.92, 0.95, 0.97, 1.08, 1.22, 0.91},
     {1.0, 0.98, 1.0, 1.0, 0.98, 0.97, 0.96, 0.96, 1.0, 1.02, 1.03, 1.1}},
    {"bakery",
     -0.9,
     2.5,
     1,
     0.3,
     1.0,
     3,
     {0.95, 0.9, 0.92, 0.95, 1.1, 1.3, 0.88},
     {0.97, 0.95, 0.98, 1.02, 1.0, 0.98, 0.96, 0.96, 1.0, 1.02, 1.04, 1.12}},
    {"beverages",
     -1.8,
     2.8,
     5,
     1.5,
     0.0,
     0,
     {0.88, 0.87, 0.9, 0.98, 1.15, 1.3, 0.92},
     {0.75, 0.75, 0.85, 0.95, 1.1, 1.3, 1.4, 1.35, 1.1, 0.9, 0.8, 0.95}},
    {"frozen",
     -1.4,
     4.5,
     5,
     1.2,
     0.0,
     0,
     {0.95, 0.92, 0.95, 0.97, 1.08, 1.2, 0.93},
     {0.9, 0.9, 0.95, 1.0, 1.08, 1.15, 1.2, 1.15, 1.0, 0.92, 0.9, 0.95}},
    {"snacks",
     -2.0,
     2.4,
     6,
     1.5,
     0.0,
     0,
     {0.88, 0.88, 0.9, 0.97, 1.18, 1.3, 0.89},
     {0.95, 1.05, 0.95, 0.97, 1.0, 1.05, 1.05, 1.03, 0.97, 1.0, 0.98, 1.15}},
    {"household",
     -1.6,
     6.0,
     7,
     2.0,
     0.0,
     0,
     {1.0, 0.95, 0.95, 0.98, 1.05, 1.17, 0.9},
     {1.05, 0.97, 1.1, 1.08, 1.0, 0.95, 0.93, 0.95, 1.0, 1.0, 0.97, 1.0}},
    {"personal_care",
     -1.7,
     5.5,
     7,
     2.0,
     0.0,
     0,
     {1.0, 0.97, 0.97, 1.0, 1.05, 1.12, 0.89},
     {1.0, 0.97, 0.98, 1.0, 1.02, 1.05, 1.05, 1.03, 0.98, 0.97, 0.95, 1.0}},
    {"electronics",
     -2.6,
     45.0,
     10,
     3.0,
     0.0,
     0,
     {0.85, 0.85, 0.88, 0.95, 1.1, 1.4, 0.97},
     {0.8, 0.75, 0.8, 0.8, 0.85, 0.85, 0.85, 0.95, 0.95, 1.0, 1.6, 1.9}},
    {"apparel",
     -2.2,
     25.0,
     12,
     3.5,
     0.0,
     0,
     {0.8, 0.8, 0.85, 0.95, 1.15, 1.45, 1.0},
     {0.7, 0.7, 1.05, 1.2, 1.15, 1.0, 0.9, 0.95, 1.15, 1.1, 1.0, 1.1}},
    {"toys",
     -2.4,
     18.0,
     14,
     4.0,
     0.0,
     0,
     {0.8, 0.78, 0.82, 0.9, 1.1, 1.5, 1.1},
     {0.6, 0.6, 0.7, 0.75, 0.75, 0.8, 0.8, 0.8, 0.85, 1.0, 1.8, 3.0}},
};
constexpr int kCategoryCount = sizeof(kCategories) / sizeof(kCategories[0]);

const int kDisplayOffsetsMin[] = {60, 120, -300, 330, -480, 540, 0, -180};
const char* const kCompetitors[] = {"compA", "compB", "compC"};
const char* const kFeedbackActions[] = {"ack", "dismiss", "confirm"};
const char* const kChannels[] = {"store", "online", "mobile", "marketplace"};

constexpr double kMeanTxnQty = 1.25;  // P(1)=0.8, P(2)=0.15, P(3)=0.05
constexpr double kPromoDisplayUplift = 1.25;

int txn_qty(Rng& r) {
  double u = r.uniform();
  return u < 0.8 ? 1 : (u < 0.95 ? 2 : 3);
}

int64_t price_ending_cents(double price) {
  // Round to the nearest 10 cents, then end in 9 ("3.49"), at least 0.49.
  int64_t tens = std::llround(price * 10.0);
  return std::max<int64_t>(49, tens * 10 - 1);
}

double z_for_service_level(double sl) {
  if (sl >= 0.99) return 2.3263;
  if (sl >= 0.98) return 2.0537;
  if (sl >= 0.95) return 1.6449;
  return 1.2816;
}

// ---------------------------------------------------------------------------------------
// Simulation state.

struct Store {
  std::string name;
  double size = 1;
  int open_hour = 8;
  int close_hour = 21;
  int display_offset_min = 0;
  double latency_base_ms = 120;
  std::array<double, 24> hour_cdf{};  // cumulative intra-day profile over opening hours
  int64_t metric_anom_start = -1, metric_anom_end = -1;
  double metric_anom_mult = 1;
};

struct Promo {
  int64_t id = 0;                      // 0 = none
  int64_t start_day = 0, end_day = 0;  // [start, end) in simulation days
  int discount_pct = 0;
};

struct Sku {
  std::string name;
  int category = 0;
  double elasticity = -1;
  double trend_per_year = 0;
  double level = 1;  // relative demand level (long-tailed, mean 1)
  int64_t base_cents = 0;
  int64_t price_cents = 0;  // current chain-wide regular price
  int64_t cost_cents = 0;
  int64_t min_cents = 0, max_cents = 0, map_cents = 0;
  int lead_time_days = 4;
  double lead_time_sd_days = 1;
  double service_level = 0.95;
  int pack_size = 1;
  int moq = 1;
  bool perishable = false;
  int shelf_life_days = 0;
  bool competitor_tracked = false;
  Promo promo;
  // Per-day values.
  double day_mult = 1;  // seasonality x trend x price/promo effect at the chain price
  bool on_promo = false;
  int64_t day_price_cents = 0;  // shelf price today (promo applied)
};

struct Pending {
  int32_t day = 0;
  int32_t t = 0;  // ms in day
  int32_t qty = 0;
  uint8_t kind = 0;  // 0 receipt, 1 transfer_in
};

struct KeyState {
  float base_txn = 0;  // mean transactions per day at base price, before seasonality
  int32_t on_hand = 0;
  int32_t on_order = 0;
  int32_t reorder_point = 0;               // s
  int32_t order_up_to = 0;                 // S
  int32_t price_override_cents = 0;        // store-specific price, 0 = none
  int64_t anom_start = -1, anom_end = -1;  // epoch ms
  float anom_mult = 1;
  int64_t stockout_start = -1;  // epoch ms of the open stock-out, -1 = in stock
  int32_t stockout_lost = 0;
  uint8_t n_pending = 0;
  std::array<Pending, 4> pending{};
};

enum RecType : uint8_t {
  kRecSale,
  kRecReturn,
  kRecInventory,
  kRecPrice,
  kRecCompetitor,
  kRecItem,
  kRecPromotion,
  kRecMetric,
  kRecFeedback,
};

//! One event to emit. t = ms in the day; the emission order is (t + delay, id, dup).
struct Rec {
  int32_t t;
  uint32_t delay;
  uint32_t id;  // index within the day; global id = day base + id
  uint32_t a;   // key index (sale/return/inventory), sku (price/competitor/item/promo), store
  int32_t b;    // qty / price cents / metric value (tenths)
  int32_t c;    // price cents / on_order (-1 none) / cost / pool offset / store+1
  int32_t d;    // promo id / expiry day (-1 none) / pool length / competitor
  uint8_t type;
  uint8_t sub;  // inventory kind, channel, restock code
  uint8_t flags;
  uint8_t dup;
};
static_assert(sizeof(Rec) == 32);

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

  void init_model();
  void init_keys();
  void sku_day(int64_t day, int64_t day_start);
  void key_day(uint32_t key, int64_t day, int64_t day_start);
  void store_day(uint32_t store, int64_t day, int64_t day_start);
  void review(KeyState& k, const Sku& sku, Rng& r, int64_t day);
  void push(Rec rec, Rng& r);
  void push_raw(uint8_t type, uint32_t a, int32_t t, std::string_view body, Rng& r);
  Status emit_day(int64_t day_start);
  char* write_rec(char* p, const Rec& rec, int64_t day_start);
  char* write_bad(char* p, uint64_t n, int64_t ts);
  void open_stockout(KeyState& k, int64_t ts);
  void close_stockout(uint32_t key, KeyState& k, int64_t ts);
  Status truth_line(std::string_view line);
  char* truth_room(Status& st) { return truth_.room(st); }
  int sample_time(const Store& s, Rng& r) const;

  const GeneratorOptions& o_;
  GeneratorStats& stats_;
  OutBuf out_;
  OutBuf truth_;
  Status status_;
  int64_t start_day_ = 0;
  std::string id_prefix_;
  std::vector<Store> stores_;
  std::vector<Sku> skus_;
  std::vector<KeyState> keys_;
  double cat_weekly_[kCategoryCount][7];
  double cat_monthly_[kCategoryCount][12];
  std::vector<std::vector<Rec>> buckets_;
  std::string pool_;
  uint32_t day_events_ = 0;
  uint64_t id_base_ = 0;
  double bad_credit_ = 0;
  double bad_per_good_ = 0;
  int64_t promo_counter_ = 0;
  std::vector<TimelineItem> timeline_;
};

void Generator::init_model() {
  for (int c = 0; c < kCategoryCount; ++c) {
    double ws = 0, ms = 0;
    for (double w : kCategories[c].weekly) ws += w;
    for (double m : kCategories[c].monthly) ms += m;
    for (int i = 0; i < 7; ++i) cat_weekly_[c][i] = kCategories[c].weekly[i] * 7 / ws;
    for (int i = 0; i < 12; ++i) cat_monthly_[c][i] = kCategories[c].monthly[i] * 12 / ms;
  }
  int store_width = o_.stores > 9999 ? 6 : 4;
  int sku_width = o_.skus > 999999 ? 8 : 6;
  stores_.resize(static_cast<size_t>(o_.stores));
  double size_sum = 0;
  for (int i = 0; i < o_.stores; ++i) {
    Store& s = stores_[static_cast<size_t>(i)];
    Rng r(o_.seed ^ 0x1111, 1, static_cast<uint64_t>(i));
    char name[32];
    std::snprintf(name, sizeof name, "S%0*d", store_width, i + 1);
    s.name = name;
    s.size = std::exp(0.35 * r.normal());
    size_sum += s.size;
    s.open_hour = static_cast<int>(r.range(7, 9));
    s.close_hour = static_cast<int>(r.range(20, 22));
    s.display_offset_min =
        kDisplayOffsetsMin[r.below(sizeof kDisplayOffsetsMin / sizeof kDisplayOffsetsMin[0])];
    s.latency_base_ms = r.uniform(80, 200);
    double w[24] = {};
    double total = 0;
    for (int h = s.open_hour; h < s.close_hour; ++h) {
      double x = h + 0.5;
      w[h] = 0.6 + 0.7 * std::exp(-(x - 12.5) * (x - 12.5) / 2.0) +
             1.0 * std::exp(-(x - 17.5) * (x - 17.5) / 3.0);
      total += w[h];
    }
    double acc = 0;
    for (int h = 0; h < 24; ++h) {
      acc += w[h] / total;
      s.hour_cdf[static_cast<size_t>(h)] = acc;
    }
    s.hour_cdf[23] = 1.0;
  }
  for (Store& s : stores_) s.size *= o_.stores / size_sum;

  skus_.resize(static_cast<size_t>(o_.skus));
  const double level_sigma = 1.3;
  for (int i = 0; i < o_.skus; ++i) {
    Sku& k = skus_[static_cast<size_t>(i)];
    Rng r(o_.seed ^ 0x2222, 2, static_cast<uint64_t>(i));
    char name[32];
    std::snprintf(name, sizeof name, "SKU-%0*d", sku_width, i + 1);
    k.name = name;
    k.category = static_cast<int>(r.below(kCategoryCount));
    const Category& cat = kCategories[k.category];
    k.elasticity = std::clamp(cat.elasticity_centre + 0.35 * r.normal(), -3.2, -0.4);
    k.trend_per_year = 0.02 + 0.15 * r.normal();
    k.level = std::exp(level_sigma * r.normal() - level_sigma * level_sigma / 2);
    k.base_cents = price_ending_cents(cat.median_price * std::exp(0.5 * r.normal()));
    k.price_cents = k.base_cents;
    k.cost_cents = std::llround(static_cast<double>(k.base_cents) * r.uniform(0.45, 0.75));
    k.min_cents =
        std::max<int64_t>(std::llround(k.cost_cents * 1.05), std::llround(k.base_cents * 0.7));
    k.max_cents = std::llround(k.base_cents * 1.5);
    if (k.category == 9 && r.chance(0.6)) k.map_cents = std::llround(k.base_cents * 0.9);
    k.lead_time_days =
        std::max(1, static_cast<int>(std::lround(cat.lead_time_days * r.uniform(0.6, 1.5))));
    k.lead_time_sd_days = std::round(cat.lead_time_sd_days * r.uniform(0.5, 1.5) * 10) / 10;
    const double levels[] = {0.9, 0.95, 0.95, 0.98};
    k.service_level = levels[r.below(4)];
    const int packs[] = {1, 1, 4, 6, 6, 12, 12, 24};
    k.pack_size = k.category >= 9 ? 1 : packs[r.below(8)];
    k.moq = k.pack_size * static_cast<int>(r.range(1, 2));
    k.perishable = r.chance(cat.perishable_share);
    k.shelf_life_days = k.perishable ? cat.shelf_life_days : 0;
    k.competitor_tracked = r.chance(0.3);
  }
}

void Generator::init_keys() {
  const size_t n = static_cast<size_t>(o_.stores) * static_cast<size_t>(o_.skus);
  keys_.assign(n, KeyState{});
  stats_.keys = n;
  for (size_t key = 0; key < n; ++key) {
    const Store& st = stores_[key / static_cast<size_t>(o_.skus)];
    const Sku& sku = skus_[key % static_cast<size_t>(o_.skus)];
    KeyState& k = keys_[key];
    Rng r(o_.seed ^ 0x3333, 3, key);
    double noise = std::exp(0.3 * r.normal() - 0.045);
    k.base_txn = static_cast<float>(o_.events_per_key_day * sku.level * st.size * noise);
    double d = k.base_txn * kMeanTxnQty;  // units per day
    double sd = std::sqrt(k.base_txn * 1.85);
    double lt = sku.lead_time_days;
    double z = z_for_service_level(sku.service_level);
    double safety =
        z * std::sqrt(lt * sd * sd + d * d * sku.lead_time_sd_days * sku.lead_time_sd_days);
    // A quarter of the keys run a too-small reorder point: they reorder late and stock out.
    double late = r.chance(0.25) ? r.uniform(0.2, 0.7) : 1.0;
    k.reorder_point = static_cast<int32_t>(std::ceil(late * (d * lt + safety)));
    double cycle = d * r.uniform(5, 14);
    int32_t qty =
        std::max<int32_t>({static_cast<int32_t>(std::ceil(cycle)), sku.pack_size, sku.moq, 2});
    k.order_up_to = k.reorder_point + qty;
    k.on_hand = static_cast<int32_t>(std::lround(r.uniform(0.2, 1.1) * k.order_up_to));
  }
}

int Generator::sample_time(const Store& s, Rng& r) const {
  double u = r.uniform();
  int h = s.open_hour;
  while (h < 23 && s.hour_cdf[static_cast<size_t>(h)] <= u) ++h;
  return static_cast<int>(h * kHourMs + static_cast<int64_t>(r.below(kHourMs)));
}

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

void Generator::sku_day(int64_t day, int64_t day_start) {
  const int64_t sim_day = day - start_day_;
  int64_t yy;
  unsigned mm, dd;
  civil_from_days(day, yy, mm, dd);
  int weekday = static_cast<int>(((day % 7) + 7 + 3) % 7);  // 1970-01-01 was a Thursday
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
      p = put(p, k.name);
      p = put(p, "\",\"promo_id\":\"PR");
      p = put_i64(p, k.promo.id);
      p = put(p, "\",\"start\":\"");
      p = put_rfc3339(p, (start_day_ + k.promo.start_day) * kDayMs, 0);
      p = put(p, "\",\"end\":\"");
      p = put_rfc3339(p, (start_day_ + k.promo.end_day) * kDayMs, 0);
      p = put(p, "\",\"discount_pct\":");
      p = put_i64(p, k.promo.discount_pct);
      push_raw(kRecPromotion, i, static_cast<int32_t>(3 * kHourMs + r.below(kHourMs)),
               std::string_view(buf, p - buf), r);
      if (truth_.enabled()) {
        double uplift =
            kPromoDisplayUplift * std::pow(1.0 - k.promo.discount_pct / 100.0, k.elasticity);
        p = buf;
        p = put(p, "{\"record\":\"promotion\",\"sku\":\"");
        p = put(p, k.name);
        p = put(p, "\",\"promo_id\":\"PR");
        p = put_i64(p, k.promo.id);
        p = put(p, "\",\"start\":\"");
        p = put_rfc3339(p, (start_day_ + k.promo.start_day) * kDayMs, 0);
        p = put(p, "\",\"end\":\"");
        p = put_rfc3339(p, (start_day_ + k.promo.end_day) * kDayMs, 0);
        p = put(p, "\",\"discount_pct\":");
        p = put_i64(p, k.promo.discount_pct);
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
    double seasonal =
        cat_weekly_[c][weekday] * (cat_monthly_[c][ma] * (1 - frac) + cat_monthly_[c][mb] * frac);
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

void Generator::review(KeyState& k, const Sku& sku, Rng& r, int64_t sim_day) {
  int32_t position = k.on_hand + k.on_order;
  if (position > k.reorder_point) return;
  if (r.chance(0.1)) return;  // the buyer is late today
  if (k.n_pending >= k.pending.size()) return;
  int32_t qty = std::max(k.order_up_to - position, sku.moq);
  qty = (qty + sku.pack_size - 1) / sku.pack_size * sku.pack_size;
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
      timeline_.push_back({k.pending[i].t, kTlArrival, k.pending[i].kind, k.pending[i].qty});
      k.pending[i] = k.pending[--k.n_pending];
    } else {
      ++i;
    }
  }
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
        k.on_hand += it.qty;
        rec.type = kRecInventory;
        rec.b = it.qty;
        rec.d = -1;
        if (it.sub == 0) {
          k.on_order -= it.qty;
          rec.sub = 1;
          rec.c = k.on_order;
          if (sku.perishable) rec.d = static_cast<int32_t>(day + sku.shelf_life_days);
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
  review(k, sku, r, sim_day);

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

char* Generator::write_rec(char* p, const Rec& rec, int64_t day_start) {
  static constexpr std::string_view kTypeHead[] = {"{\"type\":\"sale\",\"ts\":",
                                                   "{\"type\":\"return\",\"ts\":",
                                                   "{\"type\":\"inventory\",\"ts\":",
                                                   "{\"type\":\"price\",\"ts\":",
                                                   "{\"type\":\"competitor_price\",\"ts\":",
                                                   "{\"type\":\"item\",\"ts\":",
                                                   "{\"type\":\"promotion\",\"ts\":",
                                                   "{\"type\":\"metric\",\"ts\":",
                                                   "{\"type\":\"feedback\",\"ts\":"};
  static constexpr std::string_view kKinds[] = {"snapshot", "receipt", "transfer_in",
                                                "transfer_out", "adjustment"};
  const uint64_t id = id_base_ + rec.id;
  const int64_t ts = day_start + rec.t;
  p = put(p, kTypeHead[rec.type]);
  // Timestamp rendering is a function of the event id, so a re-sent duplicate is identical.
  const uint64_t h = mix64(id ^ 0xabcdef);
  const unsigned form = static_cast<unsigned>(h % 100);
  const bool keyed = rec.type == kRecSale || rec.type == kRecReturn || rec.type == kRecInventory;
  if (form < 20) {
    p = put_i64(p, ts);
  } else {
    int offset = 0;
    if (form >= 85 && keyed) {
      offset = stores_[rec.a / static_cast<uint32_t>(o_.skus)].display_offset_min;
    } else if (form >= 85) {
      offset = kDisplayOffsetsMin[(h >> 32) % 8];
    }
    *p++ = '"';
    p = put_rfc3339(p, ts, offset);
    *p++ = '"';
  }
  p = put(p, ",\"event_id\":\"");
  p = put(p, id_prefix_);
  p = put_u64(p, id);
  *p++ = '"';
  if (keyed) {
    p = put(p, ",\"store\":\"");
    p = put(p, stores_[rec.a / static_cast<uint32_t>(o_.skus)].name);
    p = put(p, "\",\"sku\":\"");
    p = put(p, skus_[rec.a % static_cast<uint32_t>(o_.skus)].name);
    *p++ = '"';
  }
  switch (rec.type) {
    case kRecSale:
      p = put(p, ",\"qty\":");
      p = put_i64(p, rec.b);
      p = put(p, ",\"unit_price\":");
      p = put_fixed(p, rec.c, 2);
      if (rec.sub != 0) {
        p = put(p, ",\"channel\":\"");
        p = put(p, kChannels[rec.sub]);
        *p++ = '"';
      }
      if (rec.d != 0) {
        p = put(p, ",\"promo_id\":\"PR");
        p = put_i64(p, rec.d);
        *p++ = '"';
      }
      if (rec.flags & 1) p = put(p, ",\"currency\":\"EUR\"");
      break;
    case kRecReturn:
      p = put(p, ",\"qty\":");
      p = put_i64(p, rec.b);
      if (rec.sub == 0) p = put(p, ",\"restock\":false");
      if (rec.sub == 1) p = put(p, ",\"restock\":true");
      break;
    case kRecInventory:
      p = put(p, ",\"kind\":\"");
      p = put(p, kKinds[rec.sub]);
      p = put(p, "\",\"qty\":");
      p = put_i64(p, rec.b);
      if (rec.c >= 0) {
        p = put(p, ",\"on_order\":");
        p = put_i64(p, rec.c);
      }
      if (rec.d >= 0) {
        p = put(p, ",\"expires\":\"");
        p = put_date(p, rec.d);
        *p++ = '"';
      }
      break;
    case kRecPrice:
      p = put(p, ",\"sku\":\"");
      p = put(p, skus_[rec.a].name);
      p = put(p, "\",\"price\":");
      p = put_fixed(p, rec.b, 2);
      if (rec.sub == 1) {
        p = put(p, ",\"store\":\"");
        p = put(p, stores_[static_cast<size_t>(rec.d)].name);
        *p++ = '"';
      }
      if (rec.c >= 0) {
        p = put(p, ",\"cost\":");
        p = put_fixed(p, rec.c, 2);
      }
      break;
    case kRecCompetitor:
      p = put(p, ",\"sku\":\"");
      p = put(p, skus_[rec.a].name);
      p = put(p, "\",\"competitor\":\"");
      p = put(p, kCompetitors[rec.d]);
      p = put(p, "\",\"price\":");
      p = put_fixed(p, rec.b, 2);
      if (rec.c > 0) {
        p = put(p, ",\"store\":\"");
        p = put(p, stores_[static_cast<size_t>(rec.c - 1)].name);
        *p++ = '"';
      }
      break;
    case kRecMetric:
      p = put(p, ",\"series\":\"pos_latency_ms.");
      p = put(p, stores_[rec.a].name);
      p = put(p, "\",\"value\":");
      p = put_fixed(p, rec.b, 1);
      break;
    default:  // item, promotion, feedback: pre-rendered body
      p = put(p, std::string_view(pool_.data() + rec.c, static_cast<size_t>(rec.d)));
      break;
  }
  p = put(p, "}\n");
  return p;
}

char* Generator::write_bad(char* p, uint64_t n, int64_t ts) {
  const size_t code = n % kGeneratedBadCodes.size();
  const uint64_t v = n / kGeneratedBadCodes.size();
  char tsbuf[40];
  char* te = tsbuf;
  *te++ = '"';
  te = put_rfc3339(te, ts, 0);
  *te++ = '"';
  const std::string_view t(tsbuf, static_cast<size_t>(te - tsbuf));
  const std::string_view store = stores_[v % stores_.size()].name;
  const std::string_view sku = skus_[v % skus_.size()].name;
  auto sale_head = [&](char* q) {
    q = put(q, "{\"type\":\"sale\",\"ts\":");
    q = put(q, t);
    q = put(q, ",\"store\":\"");
    q = put(q, store);
    q = put(q, "\",\"sku\":\"");
    q = put(q, sku);
    return put(q, "\"");
  };
  auto inv_head = [&](char* q) {
    q = put(q, "{\"type\":\"inventory\",\"ts\":");
    q = put(q, t);
    q = put(q, ",\"store\":\"");
    q = put(q, store);
    q = put(q, "\",\"sku\":\"");
    q = put(q, sku);
    return put(q, "\"");
  };
  switch (code) {
    case 0:  // not_json
      switch (v % 3) {
        case 0:
          p = put(sale_head(p), ",\"qty\":1,\"unit_price\":2.49");
          break;  // truncated
        case 1:
          p = put(p, "POS-TERMINAL-7 HEARTBEAT ok");
          break;
        default:
          p = put(sale_head(p), ",,\"qty\":1}");
          break;
      }
      break;
    case 1:  // not_object
      switch (v % 3) {
        case 0:
          p = put(p, "[{\"type\":\"sale\"}]");
          break;
        case 1:
          p = put(p, "\"sale\"");
          break;
        default:
          p = put(p, "42");
          break;
      }
      break;
    case 2:  // missing_type
      p = put(p, "{\"ts\":");
      p = put(p, t);
      p = put(p, ",\"store\":\"");
      p = put(p, store);
      p = put(p, "\",\"sku\":\"");
      p = put(p, sku);
      p = put(p, "\",\"qty\":1,\"unit_price\":1.99}");
      break;
    case 3:  // unknown_type
      p = put(p, v % 2 == 0 ? "{\"type\":\"refund\",\"ts\":" : "{\"type\":\"SALE\",\"ts\":");
      p = put(p, t);
      p = put(p, ",\"store\":\"");
      p = put(p, store);
      p = put(p, "\",\"sku\":\"");
      p = put(p, sku);
      p = put(p, "\",\"qty\":1}");
      break;
    case 4:  // missing_field
      switch (v % 4) {
        case 0:
          p = put(sale_head(p), ",\"unit_price\":1.99}");
          break;  // no qty
        case 1:
          p = put(inv_head(p), ",\"qty\":5}");
          break;  // no kind
        case 2:
          p = put(p, "{\"type\":\"metric\",\"ts\":");
          p = put(p, t);
          p = put(p, ",\"series\":\"pos_latency_ms.");
          p = put(p, store);
          p = put(p, "\"}");
          break;
        default:
          p = put(p, "{\"type\":\"price\",\"ts\":");
          p = put(p, t);
          p = put(p, ",\"price\":3.49}");  // no sku
          break;
      }
      break;
    case 5:  // wrong_type
      switch (v % 3) {
        case 0:
          p = put(sale_head(p), ",\"qty\":\"3\",\"unit_price\":1.99}");
          break;
        case 1:
          p = put(sale_head(p), ",\"qty\":2,\"unit_price\":\"cheap\"}");
          break;
        default:
          p = put(p, "{\"type\":\"metric\",\"ts\":");
          p = put(p, t);
          p = put(p, ",\"series\":\"pos_latency_ms.");
          p = put(p, store);
          p = put(p, "\",\"value\":\"high\"}");
          break;
      }
      break;
    case 6:  // out_of_range
      switch (v % 4) {
        case 0:
          p = put(sale_head(p), ",\"qty\":0,\"unit_price\":1.99}");
          break;
        case 1:
          p = put(sale_head(p), ",\"qty\":-2,\"unit_price\":1.99}");
          break;
        case 2:
          p = put(sale_head(p), ",\"qty\":1,\"unit_price\":-4.5}");
          break;
        default:
          p = put(inv_head(p), ",\"kind\":\"snapshot\",\"qty\":-7}");
          break;
      }
      break;
    case 7:  // bad_timestamp
      p = put(p, "{\"type\":\"sale\",\"ts\":");
      switch (v % 3) {
        case 0:
          p = put(p, "\"2026-13-45T99:00:00Z\"");
          break;
        case 1:
          p = put(p, "\"yesterday\"");
          break;
        default:
          p = put(p, "\"2026-01-01 10:00\"");
          break;
      }
      p = put(p, ",\"store\":\"");
      p = put(p, store);
      p = put(p, "\",\"sku\":\"");
      p = put(p, sku);
      p = put(p, "\",\"qty\":1,\"unit_price\":1.99}");
      break;
    default:  // bad_enum
      switch (v % 3) {
        case 0:
          p = put(inv_head(p), ",\"kind\":\"teleport\",\"qty\":3}");
          break;
        case 1:
          p = put(p, "{\"type\":\"feedback\",\"ts\":");
          p = put(p, t);
          p = put(p, ",\"alert_id\":\"a-0001\",\"action\":\"like\"}");
          break;
        default:
          p = put(sale_head(p), ",\"qty\":1,\"unit_price\":1.99,\"channel\":\"pigeon\"}");
          break;
      }
      break;
  }
  *p++ = '\n';
  stats_.bad++;
  stats_.bad_by_code[code]++;
  return p;
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
      p = write_rec(p, rec, day_start);
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
          p = write_bad(p, stats_.bad, day_start + rec.t);
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
  init_model();
  init_keys();
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

double price_demand_multiplier(double price, double base_price, double elasticity) {
  if (!(price > 0) || !(base_price > 0)) return 1.0;
  return std::pow(price / base_price, elasticity);
}

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
  days = days_from_civil(y, m, d);
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
