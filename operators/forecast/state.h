#pragma once
// Forecast operator state (operators/forecast/forecast.h): the per-key hot state, the pooled
// seasonal profiles, the category regressors and promotions (the "globals"), and their byte
// codec. Records in namespace "op/forecast" (docs/forecast.md):
//   'k' + be32 KeyId   -> version byte + KeyState (byte copy; trivially copyable)
//   'q' + be32 KeyId   -> version byte + the first kHotBytes of KeyState: what an event
//                         changes (open window, stock, prices), written instead of 'k' when
//                         only that changed since the key's last 'k'; restore lays it over
//                         the 'k' record. Written 'k' records delete the key's 'q'.
//   'h' + be32 KeyId   -> version byte + OwnHours (hourly buckets only)
//   'p' + be32 group   -> version byte + u64 (category << 32 | store id) + PoolProfile
//   's' + sku name     -> version byte + u16 category id
//   'g'                -> the globals blob (u32 version first)
// Checkpoints are local: host byte order.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "operators/forecast/model.h"
#include "stream/bytes.h"
#include "stream/state_store.h"
#include "stream/status.h"

namespace sw::forecast {

inline constexpr std::string_view kNamespace = "op/forecast";
inline constexpr uint8_t kStateVersion = 2;     // 'k', 'h', 'p', 's' records
inline constexpr uint32_t kGlobalsVersion = 2;  // the 'g' blob

inline constexpr int kRing = 28;    // recent buckets kept per key (re-fit, residuals)
inline constexpr int kPending = 4;  // open buckets per key (out-of-order tolerance)
// Long-horizon interval anchor: every kLongEvery-th close (bucket index multiple of
// kLongEvery) stores the full forecast for the bucket kLongAnchor ahead; when that bucket
// closes, its out-of-sample standardised residual updates the anchor's quantiles.
inline constexpr int kLongAnchor = 91;
inline constexpr int kLongEvery = 7;
inline constexpr int kLongSlots = kLongAnchor / kLongEvery;  // 13

enum class Model : uint8_t { kSmoothing = 0, kCrostonSba = 1, kTsb = 2 };
std::string_view model_name(Model m);

//! Floor division and the matching non-negative remainder (bucket -> day, ring slots).
constexpr int32_t floor_div(int32_t a, int32_t b) {
  int32_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
constexpr int floor_mod(int32_t a, int32_t b) {
  return static_cast<int>(a - floor_div(a, b) * b);
}
//! Slot of `bucket` in a key's ring of recent buckets.
constexpr int ring_slot(int32_t bucket) {
  return floor_mod(bucket, kRing);
}

//! Per-key hot state (trivially copyable: snapshots copy it byte for byte).
struct KeyState {
  int32_t open_bucket = 0;  // oldest open bucket index
  uint32_t group = 0;       // index into groups_ (category x store)
  uint16_t category = 0;
  uint8_t flags = 0;  // kStarted, kStockKnown, kTimerSet, kDrift
  uint8_t model = 0;  // Model
  float pend_qty[kPending] = {};
  float pend_oos_s[kPending] = {};
  int64_t oos_since_ms = -1;  // start of the current out-of-stock spell, -1 in stock
  int64_t oos_last_from = 0;  // the last completed spell, not yet added to pend_oos_s
  int64_t oos_last_to = 0;
  int32_t far_bucket = INT32_MIN;  // one bucket beyond the open window (sparse keys)
  float far_qty = 0;
  float on_hand = 0;
  float price = 0;      // current own price (0 unknown)
  float ref_price = 0;  // slow average of the own price (regular price)
  float annual = 0;     // slow (yearly) level, for learning month-of-year profiles
  LevelTrend lt;
  CrostonState croston;
  TsbState tsb;
  DemandPattern pattern;
  float mse[3] = {};      // rolling squared one-step error per Model
  float dow_num[7] = {};  // own day-of-week profile (ratio of sums)
  float dow_den[7] = {};
  float moy_num[12] = {};  // own month-of-year profile (ratio of sums, against `annual`)
  float moy_den[12] = {};
  float q_lo[4] = {};  // standardised residual quantiles at horizon anchors 1, 7, 28, 91
  float q_hi[4] = {};
  float long_f[kLongSlots] = {};  // forecast for origin + kLongAnchor per weekly origin (<0 none)
  uint16_t long_n = 0;            // out-of-sample residuals learned at the long anchor
  float ring_y[kRing] = {};       // demand of the last kRing closed buckets
  float ring_base[kRing] = {};    // deseasonalised one-step base forecast made at each close
  uint32_t ring_censored = 0;     // bit per ring slot
  uint32_t closes = 0;            // buckets closed
  uint32_t learned = 0;           // uncensored buckets learned from
  AccuracySums acc_long;
  AccuracySums acc_short;
  int32_t drift_bucket = -1;  // bucket at which the open drift alert fired
};
enum Flag : uint8_t {
  kStarted = 1,
  kStockKnown = 2,
  kTimerSet = 4,
  kDrift = 8,
  kInit = 16,
  kPrior = 32
};

static_assert(std::is_trivially_copyable_v<KeyState>);
static_assert(std::is_standard_layout_v<KeyState>);
//! The leading bytes of KeyState that events (sales, returns, inventory, prices) change:
//! everything before the models (`lt`). Bucket closes and key initialisation change the rest.
inline constexpr size_t kHotBytes = offsetof(KeyState, lt);
static_assert(kRing <= 32, "ring_censored is a 32-bit mask");

// Own hour-of-day profile per key (ratio of sums), kept only with hourly buckets.
//! Mean of the horizon last written for a key (emit: on_change; 'e' records), -1 = none yet.
struct EmittedMean {
  float mean = -1;
};

struct OwnHours {
  float num[24] = {};
  float den[24] = {};
};

struct PoolProfile {
  Profile<7, double> dow;
  Profile<12, double> moy;
  Profile<24, double> hod;
  double level_sum = 0;  // discounted sum of established keys' levels (cold-start prior)
  double level_n = 0;
  int32_t last_day = INT32_MIN;
};
struct CategoryState {
  PoolProfile pool;
  double promo_xr = 0, promo_xx = 0;  // weighted regression of log-uplift on discount
  double price_xr = 0, price_xx = 0;  // weighted regression of log-ratio on log price ratio
  // Promotion frequency (discounted key-bucket counts) and announcement lead, for the
  // expected effect of promotions not announced yet at far horizons.
  double promoted = 0, observed = 0, discount_sum = 0;
  double lead_days = 0, lead_n = 0;
};
struct Promo {
  std::string store;  // empty = all stores
  int64_t start_ms = 0, end_ms = 0;
  double discount = 0;  // fraction 0..1
};

//! Operator-wide state, persisted as one blob ('g').
struct Globals {
  int64_t max_event_ms = INT64_MIN;
  uint64_t late_sales = 0;
  uint64_t censored_buckets = 0;
  uint64_t spilled_sales = 0;
  AccuracySums overall;
  int32_t overall_day = INT32_MIN;
  std::vector<CategoryState> categories;
  std::vector<std::string> category_names;
  absl::flat_hash_map<std::string, uint16_t> category_ids;      // derived from category_names
  absl::flat_hash_map<std::string, std::vector<Promo>> promos;  // by sku
};

std::string encode_globals(const Globals& g);
//! Replaces `g` (categories, their ids and promotions included) from an encoded blob.
Status decode_globals(std::string_view bytes, Globals& g);

//! Record key: a one-letter record kind ('k', 'h', 'p') and the big-endian id.
std::string record_key(char kind, uint32_t id);
//! Sets `value` to a fixed-size record: the version byte and the bytes of `v`.
template <typename T>
void encode_record(std::string& value, const T& v) {
  static_assert(std::is_trivially_copyable_v<T>);
  value.clear();
  value.push_back(static_cast<char>(kStateVersion));
  value.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
//! A pool record: the group's key (category << 32 | store id) and its profiles.
void encode_pool(std::string& value, uint64_t group_key, const PoolProfile& p);
//! Restores every pool record into `groups`/`group_keys` (indexed by group id; a missing
//! id's key is UINT64_MAX).
Status restore_pools(const StateStore& store, std::vector<PoolProfile>& groups,
                     std::vector<uint64_t>& group_keys);
//! Restores every sku -> category record.
Status restore_sku_categories(const StateStore& store,
                              absl::flat_hash_map<std::string, uint16_t>& out);

//! Restores the fixed-size records of one kind (record_key(kind, id) -> version byte + T)
//! into `out`, indexed by id; a malformed record is reported as `what`.
template <typename T>
Status restore_records(const StateStore& store, char kind, std::vector<T>& out, const char* what) {
  bool malformed = false;
  SW_RETURN_IF_ERROR(store.scan_prefix(kNamespace, std::string_view(&kind, 1),
                                       [&](std::string_view key, std::string_view value) {
                                         if (key.size() != 5 || value.size() != 1 + sizeof(T) ||
                                             static_cast<uint8_t>(value[0]) != kStateVersion) {
                                           malformed = true;
                                           return false;
                                         }
                                         const uint32_t id = from_be32(key.substr(1));
                                         if (id >= out.size())
                                           out.resize(static_cast<size_t>(id) + 1);
                                         std::memcpy(&out[id], value.data() + 1, sizeof(T));
                                         return true;
                                       }));
  if (malformed) return Status::corruption(std::string("op/forecast: malformed ") + what);
  return Status::ok();
}

//! Lays every 'q' record (the hot prefix of a key's state) over `states`; calls `seen(id)`
//! per record. A 'q' record of a key without state is a corruption.
template <typename T>
Status restore_hot(const StateStore& store, std::vector<T>& states,
                   const std::function<void(uint32_t)>& seen) {
  bool malformed = false;
  SW_RETURN_IF_ERROR(
      store.scan_prefix(kNamespace, "q", [&](std::string_view key, std::string_view value) {
        const uint32_t id = key.size() == 5 ? from_be32(key.substr(1)) : 0;
        if (key.size() != 5 || value.size() != 1 + kHotBytes ||
            static_cast<uint8_t>(value[0]) != kStateVersion || id >= states.size()) {
          malformed = true;
          return false;
        }
        std::memcpy(static_cast<void*>(&states[id]), value.data() + 1, kHotBytes);
        seen(id);
        return true;
      }));
  if (malformed) return Status::corruption("op/forecast: malformed hot key state record");
  return Status::ok();
}

}  // namespace sw::forecast
