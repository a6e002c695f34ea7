#include "operators/low_stock/low_stock.h"

#include <algorithm>
#include <cmath>

#include "stream/bytes.h"
#include "stream/calendar.h"
#include "stream/json_writer.h"

namespace sw {

using low_stock::kCensoredToday;
using low_stock::kDemandInit;
using low_stock::kDirty;
using low_stock::kHasOverride;
using low_stock::kInventoryKnown;
using low_stock::kOverstockOpen;
using low_stock::kStockoutOpen;

namespace {

constexpr uint8_t kStateVersion = low_stock::kStateVersion;
constexpr uint8_t kStateBlockVersion = low_stock::kStateBlockVersion;
constexpr uint8_t kStateLogVersion = low_stock::kStateLogVersion;
constexpr uint8_t kCompactBlockVersion = low_stock::kCompactBlockVersion;
constexpr uint8_t kCompactLogVersion = low_stock::kCompactLogVersion;
// Missing days folded one by one beyond this many change nothing measurable.
constexpr int kMaxFoldedGap = 2000;

float to_f(double v) {
  return static_cast<float>(v);
}

}  // namespace

LowStockOperator::LowStockOperator(const Config& config)
    : settings_(LowStockSettings::from_config(config)),
      default_z_(inventory::inverse_normal_cdf(settings_.service_level)) {
  for (size_t r = 0; r < settings_.regions.size(); ++r) {
    for (const std::string& st : settings_.regions[r].second) {
      region_of_store_[st] = static_cast<uint32_t>(r);
    }
  }
  if (!settings_.regions.empty()) {
    regional_ = std::make_unique<low_stock::InProcessRegionalStock>();
  }
  for (int a = 0; a < 3; ++a) {
    const std::string cls = inventory::approval_name(static_cast<inventory::Approval>(a));
    counters_.recommendations[a] = &probe_.counter(
        "replenishment_recommendations_total",
        "Replenishment recommendations emitted, by approval class", {{"approval", cls}});
    counters_.recommendation_value[a] =
        &probe_.counter("replenishment_order_value_total",
                        "Cost of recommended orders (currency units, rounded), by approval class",
                        {{"approval", cls}});
  }
  const char* kFb = "Feedback on inventory alerts, by action";
  counters_.feedback_ack = &probe_.counter("inventory_feedback_total", kFb, {{"action", "ack"}});
  counters_.feedback_dismiss =
      &probe_.counter("inventory_feedback_total", kFb, {{"action", "dismiss"}});
  counters_.feedback_unknown =
      &probe_.counter("inventory_feedback_total", kFb, {{"action", "unknown_alert"}});
  const char* kBad = "Inventory records applied with a documented fallback, by reason";
  counters_.bad_unknown_po =
      &probe_.counter("inventory_fallbacks_total", kBad, {{"reason", "unknown_po_id"}});
  counters_.bad_expired_lot =
      &probe_.counter("inventory_fallbacks_total", kBad, {{"reason", "expired_on_receipt"}});
  counters_.orders_opened =
      &probe_.counter("purchase_orders_total", "Purchase orders seen", {{"event", "opened"}});
  counters_.orders_closed =
      &probe_.counter("purchase_orders_total", "Purchase orders seen", {{"event", "filled"}});
  counters_.transfers =
      &probe_.counter("transfers_proposed_total", "Transfer proposals within a region");
  counters_.suppressed =
      &probe_.counter("inventory_alerts_suppressed_total",
                      "Inventory alert firings held back by a dismiss or a cool-down");
}

Status LowStockOperator::reconfigure(const Config& config) {
  LowStockSettings next = LowStockSettings::from_config(config);
  if (next.regions != settings_.regions) {
    return Status::invalid("regions cannot change while running; restart to apply");
  }
  settings_ = std::move(next);
  default_z_ = inventory::inverse_normal_cdf(settings_.service_level);
  return Status::ok();
}

uint32_t LowStockOperator::subscriptions() const {
  return (1u << static_cast<int>(EventType::kSale)) | (1u << static_cast<int>(EventType::kReturn)) |
         (1u << static_cast<int>(EventType::kInventory)) |
         (1u << static_cast<int>(EventType::kItem)) | (1u << static_cast<int>(EventType::kPrice)) |
         (1u << static_cast<int>(EventType::kFeedback));
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

void LowStockOperator::adopt_pending(uint32_t sku_id, const KeyIndex& keys) {
  if (pending_items_.empty()) return;
  auto it = pending_items_.find(std::string(keys.sku_name(sku_id)));
  if (it == pending_items_.end()) return;
  if (sku_id >= sku_items_.size()) {
    sku_items_.resize(std::max<size_t>(sku_id + 1, keys.sku_count()));
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
  if (!(subscriptions() & (1u << static_cast<int>(e.type)))) return;
  keys_ = &ctx.keys();
  if (e.type == EventType::kFeedback) {
    handle_feedback(e);
    return;
  }
  if (e.type == EventType::kItem || e.type == EventType::kPrice) {
    handle_item(e, key, ctx);
    return;
  }
  if (key == kNoKey) return;
  const KeyIndex& keys = ctx.keys();
  KeyState& s = touch(key, ctx);
  // evaluate() reads the sku's item record; the task's prefetch_related() warmed it.
  const uint32_t sku_id = keys.sku_id(key);
  if (s.day == KeyState::kNoDay) adopt_pending(sku_id, keys);
  const LocalDay& ld = ctx.calendar().day(keys.store_id(key), keys.store(key), e.ts_ms);
  roll_to(s, ld.day);
  const double on_hand_before = s.on_hand;
  switch (e.type) {
    case EventType::kSale:
      s.on_hand -= e.qty;
      s.today_qty = to_f(s.today_qty + e.qty);
      break;
    case EventType::kReturn:
      if (e.restock) s.on_hand += e.qty;
      break;
    case EventType::kInventory:
      if (e.inventory_kind == InventoryKind::kOrder) {
        // A purchase order: on order grows, on hand does not; stock is not "known" by it.
        apply_order(e, key, s, ctx);
        if (is_set(e.on_order)) s.on_order = to_f(e.on_order);
        break;
      }
      s.flags |= kInventoryKnown;
      if (e.inventory_kind == InventoryKind::kReceipt) apply_receipt(e, key, s, ctx);
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
        case InventoryKind::kOrder:  // handled above: nothing arrives with an order
          break;
      }
      if (is_set(e.on_order)) s.on_order = to_f(e.on_order);
      apply_lots(e, key, s, on_hand_before);
      break;
    default:
      return;
  }
  if (e.type == EventType::kSale && (s.flags & low_stock::kHasFlow)) {
    apply_lots(e, key, s, on_hand_before);
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
  adopt_pending(sku_id, keys);  // a record that arrived before the sku was known comes first
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
  if (!f.supplier.empty()) p.supplier = std::string(f.supplier);
  if (is_set(f.shelf_life_days)) p.shelf_life_days = to_f(f.shelf_life_days);
  if (f.perishable >= 0) p.perishable = f.perishable;
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

LowStockOperator::Plan LowStockOperator::plan(KeyId key, int64_t now_ms, const KeyIndex& keys,
                                              const DemandView* view) const {
  Plan p;
  const KeyState& s = states_[key];
  const ItemParams* ov = (s.flags & kHasOverride) ? override_item(key) : nullptr;
  const ItemParams* it = sku_item(keys.sku_id(key));
  auto pick = [&](float ItemParams::*field, double def) -> double {
    if (ov != nullptr && !std::isnan(ov->*field)) return ov->*field;
    if (it != nullptr && !std::isnan(it->*field)) return it->*field;
    return def;
  };
  p.lead = pick(&ItemParams::lead_time_days, settings_.default_lead_time_days);
  p.lead_sd = pick(&ItemParams::lead_time_sd_days, settings_.default_lead_time_sd_days);
  learned_lead(key, keys.sku_id(key), p.lead, p.lead_sd);
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
  if (view != nullptr && view->demand(key, keys, now_ms, p.lead, p.on_hand, est)) {
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
      p.cover_days = inventory::days_of_cover(p.on_hand, p.demand);
    }
    return p;
  }
  p.enough_history = s.history_days >= settings_.min_history_days;
  p.demand = (s.flags & kDemandInit) ? s.demand_mean : 0.0;
  p.demand_sd = (s.flags & kDemandInit) ? std::sqrt(static_cast<double>(s.demand_var)) : 0.0;
  p.lead_demand_mean = inventory::lead_time_demand_mean(p.demand, p.lead);
  p.lead_demand_var =
      inventory::lead_time_demand_variance(p.demand, p.demand_sd, p.lead, p.lead_sd);
  p.safety_stock = inventory::safety_stock(p.z, p.demand, p.demand_sd, p.lead, p.lead_sd);
  p.reorder_point = p.lead_demand_mean + p.safety_stock;
  p.cover_days = inventory::days_of_cover(p.on_hand, p.demand);
  return p;
}

void LowStockOperator::evaluate(KeyId key, KeyState& s, int64_t ts, OperatorContext& ctx) {
  if (!(s.flags & kInventoryKnown)) return;
  const Plan p = plan(key, ts, ctx.keys(), ctx.views().demand);
  const bool has_demand = p.demand > 0 && p.demand >= settings_.min_demand_per_day;
  const bool out = p.on_hand <= 0;

  // A stockout episode is open while the key is out; it is an alert only when it is an
  // exception (docs/replenishment.md): legacy mode alerts on every one.
  const bool legacy = settings_.alert_on_reorder_point;
  const bool silent = (s.low_severity & low_stock::kStockoutSilent) != 0;
  if (!(s.flags & kStockoutOpen)) {
    if (out && has_demand) {
      s.flags |= kStockoutOpen;
      s.stockout_since_ms = ts;
      if (legacy || stockout_exception(key, s, p, ts)) {
        emit_alert(key, s, p, "stockout", "firing", "critical", ts, ts, ctx);
      } else {
        s.low_severity |= low_stock::kStockoutSilent;
      }
    }
  } else if (!out && p.on_hand >= settings_.stockout_clear_units) {
    s.flags &= static_cast<uint8_t>(~kStockoutOpen);
    if (silent) {
      s.low_severity &= static_cast<uint8_t>(~low_stock::kStockoutSilent);
    } else {
      emit_alert(key, s, p, "stockout", "resolved", "critical", s.stockout_since_ms, ts, ctx);
      if (!legacy) {
        start_quiet(key, s, low_stock::kAlertStockout,
                    ts + static_cast<int64_t>(std::llround(settings_.cooldown_hours * 3.6e6)));
      }
    }
  } else if (silent && out && has_demand && stockout_exception(key, s, p, ts)) {
    // What kept the episode silent is gone (the low_stock or overdue alert resolved, the
    // expected receipt slipped): the stock-out is an exception now; the alert starts now.
    s.low_severity &= static_cast<uint8_t>(~low_stock::kStockoutSilent);
    s.stockout_since_ms = ts;
    emit_alert(key, s, p, "stockout", "firing", "critical", ts, ts, ctx);
  }

  if (!settings_.alert_on_reorder_point) {
    evaluate_low_stock_exception(key, s, p, ts, ctx);
  } else {
    evaluate_legacy_low_stock(key, s, p, ts, ctx);
  }

  // Overstock needs the key's own history even when the forecast view answers for it: a
  // key's first receipt easily covers "forever" at the demand seen in its first days. Outside
  // legacy mode that is `new_item_days` (a new item's opening stock is its launch quantity, not
  // an excess), and the excess must tie up `overstock_min_excess_cost` (cost known): a few
  // units of a cheap slow mover are not worth a markdown or a cancelled order.
  if (!(s.flags & kOverstockOpen)) {
    const int64_t min_own = std::max<int64_t>(settings_.min_history_days, settings_.new_item_days);
    const bool own_history = legacy || s.history_days >= min_own;
    bool material = true;
    if (!legacy && !std::isnan(p.cost) && settings_.overstock_min_excess_cost > 0) {
      const double excess = std::max(0.0, p.on_hand - p.demand * settings_.overstock_days);
      material = excess * p.cost >= settings_.overstock_min_excess_cost;
    }
    bool fire = p.enough_history && own_history && material && !out &&
                p.cover_days > settings_.overstock_days;
    if (fire && !legacy && quiet(key, s, low_stock::kAlertOverstock, ts)) {  // dismissed
      counters_.suppressed->add();
      fire = false;
    }
    if (fire) {
      s.flags |= kOverstockOpen;
      s.overstock_since_ms = ts;
      emit_alert(key, s, p, "overstock", "firing", "info", ts, ts, ctx);
    }
  } else if (p.cover_days < settings_.overstock_days * (1 - settings_.overstock_clear_margin)) {
    s.flags &= static_cast<uint8_t>(~kOverstockOpen);
    emit_alert(key, s, p, "overstock", "resolved", "info", s.overstock_since_ms, ts, ctx);
  }
  evaluate_workflow(key, s, p, ts, ctx);
}

void LowStockOperator::evaluate_legacy_low_stock(KeyId key, KeyState& s, const Plan& p, int64_t ts,
                                                 OperatorContext& ctx) {
  const bool has_demand = p.demand > 0 && p.demand >= settings_.min_demand_per_day;
  const bool out = p.on_hand <= 0;
  const bool critical = p.cover_days < p.lead;
  const uint8_t keep = s.low_severity & static_cast<uint8_t>(~low_stock::kSeverityMask);
  const uint8_t sev = s.low_severity & low_stock::kSeverityMask;
  if (sev == 0) {
    const bool may_alert = p.enough_history || (out && has_demand);
    if (may_alert && has_demand && p.position < p.reorder_point) {
      s.low_severity = static_cast<uint8_t>(keep | (critical ? 2 : 1));
      s.low_since_ms = ts;
      emit_alert(key, s, p, "low_stock", "firing", critical ? "critical" : "warning", ts, ts, ctx);
    }
  } else if (p.position > p.reorder_point * (1 + settings_.low_stock_clear_margin)) {
    const char* sev_name = sev == 2 ? "critical" : "warning";
    s.low_severity = keep;
    emit_alert(key, s, p, "low_stock", "resolved", sev_name, s.low_since_ms, ts, ctx);
  } else if (sev == 1 && critical) {
    s.low_severity =
        static_cast<uint8_t>(keep | 2);  // escalation within the episode: same id, new severity
    emit_alert(key, s, p, "low_stock", "firing", "critical", s.low_since_ms, ts, ctx);
  } else if (sev == 2 && p.cover_days >= p.lead * (1 + settings_.low_stock_clear_margin)) {
    s.low_severity =
        static_cast<uint8_t>(keep | 1);  // de-escalation, with the same hysteresis margin
    emit_alert(key, s, p, "low_stock", "firing", "warning", s.low_since_ms, ts, ctx);
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
  OutputRecord rec;
  rec.stream = OutputStream::kAlerts;
  rec.key = keys.key_string(key);
  rec.id = alert_id(type, store, sku, since_ms);
  rec.type = std::string(type);
  rec.time_ms = ts_ms;
  rec.json.reserve(900);
  low_stock::Alert a;
  a.id = rec.id;
  a.type = type;
  a.status = status;
  a.severity = severity;
  a.store = store;
  a.sku = sku;
  a.ts_ms = ts_ms;
  a.since_ms = since_ms;
  a.state = &s;
  a.plan = &p;
  a.order_up_to = up_to;
  a.order_qty = order_qty;
  a.stockout_probability =
      inventory::stockout_probability(p.on_hand, p.lead_demand_mean, p.lead_demand_var);
  if (type == "low_stock" && !settings_.alert_on_reorder_point) {
    const char* source = nullptr;
    a.next_receipt_days = next_receipt_days(key, s, p, ts_ms, &source);
    a.next_receipt_source = source;
    const double t = a.next_receipt_days;
    a.stockout_probability = inventory::stockout_probability(
        p.on_hand, p.demand * t,
        t * p.demand_sd * p.demand_sd + p.demand * p.demand * p.lead_sd * p.lead_sd);
  }
  low_stock::render_alert(rec.json, a, settings_);
  const uint8_t kind = type == "low_stock"  ? low_stock::kAlertLowStock
                       : type == "stockout" ? low_stock::kAlertStockout
                                            : low_stock::kAlertOverstock;
  auto* self = const_cast<LowStockOperator*>(this);
  if (status == "firing") {
    self->index_alert(rec.id, key, kind);
  } else {
    self->open_ids_.erase(rec.id);
  }
  ctx.emit(std::move(rec));
}

void LowStockOperator::snapshot_base(StateBatch& batch) {
  batch.remove_prefix(kStateNs);
  batch.remove_prefix(kStateLogNs);
  char key[4];
  char value[1 + kKeysPerBlock * low_stock::kCompactMaxBytes];
  value[0] = static_cast<char>(kCompactBlockVersion);
  for (size_t first = 0; first < states_.size(); first += kKeysPerBlock) {
    const size_t end = std::min<size_t>(first + kKeysPerBlock, states_.size());
    size_t n = 1;
    for (size_t id = first; id < end; ++id) {
      states_[id].flags &= static_cast<uint8_t>(~kDirty);
      n += low_stock::encode_compact(states_[id], value + n);
    }
    low_stock::key_bytes(static_cast<KeyId>(first), key);
    batch.put(kStateNs, std::string_view(key, 4), std::string_view(value, n));
  }
  log_records_ = 0;
}

void LowStockOperator::snapshot_log(StateBatch& batch) {
  constexpr size_t kGroup = 32;  // dirty ids are in first-touch order: overlap the misses
  const std::string group = be64_key(log_checkpoint_);  // entries sort by checkpoint, chunk
  char value[1 + kLogChunkKeys * (4 + low_stock::kCompactMaxBytes)];
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
      low_stock::key_bytes(dirty_[i], value + n);
      n += 4 + low_stock::encode_compact(s, value + n + 4);
    }
    batch.put(kStateLogNs, group + be32_key(static_cast<uint32_t>(chunk)),
              std::string_view(value, n));
  }
  log_records_ += count;
  ++log_checkpoint_;
}

void LowStockOperator::snapshot(StateBatch& batch, const KeyIndex& keys) {
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
  snapshot_workflow(batch, keys);
  for (uint32_t sku_id : dirty_skus_) {
    ItemParams& p = sku_items_[sku_id];
    p.dirty = false;
    batch.put(kItemNs, p.sku, low_stock::encode_item(p));
  }
  dirty_skus_.clear();
  if (pending_dirty_) {
    for (auto& [name, p] : pending_items_) batch.put(kItemNs, name, low_stock::encode_item(p));
    pending_dirty_ = false;
  }
  for (KeyId id : dirty_overrides_) {
    ItemParams& p = overrides_[id];
    p.dirty = false;
    low_stock::key_bytes(id, key);
    batch.put(kOverrideNs, std::string_view(key, 4), low_stock::encode_item(p));
  }
  dirty_overrides_.clear();
}

Status LowStockOperator::restore(const StateStore& store, OperatorContext& ctx) {
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
    if (s.low_severity <= (low_stock::kRecommendationOpen | low_stock::kStockoutSilent | 2) &&
        (s.low_severity & low_stock::kSeverityMask) <= 2) {
      return true;
    }
    bad = "low_stock key state has low_severity " + std::to_string(s.low_severity);
    return false;
  };
  // Decodes one fixed-size record (layouts 1 and 2) into states_[id].
  auto load = [&](KeyId id, const char* record) {
    KeyState& s = slot(id);
    low_stock::decode_state(record, s);
    return valid(s);
  };
  // Decodes the compact record at `pos` of `v` (layout 3) into states_[id].
  auto load_compact = [&](KeyId id, std::string_view v, size_t& pos) {
    KeyState& s = slot(id);
    if (!low_stock::decode_compact(v, pos, s)) {
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
    const KeyId first = low_stock::key_from_bytes(k);
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
          const KeyId id = low_stock::key_from_bytes(v.substr(off, 4));
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
    if (!low_stock::decode_item(v, p)) {
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
        if (k.size() != 4 || !low_stock::decode_item(v, p)) {
          bad = "low_stock item override has an unknown layout";
          return false;
        }
        overrides_[low_stock::key_from_bytes(k)] = std::move(p);
        return true;
      }));
  if (!bad.empty()) return Status::corruption(bad);
  return restore_workflow(store, ctx);
}

size_t LowStockOperator::memory_bytes() const {
  size_t b = states_.capacity() * sizeof(KeyState) + dirty_.capacity() * sizeof(KeyId);
  b += sku_items_.capacity() * sizeof(ItemParams) + dirty_skus_.capacity() * sizeof(uint32_t);
  b += (overrides_.capacity() + pending_items_.capacity()) * (sizeof(ItemParams) + 40);
  b += dirty_overrides_.capacity() * sizeof(KeyId);
  b += flows_.capacity() * (sizeof(KeyId) + sizeof(Flow));
  for (const auto& [k, f] : flows_) {
    b += f.orders.capacity() * sizeof(low_stock::OpenOrder) +
         f.lots.capacity() * sizeof(inventory::Lot);
  }
  b += sku_lead_.capacity() * sizeof(inventory::LeadStats);
  b += supplier_lead_.capacity() * (8 + sizeof(inventory::LeadStats));
  b += open_ids_.capacity() * 64 + budgets_.capacity() * 64;
  if (regional_ != nullptr) b += regional_->memory_bytes();
  return b;
}

std::string LowStockOperator::describe(KeyId key, const KeyIndex& keys) const {
  const KeyState* s = state(key);
  if (s == nullptr) return "{}";
  const Plan p = plan(key, s->last_event_ms, keys, nullptr);
  const double up_to =
      inventory::order_up_to(p.z, p.demand, p.demand_sd, p.lead, p.lead_sd, p.review);
  std::string out =
      low_stock::render_describe(*s, p, keys.store(key), keys.sku(key), up_to,
                                 inventory::order_quantity(up_to, p.position, p.moq, p.pack));
  // The workflow: learned lead time, recommendation episode, open orders, lots.
  std::string wf;
  JsonWriter w(wf);
  w.begin_object();
  w.field("recommendation_open", (s->low_severity & low_stock::kRecommendationOpen) != 0);
  // Out of stock without a stockout alert (not an exception: see docs/replenishment.md).
  w.field("stockout_silent",
          (s->flags & kStockoutOpen) != 0 && (s->low_severity & low_stock::kStockoutSilent) != 0);
  const uint32_t sku_id = keys.sku_id(key);
  const bool learned = sku_id < sku_lead_.size() && sku_lead_[sku_id].n > 0;
  w.field("lead_time_source", learned ? "learned" : "reference");
  w.field("lead_time_observations", static_cast<int64_t>(learned ? sku_lead_[sku_id].n : 0));
  w.field("supplier", supplier_of(key, sku_id));
  const Flow* f = flow(key);
  w.key("orders").begin_array();
  if (f != nullptr) {
    for (const low_stock::OpenOrder& o : f->orders) {
      w.begin_object();
      w.field("po_id", o.po_id).field("supplier", o.supplier);
      w.field("ordered_qty", o.ordered).field("open_qty", o.open);
      w.key("ordered").time_value(o.ordered_ms);
      w.key("expected").time_value(o.expected_ms);
      w.field("overdue", o.overdue_since_ms >= 0);
      w.end_object();
    }
  }
  w.end_array();
  w.key("lots").begin_array();
  if (f != nullptr) {
    for (const inventory::Lot& l : f->lots) {
      w.begin_object();
      w.key("expires").time_value(l.expires_ms);
      w.field("units", l.units);
      w.end_object();
    }
  }
  w.end_array();
  w.key("open_workflow_alerts").begin_array();
  if (f != nullptr) {
    if (f->expiry_since_ms >= 0) w.value("expiry");
    if (f->transfer_since_ms >= 0) w.value("transfer");
    for (const low_stock::OpenOrder& o : f->orders) {
      if (o.overdue_since_ms >= 0) w.value("receipt_overdue");
    }
  }
  w.end_array();
  w.key("acked").begin_array();
  if (f != nullptr) {
    for (uint8_t k = 0; k < low_stock::kAlertKinds; ++k) {
      if (f->acked & (1u << k)) w.value(low_stock::kAlertTypeNames[k]);
    }
  }
  w.end_array();
  w.key("quiet_until").begin_object();
  if (f != nullptr) {
    for (uint8_t k = 0; k < low_stock::kAlertKinds; ++k) {
      if (f->quiet_until[k] > 0) w.key(low_stock::kAlertTypeNames[k]).time_value(f->quiet_until[k]);
    }
  }
  w.end_object();
  w.end_object();
  out.pop_back();  // '}'
  out += ",\"workflow\":";
  out += wf;
  out += '}';
  return out;
}

}  // namespace sw
