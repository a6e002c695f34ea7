// The price operator (operators/price/): the RLS estimator against a closed-form weighted
// least-squares fit, the guardrails as a property test, the margin optimum clipped by each
// guardrail in turn, the trigger reasons and approval classes with fake inventory and anomaly
// views, lifecycle and cool-down, restore invariance, and bad input.

#include "operators/price/price.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "operators/anomaly/anomaly.h"
#include "operators/forecast/forecast.h"
#include "operators/price/elasticity.h"
#include "operators/price/guardrails.h"
#include "stream/config.h"
#include "stream/decoder.h"
#include "tests/support/fake_context.h"

namespace sw {
namespace {

using testing::FakeContext;
using testing::FakeStateStore;
using testing::item;
using testing::sale;

constexpr int64_t kT0 = 1793577600000;  // 2026-11-02T00:00:00Z, a Monday
constexpr int64_t kDay = 86'400'000;
constexpr int64_t kHour = 3'600'000;
int64_t at(int day, int hour = 12) {
  return kT0 + day * kDay + hour * kHour;
}

// ---- fakes ------------------------------------------------------------------------------

class FakeInventory final : public InventoryView {
 public:
  bool position(KeyId key, StockPosition& out) const override {
    auto it = positions.find(key);
    if (it == positions.end()) return false;
    out = it->second;
    return true;
  }
  void lots(KeyId key, std::vector<StockLot>& out) const override {
    auto it = lot_table.find(key);
    if (it != lot_table.end()) out.insert(out.end(), it->second.begin(), it->second.end());
  }
  std::map<KeyId, StockPosition> positions;
  std::map<KeyId, std::vector<StockLot>> lot_table;
};

using FakeAnomalies = testing::OpenAnomalies;

//! FakeContext with the inventory and anomaly views settable.
class PriceContext : public FakeContext {
 public:
  const OperatorViews& views() const override { return views_; }
  OperatorViews views_;
};

Event price_event(int64_t ts, std::string_view sku, double p, double cost = kUnset,
                  std::string_view store = {}) {
  return testing::price(ts, sku, p, cost, store);
}

Event competitor(int64_t ts, std::string_view sku, std::string_view name, double p,
                 std::string_view store = {}) {
  Event e;
  e.type = EventType::kCompetitorPrice;
  e.ts_ms = ts;
  e.sku = sku;
  e.store = store;
  e.competitor = name;
  e.price = p;
  return e;
}

Event promotion(int64_t ts, std::string_view sku, int64_t start, int64_t end) {
  Event e;
  e.type = EventType::kPromotion;
  e.ts_ms = ts;
  e.sku = sku;
  e.promo_id = "P1";
  e.start_ms = start;
  e.end_ms = end;
  e.discount_pct = 20;
  return e;
}

PriceSettings settings() {
  return PriceSettings::from_config(Config::from_yaml("{}"));
}

// One competitor below the gap is enough (the default asks for two).
PriceSettings one_source() {
  PriceSettings s = settings();
  s.competitor_min_sources = 1;
  return s;
}

std::string field(const std::string& json, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  size_t p = json.find(k);
  if (p == std::string::npos) return "";
  p += k.size();
  size_t e = p;
  if (json[p] == '"') {
    e = json.find('"', p + 1);
    return json.substr(p + 1, e - p - 1);
  }
  int depth = 0;
  while (e < json.size()) {
    char c = json[e];
    if (c == '[' || c == '{') ++depth;
    if ((c == ']' || c == '}')) {
      if (depth == 0) break;
      --depth;
    }
    if (c == ',' && depth == 0) break;
    ++e;
  }
  return json.substr(p, e - p);
}

// ---- estimator --------------------------------------------------------------------------

// Closed form of what RLS with forgetting minimises: Σ λ^(n−i)·w_i·(y_i − a − b·x_i)² plus the
// prior term λ^n·(θ − θ0)ᵀ·P0⁻¹·(θ − θ0).
void closed_form(const std::vector<double>& x, const std::vector<double>& y,
                 const std::vector<double>& w, double lambda, const price::Rls& prior,
                 Eigen::Vector2d& theta, Eigen::Matrix2d& p) {
  const size_t n = x.size();
  Eigen::Matrix2d p0;
  p0 << prior.p00, prior.p01, prior.p01, prior.p11;
  Eigen::Matrix2d info = std::pow(lambda, static_cast<double>(n)) * p0.inverse();
  Eigen::Vector2d rhs = info * Eigen::Vector2d(prior.a, prior.b);
  for (size_t i = 0; i < n; ++i) {
    const double f = std::pow(lambda, static_cast<double>(n - 1 - i)) * w[i];
    const Eigen::Vector2d phi(1.0, x[i]);
    info += f * phi * phi.transpose();
    rhs += f * phi * y[i];
  }
  theta = info.ldlt().solve(rhs);
  p = info.inverse();
}

TEST(PriceElasticityTest, RlsMatchesClosedFormLeastSquares) {
  for (double lambda : {1.0, 0.99, 0.95}) {
    std::mt19937_64 rng(42);
    std::normal_distribution<double> noise(0, 0.3);
    std::uniform_real_distribution<double> u(-0.3, 0.3), wu(0.1, 1.0);
    std::vector<double> x, y, w;
    const price::Rls prior = price::Rls::with_prior(0, -1.5, 100, 100);
    price::Rls r = prior;
    for (int i = 0; i < 300; ++i) {
      x.push_back(u(rng));
      w.push_back(wu(rng));
      y.push_back(0.2 - 2.1 * x.back() + noise(rng) / std::sqrt(w.back()));  // var σ²/w
      r.update(x.back(), y.back(), w.back(), lambda);
    }
    Eigen::Vector2d theta;
    Eigen::Matrix2d p;
    closed_form(x, y, w, lambda, prior, theta, p);
    EXPECT_NEAR(r.a, theta(0), 1e-8) << lambda;
    EXPECT_NEAR(r.b, theta(1), 1e-8) << lambda;
    EXPECT_NEAR(r.p11, p(1, 1), 1e-8 * std::max(1.0, p(1, 1))) << lambda;
    EXPECT_NEAR(r.p01, p(0, 1), 1e-8 * std::max(1.0, std::fabs(p(0, 1)))) << lambda;
    EXPECT_NEAR(r.b, -2.1, 0.2) << lambda;
    // The standard error is of the right size: the residual sd is 0.3 at unit weight.
    EXPECT_NEAR(std::sqrt(r.residual_variance(0, 0)), 0.3, 0.06) << lambda;
  }
}

TEST(PriceElasticityTest, ForgettingFollowsADriftingElasticity) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0, 0.2);
  std::uniform_real_distribution<double> u(-0.3, 0.3);
  price::Rls slow = price::Rls::with_prior(0, -1.5, 100, 100), fast = slow;
  for (int i = 0; i < 600; ++i) {
    const double b = i < 300 ? -1.0 : -3.0;
    const double x = u(rng), y = b * x + noise(rng);
    slow.update(x, y, 1, 1.0);
    fast.update(x, y, 1, 0.98);
  }
  EXPECT_NEAR(fast.b, -3.0, 0.25);
  EXPECT_GT(slow.b, -2.4);  // without forgetting it sits between the two regimes
}

TEST(PriceElasticityTest, ShrinkageWeighsByInverseVariances) {
  const price::Estimate own{-3, 0.25}, pooled{-1, 0.25};
  const price::Estimate s = price::shrink(own, pooled, 0);
  EXPECT_DOUBLE_EQ(s.value, -2);
  EXPECT_DOUBLE_EQ(s.var, 0.125);
  // No own estimate: the pool, widened by the spread of members around it.
  const price::Estimate none = price::shrink({0, 0}, pooled, 0.5);
  EXPECT_DOUBLE_EQ(none.value, -1);
  EXPECT_DOUBLE_EQ(none.var, 0.5);
  // A very noisy own estimate barely moves the pooled one.
  EXPECT_NEAR(price::shrink({-3, 1e6}, pooled, 0).value, -1, 1e-5);
}

// ---- guardrails -------------------------------------------------------------------------

TEST(PriceGuardrailsTest, PropertyNoProposalEverBreaksAGuardrail) {
  std::mt19937_64 rng(2026);
  std::uniform_real_distribution<double> u(0, 1);
  int proposals = 0, conflicts = 0, bound = 0;
  for (int i = 0; i < 10000; ++i) {
    price::Limits l;
    l.current_price = std::round((0.2 + 50 * u(rng)) * 100) / 100;
    auto maybe = [&](double p, double v) { return u(rng) < p ? v : 0.0; };
    l.cost = u(rng) < 0.85 ? l.current_price * (0.2 + 1.0 * u(rng)) : kUnset;
    l.min_margin = u(rng) < 0.5 ? 0.3 * u(rng) : 0;
    l.map_price = maybe(0.3, l.current_price * (0.5 + 0.7 * u(rng)));
    l.min_price = maybe(0.4, l.current_price * (0.4 + 0.7 * u(rng)));
    l.max_price = maybe(0.4, l.current_price * (0.8 + 0.9 * u(rng)));
    l.max_step = u(rng) < 0.8 ? 0.01 + 0.3 * u(rng) : 0;
    l.ending_cents = u(rng) < 0.3 ? -1 : static_cast<int>(u(rng) * 100);
    if (u(rng) < 0.2) l.ending_cents = 99;
    if (u(rng) < 0.3) {  // ".x9"-style: the last cent digit only
      l.ending_modulus = 10;
      if (l.ending_cents >= 0) l.ending_cents %= 10;
    }
    // Targets: a competitor price, a margin optimum, a far-off or non-finite one.
    double target = l.current_price * (0.3 + 1.5 * u(rng));
    if (u(rng) < 0.05) target = u(rng) < 0.5 ? INFINITY : 0.0;
    const price::Proposal p = price::propose(target, l);
    if (!p.has_price) {
      ++conflicts;
      EXPECT_FALSE(p.conflict.empty()) << i;
      continue;
    }
    ++proposals;
    if (p.bound_by != 0) ++bound;
    EXPECT_TRUE(price::admissible(p.price, l)) << i << " price " << p.price;
    // Each limit checked on its own, not only through admissible().
    constexpr double kTol = 1e-9;
    if (std::isfinite(l.cost)) {
      EXPECT_GE(p.price, l.cost * (1 + l.min_margin) - kTol) << i;
    }
    if (l.map_price > 0) {
      EXPECT_GE(p.price, l.map_price - kTol) << i;
    }
    if (l.min_price > 0) {
      EXPECT_GE(p.price, l.min_price - kTol) << i;
    }
    if (l.max_price > 0) {
      EXPECT_LE(p.price, l.max_price + kTol) << i;
    }
    if (l.max_step > 0) {
      EXPECT_LE(std::fabs(p.price / l.current_price - 1), l.max_step + 1e-9) << i;
    }
    // Never moves against the target (once clipped to the limits: a current price below a
    // floor must rise whatever the target).
    const price::Window w = price::window(l);
    const double clipped = std::clamp(target, w.lo, w.hi);
    if (clipped > l.current_price + 1e-9) {
      EXPECT_GE(p.price, l.current_price - 1e-9) << i;
    } else if (clipped < l.current_price - 1e-9) {
      EXPECT_LE(p.price, l.current_price + 1e-9) << i;
    }
    const int64_t cents = std::llround(p.price * 100);
    EXPECT_NEAR(static_cast<double>(cents), p.price * 100, 1e-6) << i;
    if (l.ending_cents >= 0) {
      EXPECT_EQ(cents % l.ending_modulus, l.ending_cents) << i;
    }
  }
  // The generator exercises both outcomes and clipping.
  EXPECT_GT(proposals, 5000);
  EXPECT_GT(conflicts, 100);
  EXPECT_GT(bound, 1000);
}

TEST(PriceGuardrailsTest, ConflictsAreNamed) {
  price::Limits l;
  l.current_price = 10;
  l.cost = 5;
  l.map_price = 12;
  l.max_price = 11;
  price::Proposal p = price::propose(10, l);
  EXPECT_FALSE(p.has_price);
  EXPECT_NE(p.conflict.find("map"), std::string::npos) << p.conflict;
  EXPECT_NE(p.conflict.find("max_price"), std::string::npos) << p.conflict;
  // Cost above the maximum price.
  l = price::Limits{};
  l.current_price = 10;
  l.cost = 12;
  l.max_price = 11;
  p = price::propose(10, l);
  EXPECT_FALSE(p.has_price);
  EXPECT_NE(p.conflict.find("min_margin"), std::string::npos) << p.conflict;
  // Cost rose far above the price: the floor is more than one step away.
  l = price::Limits{};
  l.current_price = 4.99;
  l.cost = 6;
  l.max_step = 0.1;
  p = price::propose(7, l);
  EXPECT_FALSE(p.has_price);
  EXPECT_NE(p.conflict.find("max_step"), std::string::npos) << p.conflict;
}

// p* = c·b/(1+b) for constant elasticity; then each guardrail in turn clips it.
TEST(PriceGuardrailsTest, OptimumClippedByEachGuardrailInTurn) {
  PriceFacts f;
  f.price = 2.50;
  f.cost = 2.0;
  f.elasticity = {-3.0, 0.0};
  f.demand_per_day = 10;
  const double star = PriceOperator::best_margin_price(f, 0, INFINITY);
  EXPECT_NEAR(star, 2.0 * -3.0 / (1 - 3.0), 1e-9);  // 3.00
  // With uncertainty in b the expected margin is maximised elsewhere, never on a worse price.
  PriceFacts g = f;
  g.elasticity.var = 0.25;
  const double star_u = PriceOperator::best_margin_price(g, 0, INFINITY);
  EXPECT_GE(price::expected_margin(g, star_u), price::expected_margin(g, 3.0) - 1e-12);

  price::Limits base;
  base.current_price = 2.50;
  base.cost = 2.0;
  base.ending_cents = -1;
  struct Case {
    const char* name;
    void (*set)(price::Limits&);
    double want;
    uint32_t bound_by;
  };
  const Case cases[] = {
      {"none", [](price::Limits&) {}, 3.00, 0},
      {"min_margin", [](price::Limits& l) { l.min_margin = 0.6; }, 3.20, price::kMinMargin},
      {"map", [](price::Limits& l) { l.map_price = 3.5; }, 3.50, price::kMap},
      {"min_price", [](price::Limits& l) { l.min_price = 3.3; }, 3.30, price::kMinPrice},
      {"max_price", [](price::Limits& l) { l.max_price = 2.8; }, 2.80, price::kMaxPrice},
      {"max_step", [](price::Limits& l) { l.max_step = 0.1; }, 2.75, price::kMaxStep},
      {"price_ending", [](price::Limits& l) { l.ending_cents = 99; }, 2.99, 0},
      {"max_step+ending",
       [](price::Limits& l) {
         l.max_step = 0.1;
         l.ending_cents = 69;
       },
       2.69, price::kMaxStep},
  };
  // An ending that only fits below the current price cannot serve a raise: a conflict.
  price::Limits down = base;
  down.max_step = 0.1;
  down.ending_cents = 49;  // the only .49 price in [2.25, 2.75] is 2.49 < 2.50
  EXPECT_FALSE(price::propose(star, down).has_price);
  EXPECT_NE(price::propose(star, down).conflict.find("price_ending"), std::string::npos);
  for (const Case& c : cases) {
    price::Limits l = base;
    c.set(l);
    const price::Proposal p = price::propose(star, l);
    ASSERT_TRUE(p.has_price) << c.name << ": " << p.conflict;
    EXPECT_NEAR(p.price, c.want, 1e-12) << c.name;
    EXPECT_EQ(p.bound_by, c.bound_by) << c.name;
    EXPECT_TRUE(price::admissible(p.price, l)) << c.name;
  }
}

// ---- operator ---------------------------------------------------------------------------

struct Harness {
  explicit Harness(PriceSettings s = settings()) : op(std::move(s)) {}
  PriceOperator op;
  PriceContext ctx;
  void send(const Event& e) { ctx.send(op, e); }
  std::vector<std::string> triggers(std::string_view reason = {}, std::string_view status = {}) {
    std::vector<std::string> out;
    for (const auto* r : ctx.of(OutputStream::kPriceTriggers)) {
      if (!reason.empty() && field(r->json, "reason") != reason) continue;
      if (!status.empty() && field(r->json, "status") != status) continue;
      out.push_back(r->json);
    }
    return out;
  }
  // A sku with cost 2.00 at 4.99, sold daily at S1 from day 0 to `days` − 1.
  void basic(int days, double cost = 2.0, std::string_view sku = "K1") {
    ItemFields it;
    it.category = "snacks";
    if (std::isfinite(cost)) it.cost = cost;
    send(item(at(0, 0), sku, it));
    send(price_event(at(0, 1), sku, 4.99));
    for (int d = 0; d < days; ++d) send(sale(at(d), "S1", sku, 3, 4.99));
  }
};

TEST(PriceOperatorTest, CompetitorUndercutFiresOnceAndResolvesWhenTheGapCloses) {
  Harness h;
  h.basic(40);
  // One competitor below the gap is not a market price yet (competitor_min_sources 2).
  h.send(competitor(at(38, 14), "K1", "C1", 4.49));
  h.send(sale(at(39), "S1", "K1", 3, 4.99));
  EXPECT_TRUE(h.triggers("competitor_undercut").empty());
  // A second one: the condition holds from day 39 (the competitor's evaluation), and fires on
  // its second daily evaluation (confirm_days 2), day 40.
  h.send(competitor(at(39, 15), "K1", "C2", 4.45));
  EXPECT_TRUE(h.triggers("competitor_undercut").empty());
  h.send(sale(at(40), "S1", "K1", 3, 4.99));
  auto fired = h.triggers("competitor_undercut", "firing");
  ASSERT_EQ(fired.size(), 1u);
  const std::string& j = fired[0];
  EXPECT_EQ(field(j, "type"), "price");
  EXPECT_EQ(field(j, "current_price"), "4.99");
  // The second-lowest competitor is 4.49 (10% below): the target is the edge of the tolerated
  // gap where the trigger resolves, 4.49 / (1 − 2.5%) = 4.605, and the nearest .x9 price on
  // the way down is 4.59 — inside the 10% step, so nothing clipped it.
  EXPECT_EQ(field(j, "target_price"), "4.61");
  EXPECT_EQ(field(j, "proposed_price"), "4.59");
  EXPECT_EQ(field(j, "bound_by"), "[]");
  EXPECT_EQ(field(j, "approval"), "review");  // an 8% change is above the auto limit (5%)
  EXPECT_NE(field(j, "competitor_prices").find("C1"), std::string::npos);
  EXPECT_FALSE(field(j, "elasticity_interval").empty());
  EXPECT_FALSE(field(j, "expected_current").empty());
  // The same signal again: no second firing.
  h.send(competitor(at(40, 9), "K1", "C1", 4.45));
  h.send(sale(at(41), "S1", "K1", 3, 4.99));
  EXPECT_EQ(h.triggers("competitor_undercut", "firing").size(), 1u);
  // One competitor goes back up: the second-lowest is 5.29, resolved after
  // resolve_after_days (2) daily evaluations.
  h.send(competitor(at(42, 9), "K1", "C1", 5.29));
  EXPECT_TRUE(h.triggers("competitor_undercut", "resolved").empty());
  h.send(sale(at(43), "S1", "K1", 3, 4.99));
  auto resolved = h.triggers("competitor_undercut", "resolved");
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(field(resolved[0], "id"), field(j, "id"));
}

TEST(PriceOperatorTest, AOneDayConditionDoesNotFire) {
  // confirm_days 2: a competitor price that is undercut on one day and back the next never
  // opens a trigger; with confirm_days 1 the same input does.
  for (int confirm : {2, 1}) {
    PriceSettings s = one_source();
    s.confirm_days = confirm;
    Harness h(s);
    h.basic(40);
    h.send(competitor(at(39, 14), "K1", "C1", 4.49));
    h.send(competitor(at(39, 20), "K1", "C1", 4.99));
    h.send(sale(at(40), "S1", "K1", 3, 4.99));
    h.send(sale(at(41), "S1", "K1", 3, 4.99));
    EXPECT_EQ(h.triggers("competitor_undercut", "firing").size(), confirm == 1 ? 1u : 0u)
        << "confirm_days " << confirm;
  }
}

TEST(PriceOperatorTest, SmallConfidentChangeInsideEveryLimitIsAuto) {
  // A competitor 6% below, history of 40 days: the proposal (back inside the tolerated gap:
  // 4.79, −4%) is auto — its target is the market price, so the elasticity's interval (here
  // the prior's, −1.5 ± 1.9, reaching zero) does not hold it back. The same with a competitor
  // 9% below needs review (a 6% change).
  for (double comp : {4.69, 4.54}) {
    Harness h(one_source());
    h.basic(40);
    h.send(competitor(at(39, 14), "K1", "C1", comp));
    h.send(sale(at(40), "S1", "K1", 3, 4.99));
    auto fired = h.triggers("competitor_undercut", "firing");
    ASSERT_EQ(fired.size(), 1u) << comp;
    if (comp > 4.6) {
      EXPECT_EQ(field(fired[0], "proposed_price"), "4.79") << fired[0];
      EXPECT_EQ(field(fired[0], "approval"), "auto") << fired[0];
      EXPECT_EQ(field(fired[0], "severity"), "info");
    } else {
      EXPECT_EQ(field(fired[0], "approval"), "review") << fired[0];
      EXPECT_NE(field(fired[0], "approval_reasons").find("auto-approval limit"), std::string::npos);
    }
  }
}

TEST(PriceOperatorTest, PriceEventResolvesAndStartsTheCoolDown) {
  Harness h(one_source());
  h.basic(40);
  h.send(competitor(at(39, 14), "K1", "C1", 3.99));
  h.send(sale(at(40, 1), "S1", "K1", 3, 4.99));  // the second day confirms
  ASSERT_EQ(h.triggers("competitor_undercut", "firing").size(), 1u);
  const std::string id = field(h.triggers("competitor_undercut", "firing")[0], "id");
  h.send(price_event(at(40, 2), "K1", 4.79));
  auto resolved = h.triggers("competitor_undercut", "resolved");
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(field(resolved[0], "id"), id);
  EXPECT_EQ(field(resolved[0], "resolved_by"), "price_applied");
  // Still undercut, but inside the 7-day cool-down: nothing new.
  for (int d = 40; d < 47; ++d) {
    h.send(sale(at(d), "S1", "K1", 3, 4.79));
    h.send(competitor(at(d, 15), "K1", "C1", 3.99));
  }
  EXPECT_EQ(h.triggers("competitor_undercut", "firing").size(), 1u);
  h.send(sale(at(48), "S1", "K1", 3, 4.79));
  h.send(sale(at(49), "S1", "K1", 3, 4.79));  // the second day confirms
  auto fired = h.triggers("competitor_undercut", "firing");
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_NE(field(fired[1], "id"), id);  // a new episode, a new id
}

TEST(PriceOperatorTest, ItemWithoutCostGetsNoProposalAndSaysWhy) {
  Harness h(one_source());
  h.basic(40, kUnset);
  h.send(competitor(at(39, 14), "K1", "C1", 3.99));
  h.send(sale(at(40), "S1", "K1", 3, 4.99));
  auto fired = h.triggers("competitor_undercut", "firing");
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(field(fired[0], "proposed_price"), "null");
  EXPECT_EQ(field(fired[0], "cost"), "null");
  EXPECT_NE(field(fired[0], "no_proposal_reason").find("cost unknown"), std::string::npos);
  EXPECT_EQ(field(fired[0], "approval"), "review");
  // No margin, no elasticity opportunity either.
  EXPECT_TRUE(h.triggers("elasticity_opportunity").empty());
}

TEST(PriceOperatorTest, StockDrivenReasonsWithAFakeInventoryView) {
  Harness h;
  FakeInventory inv;
  FakeAnomalies anomalies;
  h.ctx.views_.inventory = &inv;
  h.ctx.views_.anomalies = &anomalies;
  ItemFields perishable;
  perishable.category = "dairy";
  perishable.cost = 1.0;
  perishable.perishable = 1;
  perishable.shelf_life_days = 5;
  h.send(item(at(0, 0), "MILK", perishable));
  h.send(price_event(at(0, 1), "MILK", 1.98));
  ItemFields plain;
  plain.category = "snacks";
  plain.cost = 2.0;
  h.send(item(at(0, 0), "K1", plain));
  h.send(item(at(0, 0), "K2", plain));
  h.send(price_event(at(0, 1), "K1", 4.99));
  h.send(price_event(at(0, 1), "K2", 4.99));
  for (int d = 0; d < 30; ++d) {
    h.send(sale(at(d), "S1", "MILK", 4, 1.98));
    h.send(sale(at(d), "S1", "K1", 2, 4.99));
    h.send(sale(at(d), "S1", "K2", 5, 4.99));
  }
  const KeyId milk = h.ctx.key("S1", "MILK"), k1 = h.ctx.key("S1", "K1"),
              k2 = h.ctx.key("S1", "K2");
  StockPosition p;
  p.on_hand = 25;  // 4/day, 5 days of shelf life: 5 units at risk
  p.lead_time_days = 3;
  inv.positions[milk] = p;
  p.on_hand = 400;  // 2/day: 200 days of cover
  inv.positions[k1] = p;
  p.on_hand = 8;  // 5/day over a 3-day lead time: 15 > 8
  p.lead_time_days = 3;
  inv.positions[k2] = p;
  h.send(promotion(at(29, 0), "K2", at(29, 0), at(40, 0)));
  anomalies.open[k1] = true;
  for (int d : {30, 31}) {  // conditions confirmed on their second daily evaluation
    h.send(sale(at(d), "S1", "MILK", 4, 1.98));
    h.send(sale(at(d), "S1", "K1", 2, 4.99));
    h.send(sale(at(d), "S1", "K2", 5, 4.99));
  }

  auto expiry = h.triggers("expiry_markdown", "firing");
  ASSERT_EQ(expiry.size(), 1u);
  EXPECT_EQ(field(expiry[0], "at_risk_units"), "5");
  EXPECT_EQ(field(expiry[0], "lots_tracked"), "false");
  EXPECT_EQ(field(expiry[0], "direction"), "lower");
  auto over = h.triggers("overstock_markdown", "firing");
  ASSERT_EQ(over.size(), 1u);
  EXPECT_EQ(field(over[0], "approval"), "escalate");  // open anomaly on the key
  EXPECT_NE(field(over[0], "approval_reasons").find("anomaly"), std::string::npos);
  EXPECT_EQ(field(over[0], "days_of_cover"), "200");
  auto stockout = h.triggers("stockout_risk", "firing");
  ASSERT_EQ(stockout.size(), 1u);
  EXPECT_EQ(field(stockout[0], "approval"), "escalate");  // during a promotion
  EXPECT_NE(field(stockout[0], "approval_reasons").find("promotion"), std::string::npos);
  EXPECT_EQ(field(stockout[0], "direction"), "raise");
  // Every proposal respects the item's limits.
  for (const auto* r : h.ctx.of(OutputStream::kPriceTriggers)) {
    const std::string pp = field(r->json, "proposed_price");
    if (pp == "null" || pp.empty()) continue;
    EXPECT_GE(std::stod(pp), std::stod(field(r->json, "current_price")) * 0.9 - 1e-9) << r->json;
    EXPECT_LE(std::stod(pp), std::stod(field(r->json, "current_price")) * 1.1 + 1e-9) << r->json;
    EXPECT_EQ(pp.back(), '9') << r->json;  // the default ending .x9
  }
}

TEST(PriceOperatorTest, ExpiryMarkdownFromTrackedLotsFirstExpiringFirst) {
  PriceSettings s = settings();
  s.confirm_days = 1;  // FEFO on one evaluation here (the lots are set just before it)
  Harness h(s);
  FakeInventory inv;
  h.ctx.views_.inventory = &inv;
  ItemFields milk;
  milk.category = "dairy";
  milk.cost = 1.0;
  milk.perishable = 1;
  milk.shelf_life_days = 30;  // lots, when tracked, take precedence over the shelf life
  h.send(item(at(0, 0), "MILK", milk));
  h.send(price_event(at(0, 1), "MILK", 1.99));
  for (int d = 0; d < 30; ++d) h.send(sale(at(d), "S1", "MILK", 10, 1.99));
  const KeyId key = h.ctx.key("S1", "MILK");
  StockPosition p;
  p.on_hand = 68;
  p.perishable = true;
  inv.positions[key] = p;
  // Evaluated at at(31) (noon): 10/day sells 20 of the first lot before it expires in 2 days
  // (4 at risk), and 40 of the second (expiring in 6 days: 60 − 20) (4 at risk).
  h.send(sale(at(30), "S1", "MILK", 10, 1.99));
  inv.lot_table[key] = {{at(33), 24}, {at(37), 44}};
  h.send(sale(at(31), "S1", "MILK", 10, 1.99));
  auto fired = h.triggers("expiry_markdown", "firing");
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(field(fired[0], "lots_tracked"), "true");
  EXPECT_EQ(field(fired[0], "at_risk_units"), "8");
  EXPECT_EQ(field(fired[0], "direction"), "lower");
}

TEST(PriceOperatorTest, LearnsElasticityAndProposesTheMarginOptimum) {
  // Demand 20·(p/5)^−3 around 5.00, prices varying every few days; cost 2: p* = 3.00, far below,
  // so each proposal is one 10% step down, auto-approved once the estimate is confident.
  PriceSettings s = settings();
  s.ending = {100, -1};
  s.auto_max_change = 0.2;
  s.new_item_days = 0;
  Harness h(s);
  ItemFields it;
  it.category = "snacks";
  it.cost = 2.0;
  h.send(item(at(0, 0), "K1", it));
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.85, 1.15);
  double p = 5.0;
  for (int d = 0; d < 360; ++d) {
    if (d % 5 == 0 && d < 300) {  // then a stable price: the cool-down ends
      p = std::round(5.0 * u(rng) * 100) / 100;
      h.send(price_event(at(d, 1), "K1", p));
    }
    const double q = std::round(20 * std::pow(p / 5.0, -3.0));
    h.send(sale(at(d), "S1", "K1", q, p));
  }
  const auto* st = h.op.state(h.ctx.key("S1", "K1"));
  ASSERT_NE(st, nullptr);
  PriceFacts f;
  ASSERT_TRUE(h.op.facts(h.ctx.key("S1", "K1"), at(360), h.ctx, f));
  EXPECT_NEAR(f.elasticity.value, -3.0, 0.4) << h.op.describe(h.ctx.key("S1", "K1"), h.ctx.keys());
  EXPECT_LT(std::sqrt(f.elasticity.var),
            0.6);  // the residual-variance prior (0.5, worth 2 spells) dominates noiseless data
  auto opp = h.triggers("elasticity_opportunity", "firing");
  ASSERT_FALSE(opp.empty());
  EXPECT_EQ(field(opp.back(), "direction"), "lower");
  EXPECT_NE(field(opp.back(), "bound_by").find("max_step"), std::string::npos) << opp.back();
}

// A demand view whose baseline() is the demand at the reference price 5.00 on each day:
// 100 units times a day factor the price operator cannot see otherwise.
class SeasonalBaseline final : public DemandView {
 public:
  bool demand(KeyId, const KeyIndex&, int64_t, double, double, DemandEstimate&) const override {
    return false;
  }
  bool baseline(KeyId, const KeyIndex&, int64_t from_ms, double,
                DemandBaseline& out) const override {
    const int64_t d = (from_ms - kT0) / kDay;
    if (d < 0 || d >= static_cast<int64_t>(factor.size())) return false;
    out.per_day = 100 * factor[static_cast<size_t>(d)];
    out.reference_price = 5.0;
    return true;
  }
  std::vector<double> factor;
};

TEST(PriceOperatorTest, ForecastBaselineControlsWhatTheOwnBaselineCannot) {
  // Demand 100 · factor(day) · (p/5)^−2 with a day factor between 0.5 and 2 that has nothing
  // to do with the price. Against the forecast's baseline (baseline: forecast) the factor
  // cancels and the elasticity is recovered closely; against the key's own EWMAs it is noise.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> lf(std::log(0.5), std::log(2.0)), u(0.85, 1.15);
  SeasonalBaseline view;
  for (int d = 0; d < 400; ++d) view.factor.push_back(std::exp(lf(rng)));
  std::vector<double> prices;
  for (int d = 0; d < 300; ++d) {
    prices.push_back(d % 3 == 0 ? std::round(5.0 * u(rng) * 100) / 100 : prices.back());
  }
  double error[2] = {0, 0};
  for (int mode = 0; mode < 2; ++mode) {
    PriceSettings s = settings();
    s.forecast_baseline = mode == 0;
    s.prior_sd = 10;  // let the data speak
    s.sku_spread = 10;
    s.key_spread = 10;
    Harness h(s);
    h.ctx.views_.demand = &view;
    ItemFields it;
    it.category = "snacks";
    it.cost = 2.0;
    h.send(item(at(0, 0), "K1", it));
    for (int d = 0; d < 300; ++d) {
      if (d % 3 == 0) h.send(price_event(at(d, 1), "K1", prices[static_cast<size_t>(d)]));
      const double q = std::round(100 * view.factor[static_cast<size_t>(d)] *
                                  std::pow(prices[static_cast<size_t>(d)] / 5.0, -2.0));
      h.send(sale(at(d), "S1", "K1", q, prices[static_cast<size_t>(d)]));
    }
    PriceFacts f;
    ASSERT_TRUE(h.op.facts(h.ctx.key("S1", "K1"), at(300), h.ctx, f));
    error[mode] = std::fabs(f.key_estimate.value + 2.0);
  }
  EXPECT_LT(error[0], 0.1) << "forecast baseline";
  EXPECT_GT(error[1], 2 * error[0]) << "own baseline " << error[1];
}

TEST(PriceOperatorTest, ForecastBaselineIsItsDemandWithoutThePriceFactor) {
  // The forecast operator's DemandView::baseline(): equal to demand() at the reference price;
  // after a price cut below it, demand() carries the forecast's price response (its category
  // elasticity, prior −1: ×1.25 at 4.00 vs 5.00) and baseline() does not.
  ForecastOperator fc{ForecastOptions{}};
  PriceContext ctx;
  ItemFields it;
  it.category = "snacks";
  ctx.send(fc, item(at(0, 0), "K1", it));
  for (int d = 0; d < 30; ++d) {
    ctx.send(fc, sale(at(d), "S1", "K1", 10, 5.0));
    // A chain-wide price reaches the SKU's existing keys: sent after the first sale.
    if (d == 0) ctx.send(fc, price_event(at(0, 13), "K1", 5.0));
    ctx.advance_watermark(fc, kT0 + (d + 1) * kDay);
  }
  const KeyId k = ctx.key("S1", "K1");
  DemandEstimate before;
  DemandBaseline base_before;
  ASSERT_TRUE(fc.demand(k, ctx.keys(), kT0 + 30 * kDay, 1, 0, before));
  ASSERT_TRUE(fc.baseline(k, ctx.keys(), kT0 + 30 * kDay, 1, base_before));
  EXPECT_NEAR(base_before.per_day, before.mean_per_day, 1e-9);
  EXPECT_DOUBLE_EQ(base_before.reference_price, 5.0);
  ctx.send(fc, price_event(at(30, 1), "K1", 4.0));
  DemandEstimate after;
  DemandBaseline base_after;
  ASSERT_TRUE(fc.demand(k, ctx.keys(), kT0 + 30 * kDay, 1, 0, after));
  ASSERT_TRUE(fc.baseline(k, ctx.keys(), kT0 + 30 * kDay, 1, base_after));
  EXPECT_GT(after.mean_per_day, 1.1 * before.mean_per_day);
  EXPECT_NEAR(base_after.per_day, before.mean_per_day, 1e-6 * before.mean_per_day);
  // The base class answers no: a view without the split.
  SeasonalBaseline none;
  DemandBaseline b;
  EXPECT_FALSE(none.DemandView::baseline(k, ctx.keys(), 0, 1, b));
}

TEST(PriceOperatorTest, StockReasonsNeedALikelyRiskAPackOfSurplusAndAMarkdownThatHelps) {
  Harness h;
  FakeInventory inv;
  h.ctx.views_.inventory = &inv;
  ItemFields plain;
  plain.category = "snacks";
  plain.cost = 2.0;
  ItemFields milk;
  milk.category = "dairy";
  milk.cost = 1.0;
  milk.perishable = 1;
  milk.shelf_life_days = 5;
  for (const char* k : {"A", "B", "C"}) h.send(item(at(0, 0), k, plain));
  for (const char* k : {"M1", "M2"}) h.send(item(at(0, 0), k, milk));
  for (const char* k : {"A", "B", "C"}) h.send(price_event(at(0, 1), k, 4.99));
  // 1.98: a 10% step down reaches 1.79 (the .x9 ending inside the step).
  for (const char* k : {"M1", "M2"}) h.send(price_event(at(0, 1), k, 1.98));
  auto day = [&](int d) {
    h.send(sale(at(d), "S1", "A", 5, 4.99));
    h.send(sale(at(d), "S1", "B", 5, 4.99));
    h.send(sale(at(d), "S1", "C", 0.5 * (d % 2) * 2, 4.99));  // 0.5/day
    h.send(sale(at(d), "S1", "M1", 4, 1.98));
    h.send(sale(at(d), "S1", "M2", 4, 1.98));
  };
  for (int d = 0; d < 30; ++d) day(d);
  StockPosition p;
  p.lead_time_days = 3;
  p.on_hand = 14;  // lead-time demand 15 > 14, but well inside its spread: no stock-out risk
  inv.positions[h.ctx.key("S1", "A")] = p;
  p.on_hand = 5;  // 15 − 5 = 10 units short: likely
  inv.positions[h.ctx.key("S1", "B")] = p;
  p.on_hand = 40;  // 0.5/day: 80 days of cover, but the surplus over 30 days (25) is < a pack
  p.pack_size = 30;
  inv.positions[h.ctx.key("S1", "C")] = p;
  p.pack_size = 1;
  p.on_hand = 25;  // 5 of 25 at risk: 1.79 (−9.6%) sells ~3.3 more in 5 days, over half
  inv.positions[h.ctx.key("S1", "M1")] = p;
  p.on_hand = 60;  // 40 of 60 at risk: no markdown inside the limits saves half
  inv.positions[h.ctx.key("S1", "M2")] = p;
  day(30);
  day(31);
  auto keys_of = [&](std::string_view reason) {
    std::vector<std::string> out;
    for (const auto& j : h.triggers(reason, "firing")) out.push_back(field(j, "sku"));
    return out;
  };
  EXPECT_EQ(keys_of("stockout_risk"), std::vector<std::string>{"B"});
  // Its raise is sized from the elasticity, whose interval (the prior's) reaches zero.
  EXPECT_NE(field(h.triggers("stockout_risk", "firing")[0], "approval_reasons").find("thin data"),
            std::string::npos);
  EXPECT_TRUE(keys_of("overstock_markdown").empty());
  EXPECT_EQ(keys_of("expiry_markdown"), std::vector<std::string>{"M1"});
  // Without the pack, C's surplus (25 units over 30 days of cover) is an overstock.
  p.pack_size = 1;
  p.on_hand = 40;
  inv.positions[h.ctx.key("S1", "C")] = p;
  day(32);
  day(33);
  EXPECT_EQ(keys_of("overstock_markdown"), std::vector<std::string>{"C"});
}

TEST(PriceOperatorTest, RestoreInvariance) {
  auto script = [](auto&& send, int from, int to) {
    for (int d = from; d < to; ++d) {
      if (d == 0) {
        ItemFields it;
        it.category = "snacks";
        it.cost = 2.0;
        send(item(at(0, 0), "K1", it));
        send(item(at(0, 0), "K2", it));
      }
      if (d % 7 == 0) send(price_event(at(d, 1), "K1", d % 14 == 0 ? 4.99 : 4.49));
      if (d % 9 == 0) send(price_event(at(d, 1), "K2", 3.99 + 0.5 * (d % 2), kUnset, "S2"));
      send(sale(at(d), "S1", "K1", 2 + d % 3, 4.99));
      send(sale(at(d), "S2", "K1", 1 + d % 4, 4.99));
      send(sale(at(d), "S2", "K2", 3, 3.99));
      if (d % 5 == 0) send(competitor(at(d, 15), "K1", "C1", d % 10 == 0 ? 3.99 : 5.49));
      if (d % 6 == 0) send(competitor(at(d, 16), "K2", "C2", 3.49, "S2"));
    }
  };
  Harness whole(one_source());
  script([&](const Event& e) { whole.send(e); }, 0, 60);
  ASSERT_FALSE(whole.triggers().empty());

  for (int cut : {1, 13, 30, 47}) {
    Harness first(one_source());
    script([&](const Event& e) { first.send(e); }, 0, cut);
    FakeStateStore store;
    StateBatch batch;
    first.op.snapshot(batch, first.ctx.keys());
    ASSERT_TRUE(store.commit(batch).is_ok());
    Harness second(one_source());
    // The task restores its key index before the operators: same keys, same ids.
    for (KeyId k = 0; k < first.ctx.keys().size(); ++k) {
      second.ctx.key(first.ctx.keys().store(k), first.ctx.keys().sku(k));
    }
    ASSERT_TRUE(second.op.restore(store, second.ctx).is_ok());
    script([&](const Event& e) { second.send(e); }, cut, 60);
    std::vector<std::string> joined = first.triggers();
    for (const auto& t : second.triggers()) joined.push_back(t);
    EXPECT_EQ(joined, whole.triggers()) << "cut at day " << cut;
    for (KeyId k = 0; k < whole.ctx.keys().size(); ++k) {
      EXPECT_EQ(second.op.describe(k, second.ctx.keys()), whole.op.describe(k, whole.ctx.keys()));
    }
  }
}

TEST(PriceOperatorTest, UnknownRecordVersionFailsRestore) {
  FakeStateStore store;
  StateBatch batch;
  batch.put(price::kSkuNs, "K1", std::string("\x09garbage", 8));
  ASSERT_TRUE(store.commit(batch).is_ok());
  Harness h;
  EXPECT_FALSE(h.op.restore(store, h.ctx).is_ok());
}

TEST(PriceOperatorTest, BadPricesAreDeadLetteredBeforeTheOperator) {
  Decoder decoder;
  Event e;
  for (const char* bad : {
           R"({"type":"price","ts":0,"sku":"K","price":0})",
           R"({"type":"price","ts":0,"sku":"K","price":-2.5})",
           R"({"type":"price","ts":0,"sku":"K","price":1e999})",
           R"({"type":"price","ts":0,"sku":"K","price":2.5,"cost":-1})",
           R"({"type":"price","ts":0,"sku":"K","price":2.5,"cost":1e999})",
           R"({"type":"competitor_price","ts":0,"sku":"K","competitor":"C","price":0})",
           R"({"type":"competitor_price","ts":0,"sku":"K","competitor":"C","price":-1})",
           R"({"type":"item","ts":0,"sku":"K","cost":-3})",
       }) {
    const std::string s = bad;
    EXPECT_NE(decoder.decode(s, 0, e), DecodeError::kNone) << bad;
  }
  // And should one get through (a fake source), the operator ignores it.
  Harness h;
  h.basic(10);
  Event zero = price_event(at(10, 1), "K1", 0.0);
  h.send(zero);
  PriceFacts f;
  ASSERT_TRUE(h.op.facts(h.ctx.key("S1", "K1"), at(10), h.ctx, f));
  EXPECT_DOUBLE_EQ(f.price, 4.99);
}

// The anomaly operator's AnomalyView: open while an alert fires on the key's own units
// series, closed once it resolves; other keys unaffected.
TEST(PriceAnomalyViewTest, OpenWhileTheKeysOwnSeriesAlertFires) {
  AnomalyOperator op(Config::from_yaml("operators: {anomaly: {key_bucket: 1h}}\n"));
  const AnomalyView* view = op.anomaly_view();
  FakeContext ctx;
  const KeyId key = ctx.key("S1", "SKU-A"), other = ctx.key("S1", "SKU-B");
  const int64_t spike = kT0 + 21 * kDay + 11 * kHour;
  bool seen_open = false, open_at_end = true;
  size_t firing = 0, resolved = 0;
  for (int64_t h = kT0; h < kT0 + 23 * kDay; h += kHour) {
    ctx.advance_watermark(op, h);
    const int n = h == spike ? 80 : 10;
    for (int i = 0; i < n; ++i) ctx.send(op, sale(h + i * 20'000, "S1", "SKU-A", 1, 1.0));
    ctx.send(op, sale(h, "S1", "SKU-B", 1, 1.0));
    for (const OutputRecord& r : ctx.take()) {
      if (r.stream != OutputStream::kAlerts ||
          r.json.find("\"sku\":\"SKU-A\"") == std::string::npos) {
        continue;
      }
      if (r.json.find("\"status\":\"firing\"") != std::string::npos) {
        ++firing;
        EXPECT_TRUE(view->open_anomaly(key));
        seen_open = true;
      } else {
        ++resolved;
      }
    }
    open_at_end = view->open_anomaly(key);
    EXPECT_FALSE(view->open_anomaly(other));
  }
  EXPECT_GE(firing, 1u);
  EXPECT_GE(resolved, 1u);
  EXPECT_TRUE(seen_open);
  EXPECT_FALSE(open_at_end);
  EXPECT_FALSE(view->open_anomaly(kNoKey - 1));
}

TEST(PriceOperatorTest, SettingsRejectBadValuesNamingTheKey) {
  for (const char* yaml :
       {"operators: {price: {price_ending: '.9'}}", "operators: {price: {max_step_pct: 0}}",
        "operators: {price: {overstock_target_days: 90}}", "operators: {price: {escalate_se: 0.1}}",
        "operators: {price: {category_endings: {dairy: 'x'}}}"}) {
    try {
      PriceSettings::from_config(Config::from_yaml(yaml));
      ADD_FAILURE() << yaml;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.key().rfind("operators.price.", 0), 0u) << e.what();
    }
  }
  PriceSettings s = PriceSettings::from_config(
      Config::from_yaml("operators: {price: {category_endings: {dairy: '.49'}}}"));
  EXPECT_EQ(s.ending_for("dairy").cents, 49);
  EXPECT_EQ(s.ending_for("dairy").modulus, 100);
  EXPECT_EQ(s.ending_for("snacks").cents, 9);  // default ".x9"
  EXPECT_EQ(s.ending_for("snacks").modulus, 10);
  PriceEnding e;
  EXPECT_TRUE(parse_price_ending(".x9", e));
  EXPECT_TRUE(parse_price_ending("0.95", e));
  EXPECT_EQ(e.cents, 95);
  EXPECT_FALSE(parse_price_ending(".xx", e));
}

TEST(PriceOperatorTest, ProbeCountsByReasonAndApproval) {
  Harness h(one_source());
  h.basic(40, kUnset);
  h.send(competitor(at(39, 14), "K1", "C1", 3.99));
  h.send(sale(at(40), "S1", "K1", 3, 4.99));
  uint64_t review = 0, total = 0;
  h.op.probe()->for_each([&](const Probe::Metric& m) {
    EXPECT_EQ(m.name, "price_trigger_firings_total");
    total += m.counter.value();
    if (m.labels == Probe::Labels{{"reason", "competitor_undercut"}, {"approval", "review"}}) {
      review = m.counter.value();
    }
  });
  EXPECT_EQ(review, 1u);
  EXPECT_EQ(total, 1u);
}

}  // namespace
}  // namespace sw
