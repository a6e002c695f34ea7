// low_stock's replenishment workflow (docs/low_stock.md "Workflow"): purchase orders and
// overdue receipts, learned lead times, perishable lots (FEFO) and expiry, transfers within a
// region, recommendations with approval classes, feedback on inventory alerts, the inventory
// view and the probe. The stock accounting and the stockout/overstock alerts are in
// low_stock.cpp.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "operators/low_stock/low_stock.h"
#include "stream/calendar.h"

namespace sw {

using low_stock::Flow;
using low_stock::kHasFlow;
using low_stock::kRecommendationOpen;
using low_stock::kSeverityMask;
using low_stock::OpenOrder;

namespace {

constexpr double kDayMs = 86'400'000.0;

// This absl's heterogeneous lookup takes absl::string_view, not std::string_view.
absl::string_view av(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

int64_t days_to_ms(double days) {
  return static_cast<int64_t>(std::llround(days * kDayMs));
}

std::string pct(double p) {
  std::string out;
  low_stock::append_number(out, std::round(p * 100));
  out += '%';
  return out;
}

std::string num(double v) {
  std::string out;
  low_stock::append_number(out, v);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Flow records.

Flow& LowStockOperator::flow_for(KeyId key, KeyState& s) {
  if (!(s.flags & kHasFlow)) {
    s.flags |= kHasFlow;
    mark_dirty(key, s);
  }
  Flow& f = flows_[key];
  mark_flow_dirty(key, f);
  return f;
}

void LowStockOperator::mark_flow_dirty(KeyId key, Flow& f) {
  if (f.dirty) return;
  f.dirty = true;
  dirty_flows_.push_back(key);
}

void LowStockOperator::drop_flow_if_empty(KeyId key, KeyState& s, int64_t now_ms) {
  auto it = flows_.find(key);
  if (it == flows_.end() || !it->second.empty(now_ms)) return;
  flows_.erase(it);
  dirty_flows_.push_back(key);  // the snapshot removes the record
  s.flags &= static_cast<uint8_t>(~kHasFlow);
  mark_dirty(key, s);
}

bool LowStockOperator::quiet(KeyId key, const KeyState& s, uint8_t kind, int64_t ts) const {
  if (!(s.flags & kHasFlow)) return false;
  auto it = flows_.find(key);
  return it != flows_.end() && it->second.quiet_until[kind] > ts;
}

bool LowStockOperator::transfer_open(KeyId key) const {
  auto it = flows_.find(key);
  return it != flows_.end() && it->second.transfer_since_ms >= 0;
}

void LowStockOperator::start_quiet(KeyId key, KeyState& s, uint8_t kind, int64_t until_ms) {
  if (until_ms <= 0) return;
  Flow& f = flow_for(key, s);
  f.quiet_until[kind] = std::max(f.quiet_until[kind], until_ms);
}

void LowStockOperator::index_alert(const std::string& id, KeyId key, uint8_t kind) {
  open_ids_[id] = {key, kind};
}

uint32_t LowStockOperator::supplier_id(std::string_view name, bool add) {
  auto it = supplier_ids_.find(av(name));
  if (it != supplier_ids_.end()) return it->second;
  if (!add) return UINT32_MAX;
  const auto id = static_cast<uint32_t>(suppliers_.size());
  suppliers_.emplace_back(name);
  supplier_ids_.emplace(std::string(name), id);
  supplier_filled_.push_back(0);
  return id;
}

std::string_view LowStockOperator::supplier_of(KeyId key, uint32_t sku_id) const {
  if (key < states_.size() && (states_[key].flags & kHasFlow)) {
    auto it = flows_.find(key);
    if (it != flows_.end() && !it->second.supplier.empty()) return it->second.supplier;
  }
  if (key < states_.size() && (states_[key].flags & low_stock::kInventoryKnown)) {
    if (const ItemParams* ov = override_item(key); ov != nullptr && !ov->supplier.empty()) {
      return ov->supplier;
    }
  }
  const ItemParams* it = sku_item(sku_id);
  return it != nullptr ? std::string_view(it->supplier) : std::string_view();
}

void LowStockOperator::learned_lead(KeyId key, uint32_t sku_id, double& mean, double& sd) const {
  const double k = settings_.lead_time_prior_weight;
  if (sku_id < sku_lead_.size() && sku_lead_[sku_id].n > 0) {
    inventory::shrink_lead_time(sku_lead_[sku_id], mean, sd, k, mean, sd);
  }
  if (supplier_lead_.empty()) return;
  const std::string_view sup = supplier_of(key, sku_id);
  if (sup.empty()) return;
  auto sid = supplier_ids_.find(av(sup));
  if (sid == supplier_ids_.end()) return;
  auto it = supplier_lead_.find((static_cast<uint64_t>(sid->second) << 32) | sku_id);
  if (it != supplier_lead_.end()) inventory::shrink_lead_time(it->second, mean, sd, k, mean, sd);
}

void LowStockOperator::lead_time(KeyId key, const KeyIndex& keys, double& mean, double& sd) const {
  const Plan p = plan(key, 0, keys, nullptr);
  mean = p.lead;
  sd = p.lead_sd;
}

int32_t LowStockOperator::region_of(KeyId key, const KeyIndex& keys) {
  const uint32_t store = keys.store_id(key);
  if (store >= store_region_.size()) store_region_.resize(store + 1, -2);
  int32_t& r = store_region_[store];
  if (r == -2) {
    auto it = region_of_store_.find(av(keys.store(key)));
    r = it == region_of_store_.end() ? -1 : static_cast<int32_t>(it->second);
  }
  return r;
}

// ---------------------------------------------------------------------------------------
// Movements.

void LowStockOperator::apply_order(const Event& e, KeyId key, KeyState& s, OperatorContext& ctx) {
  const KeyIndex& keys = ctx.keys();
  Flow& f = flow_for(key, s);
  std::string po = e.po_id.empty() ? "@" + std::to_string(e.ts_ms) : std::string(e.po_id);
  std::string supplier = e.supplier.empty() ? std::string(supplier_of(key, keys.sku_id(key)))
                                            : std::string(e.supplier);
  if (!supplier.empty()) {
    f.supplier = supplier;
    supplier_id(supplier, true);
  }
  auto same = std::find_if(f.orders.begin(), f.orders.end(),
                           [&](const OpenOrder& o) { return o.po_id == po; });
  if (same != f.orders.end()) {  // an amendment of an open order adds units
    same->ordered += e.qty;
    same->open += e.qty;
  } else {
    OpenOrder o;
    o.po_id = std::move(po);
    o.supplier = std::move(supplier);
    o.ordered = o.open = e.qty;
    o.ordered_ms = e.ts_ms;
    if (e.expected_ms >= 0) {
      o.expected_ms = e.expected_ms;
    } else {
      // No `expected`: order time + the lead time used for the key (learned, else reference).
      const Plan p = plan(key, e.ts_ms, keys, nullptr);
      o.expected_ms = e.ts_ms + days_to_ms(p.lead);
    }
    ctx.set_timer(key, o.expected_ms + days_to_ms(settings_.receipt_tolerance_days),
                  kOverdueTimerTag);
    auto at = std::upper_bound(f.orders.begin(), f.orders.end(), o.ordered_ms,
                               [](int64_t t, const OpenOrder& x) { return t < x.ordered_ms; });
    f.orders.insert(at, std::move(o));
    counters_.orders_opened->add();
  }
  if (!is_set(e.on_order)) s.on_order = static_cast<float>(s.on_order + e.qty);
}

void LowStockOperator::resolve_overdue(KeyId key, OpenOrder& o, int64_t ts, OperatorContext& ctx) {
  if (o.overdue_since_ms < 0) return;
  const KeyIndex& keys = ctx.keys();
  const std::string id = overdue_id(keys, key, o);
  std::string summary;
  summary.append(keys.sku(key)).append(" at ").append(keys.store(key)).append(": PO ");
  summary.append(o.po_id).append(" arrived (").append(num(o.ordered - o.open)).append(" of ");
  summary.append(num(o.ordered)).append(" units)");
  const char* sev = o.overdue_severity == 2 ? "critical" : "warning";
  emit_workflow_alert(
      key, low_stock::kAlertOverdue, id, "resolved", sev, ts, std::move(summary),
      [&](JsonWriter& w) {
        w.field("po_id", o.po_id).field("supplier", o.supplier);
        w.field("ordered_qty", o.ordered).field("open_qty", low_stock::round_digits(o.open, 3));
        w.key("ordered").time_value(o.ordered_ms);
        w.key("expected").time_value(o.expected_ms);
        w.field("days_late", low_stock::round_digits((ts - o.expected_ms) / kDayMs, 2));
        w.key("since").time_value(o.overdue_since_ms);
      },
      ctx);
  o.overdue_since_ms = -1;
  o.overdue_severity = 0;
}

void LowStockOperator::apply_receipt(const Event& e, KeyId key, KeyState& s, OperatorContext& ctx) {
  auto it = (s.flags & kHasFlow) ? flows_.find(key) : flows_.end();
  if (it == flows_.end() || it->second.orders.empty()) {
    if (!e.po_id.empty()) counters_.bad_unknown_po->add();
    return;
  }
  Flow& f = it->second;
  mark_flow_dirty(key, f);
  double left = e.qty, matched = 0, untracked_taken = 0;
  auto take = [&](OpenOrder& o) {
    const double q = std::min(left, o.open);
    o.open -= q;
    left -= q;
    matched += q;
  };
  if (!e.po_id.empty()) {
    auto o = std::find_if(f.orders.begin(), f.orders.end(),
                          [&](const OpenOrder& x) { return x.po_id == e.po_id; });
    if (o == f.orders.end()) {
      counters_.bad_unknown_po->add();  // on hand grows; no order is closed (documented)
      return;
    }
    take(*o);
  } else {
    // Units on order that no tracked order explains (ordered before the stream began, or
    // outside it) were ordered before any tracked one: they arrive first. Matching them to
    // the newest tracked order would close it early and teach the lead time a few hours.
    double tracked = 0;
    for (const OpenOrder& o : f.orders) tracked += o.open;
    untracked_taken = std::min(left, std::max(0.0, static_cast<double>(s.on_order) - tracked));
    left -= untracked_taken;
    for (OpenOrder& o : f.orders) {  // oldest first
      if (left <= 0) break;
      take(o);
    }
  }
  if (!is_set(e.on_order)) {
    s.on_order = static_cast<float>(
        std::max(0.0, static_cast<double>(s.on_order) - matched - untracked_taken));
  }
  const uint32_t sku_id = ctx.keys().sku_id(key);
  for (size_t i = 0; i < f.orders.size();) {
    OpenOrder& o = f.orders[i];
    if (o.open > 1e-9) {
      ++i;
      continue;
    }
    // Filled: the observed lead time is the time the order was filled (RETAIL.md).
    const double days = (e.ts_ms - o.ordered_ms) / kDayMs;
    if (days >= 0) {
      if (sku_id >= sku_lead_.size()) sku_lead_.resize(sku_id + 1);
      sku_lead_[sku_id].add(days);
      dirty_sku_lead_.push_back(sku_id);
      if (!o.supplier.empty()) {
        const uint32_t sup = supplier_id(o.supplier, true);
        const uint64_t slot = (static_cast<uint64_t>(sup) << 32) | sku_id;
        supplier_lead_[slot].add(days);
        dirty_supplier_lead_.push_back(slot);
        ++supplier_filled_[sup];
      }
    }
    resolve_overdue(key, o, e.ts_ms, ctx);
    counters_.orders_closed->add();
    f.orders.erase(f.orders.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

void LowStockOperator::apply_lots(const Event& e, KeyId key, KeyState& s, double on_hand_before) {
  const bool has_lots = (s.flags & kHasFlow) && [&] {
    auto it = flows_.find(key);
    return it != flows_.end() && !it->second.lots.empty();
  }();
  if (e.type == EventType::kSale) {
    if (has_lots) {
      Flow& f = flows_[key];
      inventory::consume_fefo(f.lots, e.qty);
      mark_flow_dirty(key, f);
    }
    return;
  }
  switch (e.inventory_kind) {
    case InventoryKind::kReceipt:
    case InventoryKind::kTransferIn: {
      int64_t expires = e.expires_ms;
      if (expires < 0) {
        const ItemParams* ov = (s.flags & low_stock::kHasOverride) ? override_item(key) : nullptr;
        const ItemParams* it = keys_ != nullptr ? sku_item(keys_->sku_id(key)) : nullptr;
        float life = std::numeric_limits<float>::quiet_NaN();
        if (ov != nullptr && !std::isnan(ov->shelf_life_days)) life = ov->shelf_life_days;
        if (std::isnan(life) && it != nullptr && !std::isnan(it->shelf_life_days)) {
          life = it->shelf_life_days;
        }
        const bool perishable =
            (ov != nullptr && ov->perishable == 1) || (it != nullptr && it->perishable == 1);
        if (!perishable || std::isnan(life) || life <= 0) return;
        expires = e.ts_ms + days_to_ms(life);
      } else if (expires <= e.ts_ms) {
        counters_.bad_expired_lot->add();  // on hand grows; no lot (documented)
        return;
      }
      Flow& f = flow_for(key, s);
      inventory::add_lot(f.lots, expires, e.qty);
      return;
    }
    case InventoryKind::kOrder:
      return;
    case InventoryKind::kSnapshot:
    case InventoryKind::kTransferOut:
    case InventoryKind::kAdjustment: {
      if (!has_lots) return;
      Flow& f = flows_[key];
      double drop = 0;
      if (e.inventory_kind == InventoryKind::kSnapshot) {
        double total = 0;
        for (const inventory::Lot& l : f.lots) total += l.units;
        drop = total - std::max(0.0, s.on_hand);
      } else {
        drop = std::max(0.0, on_hand_before - s.on_hand);
      }
      if (drop > 0) {
        inventory::consume_fefo(f.lots, drop);
        mark_flow_dirty(key, f);
      }
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Feedback.

void LowStockOperator::handle_feedback(const Event& e) {
  auto it = open_ids_.find(av(e.alert_id));
  if (it == open_ids_.end()) {
    counters_.feedback_unknown->add();
    return;
  }
  const auto [key, kind] = it->second;
  if (key >= states_.size()) return;
  KeyState& s = states_[key];
  if (e.action == FeedbackAction::kDismiss) {
    start_quiet(key, s, kind, e.ts_ms + days_to_ms(settings_.dismiss_days));
    counters_.feedback_dismiss->add();
  } else if (e.action == FeedbackAction::kAck) {
    Flow& f = flow_for(key, s);
    f.acked = static_cast<uint8_t>(f.acked | (1u << kind));
    counters_.feedback_ack->add();
  }
}

// ---------------------------------------------------------------------------------------
// Evaluation.

double LowStockOperator::next_receipt_days(KeyId key, const KeyState& s, const Plan& p, int64_t ts,
                                           const char** source) const {
  if (s.flags & kHasFlow) {
    auto it = flows_.find(key);
    if (it != flows_.end() && !it->second.orders.empty()) {
      // The likely arrival of an order: the promised `expected` is the supplier's latest
      // date; the lead time used for the key (learned from its filled orders, else the
      // reference) says when orders usually come. Once that time has passed, the promise is
      // what is left.
      const int64_t lead_ms = days_to_ms(p.lead);
      int64_t first = INT64_MAX;
      for (const OpenOrder& o : it->second.orders) {
        const int64_t usual = o.ordered_ms + lead_ms;
        first = std::min(first, usual > ts ? std::min(usual, o.expected_ms) : o.expected_ms);
      }
      *source = "open_order";
      return std::max(0.0, (first - ts) / kDayMs);
    }
  }
  if (s.on_order > 0) {
    // Units in transit without a tracked order: on average half a lead time away.
    *source = "on_order";
    return p.lead / 2;
  }
  *source = "lead_time";
  return p.lead;
}

bool LowStockOperator::stockout_exception(KeyId key, const KeyState& s, const Plan& p, int64_t ts) {
  // Already told: an open low_stock episode projected this stock-out, or an open
  // receipt_overdue names the late order behind it.
  if ((s.low_severity & kSeverityMask) != 0) return false;
  if (s.flags & kHasFlow) {
    auto it = flows_.find(key);
    if (it != flows_.end()) {
      for (const OpenOrder& o : it->second.orders) {
        if (o.overdue_since_ms >= 0) return false;
      }
    }
  }
  // Nothing to act on: replenishment is in motion (an open order or units on order, or the
  // recommendation this position gets) and the sales lost before the next receipt (an open
  // order's likely arrival, else an order placed now: a lead time) are below the floor — a
  // slow mover whose order is on its way. Without anything in motion someone must act.
  const bool in_motion =
      settings_.recommendations || s.on_order > 0 ||
      ((s.flags & kHasFlow) && flows_.contains(key) && !flows_.find(key)->second.orders.empty());
  const char* source = nullptr;
  const double t = next_receipt_days(key, s, p, ts, &source);
  if (in_motion && p.demand * t < settings_.stockout_min_lost_units) return false;
  // A dismiss, or the cool-down after the key's previous stockout episode.
  if (quiet(key, s, low_stock::kAlertStockout, ts)) {
    counters_.suppressed->add();
    return false;
  }
  return true;
}

void LowStockOperator::evaluate_low_stock_exception(KeyId key, KeyState& s, const Plan& p,
                                                    int64_t ts, OperatorContext& ctx) {
  const bool has_demand = p.demand > 0 && p.demand >= settings_.min_demand_per_day;
  const bool out = p.on_hand <= 0;
  const char* source = nullptr;
  const double t = next_receipt_days(key, s, p, ts, &source);
  const double risk = inventory::stockout_probability(
      p.on_hand, p.demand * t,
      t * p.demand_sd * p.demand_sd + p.demand * p.demand * p.lead_sd * p.lead_sd);
  const bool projected = p.cover_days < t;
  const auto keep = static_cast<uint8_t>(s.low_severity & ~kSeverityMask);
  const uint8_t sev = s.low_severity & kSeverityMask;
  if (sev == 0) {
    const bool may_alert = p.enough_history || (out && has_demand);
    // A stock-out in progress is the stockout episode's (alerted or silent by its rules):
    // low_stock is for one that is projected.
    const bool stocked_out = (s.flags & low_stock::kStockoutOpen) != 0;
    if (may_alert && has_demand && !stocked_out && risk >= settings_.low_stock_probability) {
      if (quiet(key, s, low_stock::kAlertLowStock, ts)) {
        counters_.suppressed->add();
        return;
      }
      s.low_severity = static_cast<uint8_t>(keep | (projected ? 2 : 1));
      s.low_since_ms = ts;
      emit_alert(key, s, p, "low_stock", "firing", projected ? "critical" : "warning", ts, ts, ctx);
    }
  } else if (risk < settings_.low_stock_probability / 2) {
    s.low_severity = keep;
    emit_alert(key, s, p, "low_stock", "resolved", sev == 2 ? "critical" : "warning",
               s.low_since_ms, ts, ctx);
    start_quiet(key, s, low_stock::kAlertLowStock, ts + days_to_ms(settings_.cooldown_hours / 24));
  } else if (sev == 1 && projected) {
    s.low_severity = static_cast<uint8_t>(keep | 2);
    emit_alert(key, s, p, "low_stock", "firing", "critical", s.low_since_ms, ts, ctx);
  } else if (sev == 2 && p.cover_days >= t * (1 + settings_.low_stock_clear_margin)) {
    s.low_severity = static_cast<uint8_t>(keep | 1);
    emit_alert(key, s, p, "low_stock", "firing", "warning", s.low_since_ms, ts, ctx);
  }
}

void LowStockOperator::evaluate_workflow(KeyId key, KeyState& s, const Plan& p, int64_t ts,
                                         OperatorContext& ctx) {
  // The transfer first: a recommendation made on the same event sees the proposal.
  if (regional_ != nullptr) check_transfer(key, s, p, ts, ctx);
  maybe_recommend(key, s, p, ts, ctx);
  if (s.flags & kHasFlow) {
    check_overdue(key, s, p, ts, ctx);
    check_expiry(key, s, p, ts, ctx);
  }
  if (s.flags & kHasFlow) drop_flow_if_empty(key, s, ts);
}

void LowStockOperator::maybe_recommend(KeyId key, KeyState& s, const Plan& p, int64_t ts,
                                       OperatorContext& ctx) {
  if (!settings_.recommendations) return;
  const bool open = (s.low_severity & kRecommendationOpen) != 0;
  if (open) {
    if (p.position > p.reorder_point * (1 + settings_.recommendation_clear_margin)) {
      s.low_severity = static_cast<uint8_t>(s.low_severity & ~kRecommendationOpen);
    }
    return;
  }
  const bool has_demand = p.demand > 0 && p.demand >= settings_.min_demand_per_day;
  const bool out = p.on_hand <= 0;
  if (!(p.enough_history || (out && has_demand)) || !has_demand ||
      !(p.position < p.reorder_point)) {
    return;
  }
  s.low_severity = static_cast<uint8_t>(s.low_severity | kRecommendationOpen);

  const KeyIndex& keys = ctx.keys();
  const uint32_t sku_id = keys.sku_id(key);
  const std::string_view store = keys.store(key), sku = keys.sku(key);
  const double up_to =
      inventory::order_up_to(p.z, p.demand, p.demand_sd, p.lead, p.lead_sd, p.review);
  const double qty = inventory::order_quantity(up_to, p.position, p.moq, p.pack);
  if (!(qty > 0)) return;
  const bool cost_known = !std::isnan(p.cost);
  const double cost = cost_known ? qty * p.cost : 0;

  const ItemParams* ov = (s.flags & low_stock::kHasOverride) ? override_item(key) : nullptr;
  const ItemParams* item = sku_item(sku_id);
  std::string_view category = ov != nullptr && !ov->category.empty() ? ov->category
                              : item != nullptr                      ? item->category
                                                                     : std::string_view();
  std::string bkey(store);
  low_stock::Budget& bs = budgets_[bkey];
  bkey.push_back('\x1f');
  bkey.append(category);
  low_stock::Budget& bc = budgets_[bkey];
  for (low_stock::Budget* b : {&bs, &bc}) {
    if (b->day != s.day) {
      b->day = s.day;
      b->spent = 0;
    }
  }

  inventory::ApprovalInput in;
  in.order_cost = cost;
  in.cost_known = cost_known;
  in.store_spent_today = bs.spent;
  in.category_spent_today = bc.spent;
  in.auto_max_cost = settings_.auto_max_order_cost;
  in.store_daily_budget = settings_.store_daily_budget;
  in.category_daily_budget = settings_.category_daily_budget;
  in.new_item = s.history_days < settings_.new_item_days;
  const std::string_view supplier = supplier_of(key, sku_id);
  if (!supplier.empty()) {
    auto sid = supplier_ids_.find(av(supplier));
    in.new_supplier = sid == supplier_ids_.end() || supplier_filled_[sid->second] == 0;
  }
  // A wide forecast interval needs a look only when the forecast sets the quantity: an order
  // at the smallest quantity the supplier takes (MOQ, pack) is the same whatever the interval —
  // the slow movers whose lead-time demand is a unit or two, uncertain by nature.
  const double min_order = inventory::order_quantity(p.position + 1e-6, p.position, p.moq, p.pack);
  in.wide_interval = p.lead_demand_mean > 0 && qty > min_order &&
                     std::sqrt(p.lead_demand_var) / p.lead_demand_mean > settings_.max_interval_cv;
  in.open_anomaly = ctx.views().anomalies != nullptr && ctx.views().anomalies->open_anomaly(key);
  low_stock::Donor donor;
  const int32_t region = regional_ != nullptr ? region_of(key, keys) : -1;
  // Spare stock in the region conflicts with buying when a transfer to the key is proposed
  // (an open transfer episode: the key projects a stock-out before its next receipt and a
  // store of its region can prevent it), so the transfer comes first. Spare units elsewhere
  // without such a proposal are shown in the details (`transfer_from`) but do not hold the
  // order up: the order is routine, the transfer optional.
  const bool transfer_proposed = transfer_open(key);
  double movable = 0;
  if (region >= 0 && regional_->best_donor(static_cast<uint32_t>(region), sku_id, key, donor)) {
    movable = inventory::transfer_quantity(qty, donor.surplus, p.pack, settings_.transfer_min_qty);
  }
  in.regional_spare = transfer_proposed;
  const char* why = nullptr;
  const inventory::Approval approval = inventory::classify(in, &why);
  if (approval == inventory::Approval::kAuto) {
    for (low_stock::Budget* b : {&bs, &bc}) {
      b->spent += cost;
      b->dirty = true;
    }
  }
  const int a = static_cast<int>(approval);
  counters_.recommendations[a]->add();
  counters_.recommendation_value[a]->add(static_cast<uint64_t>(std::llround(cost)));

  OutputRecord rec;
  rec.stream = OutputStream::kReplenishment;
  rec.key = keys.key_string(key);
  rec.id = alert_id("replenishment", store, sku, ts);
  rec.type = "replenishment";
  rec.time_ms = ts;
  rec.json.reserve(900);
  JsonWriter w(rec.json);
  w.begin_object();
  w.field("id", rec.id).field("store", store).field("sku", sku);
  w.key("time").time_value(ts);
  w.field("order_qty", low_stock::round_digits(qty, 3));
  w.key("expected_arrival").time_value(ts + days_to_ms(p.lead));
  w.key("cost");
  if (cost_known) {
    w.value(low_stock::round_digits(cost, 2));
  } else {
    w.null();
  }
  w.field("reason", out ? "stockout" : "reorder_point");
  w.field("approval", inventory::approval_name(approval));
  w.field("approval_reason", why);
  w.key("supplier");
  if (supplier.empty()) {
    w.null();
  } else {
    w.value(supplier);
  }
  w.field("lead_time_days", low_stock::round_digits(p.lead, 3));
  w.key("details").begin_object();
  w.field("on_hand", low_stock::round_digits(p.on_hand, 3));
  w.field("on_order", low_stock::round_digits(p.on_order, 3));
  w.field("inventory_position", low_stock::round_digits(p.position, 3));
  w.field("reorder_point", low_stock::round_digits(p.reorder_point, 3));
  w.field("safety_stock", low_stock::round_digits(p.safety_stock, 3));
  w.field("order_up_to", low_stock::round_digits(up_to, 3));
  w.field("demand_per_day", low_stock::round_digits(p.demand, 4));
  w.field("demand_sd", low_stock::round_digits(p.demand_sd, 4));
  w.field("demand_source", p.from_view ? "forecast" : "ewma");
  w.field("lead_time_sd_days", low_stock::round_digits(p.lead_sd, 3));
  w.field("pack_size", low_stock::round_digits(p.pack, 3));
  w.field("moq", low_stock::round_digits(p.moq, 3));
  w.key("unit_cost");
  if (cost_known) {
    w.value(low_stock::round_digits(p.cost, 4));
  } else {
    w.null();
  }
  w.field("days_of_cover", low_stock::round_digits(p.cover_days, 2));
  w.field("category", category);
  w.field("store_spent_today", low_stock::round_digits(bs.spent, 2));
  w.field("store_daily_budget", settings_.store_daily_budget);
  w.field("category_spent_today", low_stock::round_digits(bc.spent, 2));
  w.field("category_daily_budget", settings_.category_daily_budget);
  if (movable > 0) {
    w.field("transfer_from", keys.store_name(donor.store_id));
    w.field("transfer_spare_units", low_stock::round_digits(donor.surplus, 3));
  }
  w.field("transfer_proposed", transfer_proposed);
  w.end_object();
  w.stamp();
  w.end_object();
  ctx.emit(std::move(rec));
}

std::string LowStockOperator::overdue_id(const KeyIndex& keys, KeyId key,
                                         const OpenOrder& o) const {
  std::string type = "receipt_overdue/";
  type += o.po_id;
  return alert_id(type, keys.store(key), keys.sku(key), o.overdue_since_ms);
}

void LowStockOperator::check_overdue(KeyId key, KeyState& s, const Plan& p, int64_t ts,
                                     OperatorContext& ctx) {
  auto it = flows_.find(key);
  if (it == flows_.end() || it->second.orders.empty()) return;
  Flow& f = it->second;
  const int64_t tol = days_to_ms(settings_.receipt_tolerance_days);
  const KeyIndex& keys = ctx.keys();
  for (OpenOrder& o : f.orders) {
    if (o.overdue_since_ms >= 0 || ts < o.expected_ms + tol) continue;
    if (quiet(key, s, low_stock::kAlertOverdue, ts)) {
      counters_.suppressed->add();
      continue;
    }
    // Exposure: if it does not come, a replacement takes a lead time.
    const double h = p.lead;
    const double mean = p.demand * h;
    const double var = h * p.demand_sd * p.demand_sd + p.demand * p.demand * p.lead_sd * p.lead_sd;
    const double risk = inventory::stockout_probability(p.on_hand, mean, var);
    const double short_units = std::max(0.0, mean - std::max(0.0, p.on_hand));
    o.overdue_since_ms = ts;
    o.overdue_severity = risk >= 0.5 ? 2 : 1;
    mark_flow_dirty(key, f);
    const std::string id = overdue_id(keys, key, o);
    std::string summary;
    summary.append(keys.sku(key)).append(" at ").append(keys.store(key)).append(": PO ");
    summary.append(o.po_id);
    if (!o.supplier.empty()) summary.append(" from ").append(o.supplier);
    summary.append(" (").append(num(o.open)).append(" units) is ");
    summary.append(num((ts - o.expected_ms) / kDayMs)).append(" days late; ");
    summary.append(num(p.on_hand)).append(" on hand, ").append(num(short_units));
    summary.append(" units short and ").append(pct(risk));
    summary.append(" stock-out probability if it does not arrive within the lead time");
    emit_workflow_alert(
        key, low_stock::kAlertOverdue, id, "firing",
        o.overdue_severity == 2 ? "critical" : "warning", ts, std::move(summary),
        [&](JsonWriter& w) {
          w.field("po_id", o.po_id).field("supplier", o.supplier);
          w.field("ordered_qty", o.ordered).field("open_qty", low_stock::round_digits(o.open, 3));
          w.key("ordered").time_value(o.ordered_ms);
          w.key("expected").time_value(o.expected_ms);
          w.field("tolerance_days", settings_.receipt_tolerance_days);
          w.field("days_late", low_stock::round_digits((ts - o.expected_ms) / kDayMs, 2));
          w.field("on_hand", low_stock::round_digits(p.on_hand, 3));
          w.field("demand_per_day", low_stock::round_digits(p.demand, 4));
          w.field("exposure_days", low_stock::round_digits(h, 3));
          w.field("units_short", low_stock::round_digits(short_units, 3));
          w.field("stockout_probability", low_stock::round_digits(risk, 4));
          w.key("since").time_value(ts);
        },
        ctx);
  }
}

void LowStockOperator::check_expiry(KeyId key, KeyState& s, const Plan& p, int64_t ts,
                                    OperatorContext& ctx) {
  auto it = flows_.find(key);
  if (it == flows_.end()) return;
  Flow& f = it->second;
  if (f.lots.empty() && f.expiry_since_ms < 0) return;
  unsold_.clear();
  inventory::projected_unsold(f.lots, p.demand, ts, unsold_);
  const int64_t horizon = ts + days_to_ms(settings_.expiry_horizon_days);
  double units = 0, lot_units = 0;
  int64_t first = -1;
  for (size_t i = 0; i < f.lots.size() && f.lots[i].expires_ms <= horizon; ++i) {
    if (unsold_[i] <= 1e-9) continue;
    units += unsold_[i];
    if (first < 0) {
      first = f.lots[i].expires_ms;
      lot_units = f.lots[i].units;
    }
  }
  const double days_left = first >= 0 ? std::max(0.0, (first - ts) / kDayMs) : 0;
  const uint8_t sev = days_left <= 1 ? 2 : 1;
  const bool cost_known = !std::isnan(p.cost);
  const KeyIndex& keys = ctx.keys();
  auto emit = [&](std::string_view status, uint8_t severity) {
    std::string summary;
    summary.append(keys.sku(key)).append(" at ").append(keys.store(key)).append(": ");
    if (status == "firing") {
      summary.append(num(units)).append(" units projected unsold at expiry");
      if (cost_known) summary.append(" (cost ").append(num(units * p.cost)).append(")");
      summary.append(", first lot expires in ").append(num(days_left)).append(" d at ");
      summary.append(num(p.demand)).append("/day");
    } else {
      summary.append("expiry risk cleared (").append(num(units)).append(" units)");
    }
    const std::string id = alert_id("expiry", keys.store(key), keys.sku(key), f.expiry_since_ms);
    emit_workflow_alert(
        key, low_stock::kAlertExpiry, id, status, severity == 2 ? "critical" : "warning", ts,
        std::move(summary),
        [&](JsonWriter& w) {
          w.field("units_at_risk", low_stock::round_digits(units, 3));
          w.key("cost_at_risk");
          if (cost_known) {
            w.value(low_stock::round_digits(units * p.cost, 2));
          } else {
            w.null();
          }
          w.field("days_left", low_stock::round_digits(days_left, 2));
          w.key("first_expiry");
          if (first >= 0) {
            w.time_value(first);
          } else {
            w.null();
          }
          w.field("first_lot_units", low_stock::round_digits(lot_units, 3));
          w.field("on_hand", low_stock::round_digits(p.on_hand, 3));
          w.field("demand_per_day", low_stock::round_digits(p.demand, 4));
          w.field("lots", static_cast<int64_t>(f.lots.size()));
          w.field("horizon_days", settings_.expiry_horizon_days);
          w.field("threshold_units", settings_.expiry_min_units);
          w.key("since").time_value(f.expiry_since_ms);
        },
        ctx);
  };
  const bool material = !cost_known || units * p.cost >= settings_.expiry_min_cost;
  if (f.expiry_since_ms < 0) {
    if (units >= settings_.expiry_min_units && material) {
      if (quiet(key, s, low_stock::kAlertExpiry, ts)) {
        counters_.suppressed->add();
        return;
      }
      f.expiry_since_ms = ts;
      f.expiry_severity = sev;
      mark_flow_dirty(key, f);
      emit("firing", sev);
    }
  } else if (units < settings_.expiry_min_units / 2) {
    emit("resolved", f.expiry_severity);
    f.expiry_since_ms = -1;
    f.expiry_severity = 0;
    f.acked = static_cast<uint8_t>(f.acked & ~(1u << low_stock::kAlertExpiry));
    mark_flow_dirty(key, f);
    start_quiet(key, s, low_stock::kAlertExpiry, ts + days_to_ms(settings_.cooldown_hours / 24));
  } else if (sev > f.expiry_severity) {
    f.expiry_severity = sev;
    mark_flow_dirty(key, f);
    emit("firing", sev);
  }
}

void LowStockOperator::check_transfer(KeyId key, KeyState& s, const Plan& p, int64_t ts,
                                      OperatorContext& ctx) {
  const KeyIndex& keys = ctx.keys();
  const int32_t region = region_of(key, keys);
  if (region < 0) return;
  const uint32_t sku_id = keys.sku_id(key);
  const bool has_demand = p.demand > 0 && p.demand >= settings_.min_demand_per_day;
  // Publish what this key can spare (only with enough history to know its demand).
  const double surplus = p.enough_history ? inventory::transfer_surplus(p.on_hand, p.demand, p.lead,
                                                                        p.review, p.safety_stock)
                                          : 0;
  regional_->publish(static_cast<uint32_t>(region), sku_id, key, keys.store_id(key),
                     std::floor(std::max(0.0, surplus)));

  const char* source = nullptr;
  const double t = next_receipt_days(key, s, p, ts, &source);
  const bool at_risk = p.enough_history && has_demand && p.cover_days < t;
  auto fit = (s.flags & kHasFlow) ? flows_.find(key) : flows_.end();
  const bool open = fit != flows_.end() && fit->second.transfer_since_ms >= 0;
  if (open) {
    Flow& f = fit->second;
    if (p.cover_days >= t * (1 + settings_.low_stock_clear_margin) || p.demand <= 0) {
      std::string summary;
      summary.append(keys.sku(key)).append(" at ").append(keys.store(key));
      summary.append(": transfer no longer needed, ").append(num(p.on_hand));
      summary.append(" on hand, ").append(num(p.cover_days)).append(" days of cover");
      const std::string id =
          alert_id("transfer", keys.store(key), keys.sku(key), f.transfer_since_ms);
      const std::string from(f.transfer_from < keys.size() ? keys.store(f.transfer_from)
                                                           : std::string_view());
      emit_workflow_alert(
          key, low_stock::kAlertTransfer, id, "resolved", "warning", ts, std::move(summary),
          [&](JsonWriter& w) {
            w.field("from_store", from).field("to_store", keys.store(key));
            w.field("qty", f.transfer_qty);
            w.field("on_hand", low_stock::round_digits(p.on_hand, 3));
            w.field("days_of_cover", low_stock::round_digits(p.cover_days, 2));
            w.key("since").time_value(f.transfer_since_ms);
          },
          ctx);
      f.transfer_since_ms = -1;
      f.transfer_from = kNoKey;
      f.transfer_qty = 0;
      f.acked = static_cast<uint8_t>(f.acked & ~(1u << low_stock::kAlertTransfer));
      mark_flow_dirty(key, f);
      start_quiet(key, s, low_stock::kAlertTransfer,
                  ts + days_to_ms(settings_.cooldown_hours / 24));
    }
    return;
  }
  // RETAIL.md: only when the transfer arrives before the receiver runs out.
  if (!at_risk || !(p.cover_days > settings_.transfer_lead_days)) return;
  const double need = inventory::transfer_need(p.demand, t, p.safety_stock, p.on_hand);
  low_stock::Donor donor;
  if (!regional_->best_donor(static_cast<uint32_t>(region), sku_id, key, donor)) return;
  const double qty =
      inventory::transfer_quantity(need, donor.surplus, p.pack, settings_.transfer_min_qty);
  if (!(qty > 0)) return;
  // Only a transfer that prevents the projected stock-out (covers the demand until the next
  // receipt): a partial one costs handling at both stores and the shelf still runs empty.
  if (qty < p.demand * t - std::max(0.0, p.on_hand)) return;
  if (quiet(key, s, low_stock::kAlertTransfer, ts)) {
    counters_.suppressed->add();
    return;
  }
  Flow& f = flow_for(key, s);
  f.transfer_since_ms = ts;
  f.transfer_from = donor.key;
  f.transfer_qty = qty;
  // Reserve the units at the donor until it publishes again.
  regional_->publish(static_cast<uint32_t>(region), sku_id, donor.key, donor.store_id,
                     donor.surplus - qty);
  counters_.transfers->add();
  const std::string from(keys.store(donor.key));
  std::string summary;
  summary.append(keys.sku(key)).append(": move ").append(num(qty)).append(" units from ");
  summary.append(from).append(" (spare ").append(num(donor.surplus)).append(") to ");
  summary.append(keys.store(key)).append(", which runs out in ").append(num(p.cover_days));
  summary.append(" d, before its next receipt in ").append(num(t)).append(" d");
  const std::string id = alert_id("transfer", keys.store(key), keys.sku(key), ts);
  emit_workflow_alert(
      key, low_stock::kAlertTransfer, id, "firing", "warning", ts, std::move(summary),
      [&](JsonWriter& w) {
        w.field("from_store", from).field("to_store", keys.store(key));
        w.field("qty", qty);
        w.field("region", settings_.regions[static_cast<size_t>(region)].first);
        w.field("receiver_need", low_stock::round_digits(need, 3));
        w.field("donor_surplus", low_stock::round_digits(donor.surplus, 3));
        w.field("on_hand", low_stock::round_digits(p.on_hand, 3));
        w.field("days_of_cover", low_stock::round_digits(p.cover_days, 2));
        w.field("next_receipt_days", low_stock::round_digits(t, 3));
        w.field("next_receipt_source", source);
        w.field("transfer_lead_days", settings_.transfer_lead_days);
        w.field("pack_size", low_stock::round_digits(p.pack, 3));
        w.key("since").time_value(ts);
      },
      ctx);
}

void LowStockOperator::emit_workflow_alert(KeyId key, uint8_t kind, std::string_view id,
                                           std::string_view status, std::string_view severity,
                                           int64_t ts, std::string summary,
                                           const std::function<void(JsonWriter&)>& details,
                                           OperatorContext& ctx) {
  const KeyIndex& keys = ctx.keys();
  OutputRecord rec;
  rec.stream = OutputStream::kAlerts;
  rec.key = keys.key_string(key);
  rec.id = std::string(id);
  rec.type = std::string(low_stock::kAlertTypeNames[kind]);
  rec.time_ms = ts;
  low_stock::Envelope e;
  e.id = id;
  e.type = rec.type;
  e.status = status;
  e.severity = severity;
  e.store = keys.store(key);
  e.sku = keys.sku(key);
  e.summary = summary;
  e.ts_ms = ts;
  low_stock::render_envelope(rec.json, e, details);
  if (status == "firing") {
    index_alert(rec.id, key, kind);
  } else {
    open_ids_.erase(rec.id);
  }
  ctx.emit(std::move(rec));
}

void LowStockOperator::on_timer(KeyId key, int64_t time_ms, uint32_t tag, OperatorContext& ctx) {
  if (tag != kOverdueTimerTag || key >= states_.size()) return;
  // End of input moves the watermark to the end of time: an order due after the last record
  // is not known to be late (docs/low_stock.md "Purchase orders").
  if (ctx.watermark() == std::numeric_limits<int64_t>::max()) return;
  KeyState& s = states_[key];
  if (!(s.flags & kHasFlow)) return;
  keys_ = &ctx.keys();
  const Plan p = plan(key, time_ms, ctx.keys(), ctx.views().demand);
  check_overdue(key, s, p, time_ms, ctx);
}

// ---------------------------------------------------------------------------------------
// Inventory view.

bool LowStockOperator::View::position(KeyId key, StockPosition& out) const {
  const KeyState* s = op_.state(key);
  if (s == nullptr || op_.keys_ == nullptr || !(s->flags & low_stock::kInventoryKnown)) {
    return false;
  }
  const Plan p = op_.plan(key, s->last_event_ms, *op_.keys_, nullptr);
  out.on_hand = std::max(0.0, p.on_hand);
  out.on_order = p.on_order;
  out.lead_time_days = p.lead;
  out.lead_time_sd_days = p.lead_sd;
  out.unit_cost = std::isnan(p.cost) ? -1 : p.cost;
  out.pack_size = p.pack;
  const ItemParams* ov = (s->flags & low_stock::kHasOverride) ? op_.override_item(key) : nullptr;
  const ItemParams* it = op_.sku_item(op_.keys_->sku_id(key));
  const Flow* f = op_.flow(key);
  out.perishable = (ov != nullptr && ov->perishable == 1) ||
                   (it != nullptr && it->perishable == 1) || (f != nullptr && !f->lots.empty());
  return true;
}

void LowStockOperator::View::lots(KeyId key, std::vector<StockLot>& out) const {
  const Flow* f = op_.flow(key);
  if (f == nullptr) return;
  for (const inventory::Lot& l : f->lots) out.push_back(StockLot{l.expires_ms, l.units});
}

// ---------------------------------------------------------------------------------------
// Probe.

void LowStockOperator::update_probe() {
  if (keys_ == nullptr) return;
  const KeyIndex& keys = *keys_;
  while (store_gauges_.size() < keys.store_count()) {
    const std::string name(keys.store_name(static_cast<uint32_t>(store_gauges_.size())));
    const Probe::Labels l = {{"store", name}};
    store_gauges_.push_back(StoreGauges{
        &probe_.gauge("inventory_stockouts_open", "Keys with an open stockout alert, by store", l),
        &probe_.gauge("inventory_units_at_risk",
                      "Units short before the next receipt over keys with an open stockout or "
                      "low_stock alert, by store",
                      l),
        &probe_.gauge("inventory_expiry_units_at_risk",
                      "Units projected unsold at expiry (open expiry alerts), by store", l),
        &probe_.gauge("inventory_expiry_cost_at_risk",
                      "Cost of the units projected unsold at expiry, by store", l)});
  }
  while (supplier_gauges_.size() < suppliers_.size()) {
    const Probe::Labels l = {{"supplier", suppliers_[supplier_gauges_.size()]}};
    supplier_gauges_.emplace_back(
        &probe_.gauge("inventory_receipts_overdue", "Open receipt_overdue alerts, by supplier", l),
        &probe_.gauge("inventory_receipts_overdue_units", "Units of overdue receipts, by supplier",
                      l));
  }
  while (region_gauges_.size() < settings_.regions.size()) {
    const Probe::Labels l = {{"region", settings_.regions[region_gauges_.size()].first}};
    region_gauges_.emplace_back(
        &probe_.gauge("inventory_transfers_open", "Open transfer proposals, by region", l),
        &probe_.gauge("inventory_transfer_units_open",
                      "Units of open transfer proposals, by region", l));
  }
  std::vector<double> st(store_gauges_.size() * 4, 0.0);
  std::vector<double> sup(supplier_gauges_.size() * 2, 0.0);
  std::vector<double> reg(region_gauges_.size() * 2, 0.0);
  const size_t n = std::min(states_.size(), keys.size());
  for (KeyId k = 0; k < n; ++k) {
    const KeyState& s = states_[k];
    const bool stockout = (s.flags & low_stock::kStockoutOpen) != 0;
    const bool low = (s.low_severity & kSeverityMask) != 0;
    if (!stockout && !low) continue;
    const uint32_t store = keys.store_id(k);
    if (store >= store_gauges_.size()) continue;
    if (stockout) st[store * 4] += 1;
    const Plan p = plan(k, s.last_event_ms, keys, nullptr);
    const char* source = nullptr;
    const double t = next_receipt_days(k, s, p, s.last_event_ms, &source);
    st[store * 4 + 1] += std::max(0.0, p.demand * t - std::max(0.0, p.on_hand));
  }
  for (const auto& [k, f] : flows_) {
    if (k >= n) continue;
    const uint32_t store = keys.store_id(k);
    if (f.expiry_since_ms >= 0 && store < store_gauges_.size()) {
      const Plan p = plan(k, states_[k].last_event_ms, keys, nullptr);
      std::vector<double> unsold;
      inventory::projected_unsold(f.lots, p.demand, states_[k].last_event_ms, unsold);
      double u = 0;
      for (double x : unsold) u += x;
      st[store * 4 + 2] += u;
      if (!std::isnan(p.cost)) st[store * 4 + 3] += u * p.cost;
    }
    for (const OpenOrder& o : f.orders) {
      if (o.overdue_since_ms < 0 || o.supplier.empty()) continue;
      auto sid = supplier_ids_.find(o.supplier);
      if (sid == supplier_ids_.end() || sid->second >= supplier_gauges_.size()) continue;
      sup[sid->second * 2] += 1;
      sup[sid->second * 2 + 1] += o.open;
    }
    if (f.transfer_since_ms >= 0 && !reg.empty()) {
      auto it = region_of_store_.find(av(keys.store(k)));
      if (it != region_of_store_.end()) {
        reg[it->second * 2] += 1;
        reg[it->second * 2 + 1] += f.transfer_qty;
      }
    }
  }
  for (size_t i = 0; i < store_gauges_.size(); ++i) {
    store_gauges_[i].stockouts->set(st[i * 4]);
    store_gauges_[i].units_at_risk->set(st[i * 4 + 1]);
    store_gauges_[i].expiry_units->set(st[i * 4 + 2]);
    store_gauges_[i].expiry_cost->set(st[i * 4 + 3]);
  }
  for (size_t i = 0; i < supplier_gauges_.size(); ++i) {
    supplier_gauges_[i].first->set(sup[i * 2]);
    supplier_gauges_[i].second->set(sup[i * 2 + 1]);
  }
  for (size_t i = 0; i < region_gauges_.size(); ++i) {
    region_gauges_[i].first->set(reg[i * 2]);
    region_gauges_[i].second->set(reg[i * 2 + 1]);
  }
}

// ---------------------------------------------------------------------------------------
// Persistence.

void LowStockOperator::snapshot_workflow(StateBatch& batch, const KeyIndex& keys) {
  // Flow records go in blocks of kFlowBlockKeys consecutive ids (one RocksDB entry per
  // block: per-entry cost dominates a checkpoint of many small records); a dirty key rewrites
  // its block.
  char k4[4];
  constexpr KeyId kBlock = low_stock::kFlowBlockKeys;
  for (KeyId& id : dirty_flows_) id -= id % kBlock;
  std::sort(dirty_flows_.begin(), dirty_flows_.end());
  dirty_flows_.erase(std::unique(dirty_flows_.begin(), dirty_flows_.end()), dirty_flows_.end());
  std::string value;
  for (KeyId first : dirty_flows_) {
    low_stock::key_bytes(first, k4);
    value.assign(1, static_cast<char>(low_stock::kFlowBlockVersion));
    for (KeyId id = first; id < first + kBlock; ++id) {
      auto it = flows_.find(id);
      if (it == flows_.end()) continue;
      it->second.dirty = false;
      const std::string rec = low_stock::encode_flow(it->second);
      const auto n = static_cast<uint32_t>(rec.size());
      value.append(reinterpret_cast<const char*>(&id), 4);
      value.append(reinterpret_cast<const char*>(&n), 4);
      value += rec;
    }
    if (value.size() == 1) {
      batch.remove(low_stock::kFlowNs, std::string_view(k4, 4));
    } else {
      batch.put(low_stock::kFlowNs, std::string_view(k4, 4), value);
    }
  }
  dirty_flows_.clear();
  std::string k;
  for (uint32_t sku_id : dirty_sku_lead_) {
    k = "\x1f";
    k += keys.sku_name(sku_id);
    batch.put(low_stock::kLeadNs, k, low_stock::encode_lead(sku_lead_[sku_id]));
  }
  dirty_sku_lead_.clear();
  for (uint64_t slot : dirty_supplier_lead_) {
    k = suppliers_[slot >> 32];
    k += '\x1f';
    k += keys.sku_name(static_cast<uint32_t>(slot));
    batch.put(low_stock::kLeadNs, k, low_stock::encode_lead(supplier_lead_[slot]));
  }
  dirty_supplier_lead_.clear();
  for (auto& [name, b] : budgets_) {
    if (!b.dirty) continue;
    b.dirty = false;
    batch.put(low_stock::kBudgetNs, name, low_stock::encode_budget(b));
  }
  if (regional_ != nullptr) regional_->snapshot(batch, keys);
}

Status LowStockOperator::restore_workflow(const StateStore& store, OperatorContext& ctx) {
  const KeyIndex& keys = ctx.keys();
  keys_ = &keys;
  flows_.clear();
  dirty_flows_.clear();
  sku_lead_.clear();
  dirty_sku_lead_.clear();
  suppliers_.clear();
  supplier_ids_.clear();
  supplier_lead_.clear();
  supplier_filled_.clear();
  dirty_supplier_lead_.clear();
  budgets_.clear();
  open_ids_.clear();
  store_region_.clear();
  std::string bad;
  SW_RETURN_IF_ERROR(
      store.scan_prefix(low_stock::kFlowNs, "", [&](std::string_view k, std::string_view v) {
        if (k.size() != 4 || v.empty() ||
            static_cast<uint8_t>(v[0]) != low_stock::kFlowBlockVersion) {
          bad = "low_stock flow block has an unknown layout";
          return false;
        }
        for (size_t pos = 1; pos < v.size();) {
          uint32_t id = 0, n = 0;
          if (pos + 8 > v.size()) break;
          std::memcpy(&id, v.data() + pos, 4);
          std::memcpy(&n, v.data() + pos + 4, 4);
          pos += 8;
          Flow f;
          if (pos + n > v.size() || !low_stock::decode_flow(v.substr(pos, n), f)) {
            bad = "low_stock flow record has an unknown layout";
            return false;
          }
          pos += n;
          if (id >= states_.size()) states_.resize(static_cast<size_t>(id) + 1);
          flows_[id] = std::move(f);
        }
        return true;
      }));
  if (!bad.empty()) return Status::corruption(bad);
  for (KeyId id = 0; id < states_.size(); ++id) {
    KeyState& s = states_[id];
    if (flows_.contains(id)) {
      s.flags |= kHasFlow;
    } else {
      s.flags &= static_cast<uint8_t>(~kHasFlow);
    }
  }
  SW_RETURN_IF_ERROR(
      store.scan_prefix(low_stock::kLeadNs, "", [&](std::string_view k, std::string_view v) {
        inventory::LeadStats st;
        const size_t sep = k.find('\x1f');
        if (sep == std::string_view::npos || !low_stock::decode_lead(v, st)) {
          bad = "low_stock lead time record has an unknown layout";
          return false;
        }
        const uint32_t sku_id = keys.find_sku(k.substr(sep + 1));
        if (sku_id == UINT32_MAX) return true;
        if (sep == 0) {
          if (sku_id >= sku_lead_.size()) sku_lead_.resize(sku_id + 1);
          sku_lead_[sku_id] = st;
        } else {
          const uint32_t sup = supplier_id(k.substr(0, sep), true);
          supplier_lead_[(static_cast<uint64_t>(sup) << 32) | sku_id] = st;
          supplier_filled_[sup] += st.n;
        }
        return true;
      }));
  if (!bad.empty()) return Status::corruption(bad);
  SW_RETURN_IF_ERROR(
      store.scan_prefix(low_stock::kBudgetNs, "", [&](std::string_view k, std::string_view v) {
        low_stock::Budget b;
        if (!low_stock::decode_budget(v, b)) {
          bad = "low_stock budget record has an unknown layout";
          return false;
        }
        budgets_[std::string(k)] = b;
        return true;
      }));
  if (!bad.empty()) return Status::corruption(bad);
  if (regional_ != nullptr) SW_RETURN_IF_ERROR(regional_->restore(store, keys));

  // Derived: suppliers of open orders, timers of pending receipts, ids of firing alerts.
  const int64_t tol = days_to_ms(settings_.receipt_tolerance_days);
  for (auto& [id, f] : flows_) {
    if (id >= keys.size()) continue;
    if (!f.supplier.empty()) supplier_id(f.supplier, true);
    for (OpenOrder& o : f.orders) {
      if (!o.supplier.empty()) supplier_id(o.supplier, true);
      if (o.overdue_since_ms < 0) {
        ctx.set_timer(id, o.expected_ms + tol, kOverdueTimerTag);
      } else {
        index_alert(overdue_id(keys, id, o), id, low_stock::kAlertOverdue);
      }
    }
    if (f.expiry_since_ms >= 0) {
      index_alert(alert_id("expiry", keys.store(id), keys.sku(id), f.expiry_since_ms), id,
                  low_stock::kAlertExpiry);
    }
    if (f.transfer_since_ms >= 0) {
      index_alert(alert_id("transfer", keys.store(id), keys.sku(id), f.transfer_since_ms), id,
                  low_stock::kAlertTransfer);
    }
  }
  const size_t n = std::min(states_.size(), keys.size());
  for (KeyId id = 0; id < n; ++id) {
    const KeyState& s = states_[id];
    if (s.day == KeyState::kNoDay) continue;
    if (s.low_severity & kSeverityMask) {
      index_alert(alert_id("low_stock", keys.store(id), keys.sku(id), s.low_since_ms), id,
                  low_stock::kAlertLowStock);
    }
    if ((s.flags & low_stock::kStockoutOpen) && !(s.low_severity & low_stock::kStockoutSilent)) {
      index_alert(alert_id("stockout", keys.store(id), keys.sku(id), s.stockout_since_ms), id,
                  low_stock::kAlertStockout);
    }
    if (s.flags & low_stock::kOverstockOpen) {
      index_alert(alert_id("overstock", keys.store(id), keys.sku(id), s.overstock_since_ms), id,
                  low_stock::kAlertOverstock);
    }
  }
  return Status::ok();
}

}  // namespace sw
