#pragma once
// price operator state (operators/price/price.h): per (store, sku) key, per SKU and per
// category, and their versioned byte codecs. Records (little-endian, first byte the record
// version, docs/price.md "State"):
//   op/price/keys        be32 block  -> per key of the block's kKeysPerBlock ids that exists:
//                                       u8 offset, u32 length, encode_key()
//   op/price/skus        sku name    -> encode_sku()
//   op/price/categories  name        -> encode_category()
// A record of an unknown version fails restore with a state-version error.

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "operators/price/elasticity.h"
#include "operators/price/guardrails.h"
#include "stream/operator.h"

namespace sw::price {

inline constexpr std::string_view kKeyNs = "op/price/keys";
inline constexpr std::string_view kSkuNs = "op/price/skus";
inline constexpr std::string_view kCategoryNs = "op/price/categories";
inline constexpr uint8_t kRecordVersion = 1;
inline constexpr uint32_t kKeysPerBlock = 64;

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr int64_t kNever = std::numeric_limits<int64_t>::min();

enum Reason : uint8_t {
  kCompetitorUndercut,
  kOverstockMarkdown,
  kExpiryMarkdown,
  kStockoutRisk,
  kElasticityOpportunity,
};
inline constexpr int kReasonCount = 5;
std::string_view reason_name(int reason);

enum Approval : uint8_t { kAuto, kReview, kEscalate };
inline constexpr int kApprovalCount = 3;
std::string_view approval_name(int approval);

struct CompetitorPrice {
  std::string competitor;
  double price = 0;
  int64_t ts_ms = 0;
};

//! Lifecycle of one (key, reason) trigger.
struct TriggerState {
  int64_t since_ms = kNever;  // open episode start (kNever: none); the id derives from it
  uint8_t clear_count = 0;    // consecutive daily evaluations with the condition false
  int32_t clear_day = 0;      // local day of the last counted clear evaluation
  uint8_t approval = 0;       // the episode's approval class (its resolution repeats it)
  // Before it opens: daily evaluations in a row with the condition true (confirm_days).
  uint8_t hold_count = 0;
  int32_t hold_day = 0;  // local day of the last counted evaluation
  bool open() const { return since_ms != kNever; }
};

struct KeyState {
  static constexpr int32_t kNoDay = std::numeric_limits<int32_t>::min();
  int32_t day = kNoDay;  // open local day
  int32_t history_days = 0;
  uint32_t sku = 0;  // index into the operator's SKU table
  double today_units = 0, today_revenue = 0;
  double demand_ewma = kNaN;    // EWMA of units per day (the demand fallback without a forecast)
  double log_level = kNaN;      // EWMA of ln(units + 0.5) per day: the regression baseline
  double log_ref_price = kNaN;  // EWMA of ln(price) with the same weight: the reference price
  double spell_units = 0, spell_log_price = 0, spell_first_log_price = 0;  // open price spell
  int32_t spell_days = 0;
  // Forecast baseline (DemandView::baseline) of the open day, taken when the day opened
  // (ex ante), and its sums over the open spell's days.
  double day_base = kNaN, day_log_ref = kNaN;
  double spell_base = 0, spell_log_ref = 0;
  int32_t spell_base_days = 0;
  double price = kNaN;  // store-specific regular price (NaN: the SKU's)
  double last_sale_price = kNaN;
  double cost = kNaN, min_price = kNaN, max_price = kNaN, map_price = kNaN;  // store overrides
  int64_t last_change_ms = kNever;               // last store-specific price change
  int64_t promo_start_ms = 0, promo_end_ms = 0;  // store promotion window
  Rls rls;
  std::array<TriggerState, kReasonCount> triggers{};
  std::vector<CompetitorPrice> competitors;  // store-specific competitor prices
  bool dirty = false;
};

struct SkuState {
  std::string name, category;
  uint32_t category_id = UINT32_MAX;
  double price = kNaN, cost = kNaN, min_price = kNaN, max_price = kNaN, map_price = kNaN;
  double shelf_life_days = kNaN;
  int8_t perishable = -1;
  int64_t last_change_ms = kNever;
  int64_t promo_start_ms = 0, promo_end_ms = 0;                // chain-wide promotion window
  int32_t last_obs_day = std::numeric_limits<int32_t>::min();  // newest day folded into rls
  Rls rls;
  std::vector<CompetitorPrice> competitors;  // chain-wide competitor prices
  bool dirty = false;
};

struct CategoryState {
  std::string name;
  int32_t last_obs_day = std::numeric_limits<int32_t>::min();  // newest day folded into rls
  Rls rls;
  bool dirty = false;
};

//! One key's figures at one instant: what the operator decides from and a trigger shows.
struct Facts {
  double price = kNaN;  // current regular price (NaN: unknown)
  double cost = kNaN;   // NaN: unknown
  Estimate elasticity;  // combined: key shrunk to SKU shrunk to category shrunk to the prior
  Estimate key_estimate, sku_estimate, category_estimate;  // var <= 0: none
  Estimate sku_combined, category_combined;
  uint32_t key_observations = 0;
  double demand_per_day = 0;  // expected units/day at the current price
  double demand_sd = 0;
  bool demand_from_forecast = false;
  bool stock_known = false;
  StockPosition stock;
  double days_of_cover = kNaN;
  double lead_time_days = 0;
  double lead_time_demand = 0;
  double lead_time_demand_sd = 0;
  bool perishable = false;
  double shelf_life_days = kNaN;
  double at_risk_units = 0;       // perishables: units that will not sell before they expire
  double at_risk_sd = 0;          // sd of the units sold before the expiry that binds
  double at_risk_days = 0;        // days to that expiry
  double expiry_rate_needed = 0;  // units/day that would sell them in time
  bool lots_tracked = false;
  double min_competitor = kNaN;        // lowest recent competitor price
  double confirmed_competitor = kNaN;  // k-th lowest over competitors (competitor_min_sources)
  int competitor_sources = 0;          // competitors with a recent price
  std::vector<const CompetitorPrice*> competitors;  // recent, store-specific first
  bool on_promotion = false;
  bool open_anomaly = false;
  bool in_cooldown = false;
  int32_t history_days = 0;
  Limits limits;
  std::string category;
};

//! Expected units/day at `price`: d0 · E[(price/p0)^b] with b ~ N(estimate, var), i.e.
//! d0 · exp(b·r + var·r²/2), r = ln(price/p0).
double expected_units(const Facts& f, double price);
//! Expected margin per day at `price`: (price − cost) · expected_units (NaN without cost).
double expected_margin(const Facts& f, double price);

void encode_key(const KeyState& s, std::string& out);
[[nodiscard]] bool decode_key(std::string_view in, KeyState& s);
void encode_sku(const SkuState& s, std::string& out);
[[nodiscard]] bool decode_sku(std::string_view in, SkuState& s);
void encode_category(const CategoryState& s, std::string& out);
[[nodiscard]] bool decode_category(std::string_view in, CategoryState& s);

}  // namespace sw::price
