#pragma once
// The decoded input event (DESIGN.md §2). Decoding happens once at the edge; operators see
// only this struct. String fields are views into the raw record buffer and are valid only
// while the task processes the batch that holds the record.

#include <cstdint>
#include <limits>
#include <string_view>

namespace sw {

//! 2100-01-01T00:00:00Z: no retail event of this century's data is later. An event at or
//! after it is dead-lettered future_timestamp (docs/contract.md, "Event-time sanity").
inline constexpr int64_t kMaxPlausibleEventMs = 4'102'444'800'000;

enum class EventType : uint8_t {
  kSale,
  kReturn,
  kInventory,
  kPrice,
  kCompetitorPrice,
  kItem,
  kPromotion,
  kMetric,
  kFeedback,
};
inline constexpr int kEventTypeCount = 9;
std::string_view event_type_name(EventType t);

//! `kOrder` is a purchase order placed: `qty` is the ordered units, nothing moves on hand.
enum class InventoryKind : uint8_t {
  kSnapshot,
  kReceipt,
  kTransferIn,
  kTransferOut,
  kAdjustment,
  kOrder
};
std::string_view inventory_kind_name(InventoryKind k);

enum class FeedbackAction : uint8_t { kAck, kDismiss, kConfirm };

inline constexpr double kUnset = std::numeric_limits<double>::quiet_NaN();
inline bool is_set(double v) {
  return v == v;
}

//! Optional reference-data fields of an `item` record; NaN = not given.
struct ItemFields {
  std::string_view category;
  double cost = kUnset;
  double lead_time_days = kUnset;
  double lead_time_sd_days = kUnset;
  double service_level = kUnset;
  double min_price = kUnset;
  double max_price = kUnset;
  double map_price = kUnset;
  double pack_size = kUnset;
  double moq = kUnset;
  double shelf_life_days = kUnset;
  std::string_view supplier;  // default supplier of the sku (orders without `supplier`)
  int8_t perishable = -1;     // -1 unset, 0 false, 1 true
};

//! Every string_view field must also be listed in string_fields() of stream/read_ahead.cpp,
//! which copies them out of the decoder's buffer.
struct Event {
  EventType type = EventType::kSale;
  int64_t ts_ms = 0;           // event time, epoch milliseconds UTC
  uint64_t event_id_hash = 0;  // 0 = no event_id
  std::string_view event_id;
  std::string_view store;  // empty = absent (chain-wide where allowed)
  std::string_view sku;
  double qty = 0;             // sale/return/inventory quantity (signed for adjustments)
  double price = 0;           // sale unit_price, price.price, competitor_price.price
  double cost = kUnset;       // price.cost
  double on_order = kUnset;   // inventory.on_order
  int64_t expires_ms = -1;    // inventory.expires (lot expiry), -1 = absent
  std::string_view po_id;     // inventory: links an `order` to its `receipt`s
  std::string_view supplier;  // inventory (`order`)
  int64_t expected_ms = -1;   // inventory.expected (expected arrival of an order), -1 = absent
  InventoryKind inventory_kind = InventoryKind::kSnapshot;
  bool restock = true;        // return.restock
  std::string_view channel;   // sale
  std::string_view currency;  // sale
  std::string_view promo_id;  // sale (optional) / promotion (required)
  std::string_view competitor;
  int64_t start_ms = 0;       // promotion
  int64_t end_ms = 0;         // promotion
  double discount_pct = 0;    // promotion
  std::string_view series;    // metric
  double value = 0;           // metric
  std::string_view alert_id;  // feedback
  FeedbackAction action = FeedbackAction::kAck;
  std::string_view by;  // feedback
  ItemFields item;      // item
};

//! True for the events routed to a (store, sku) key: sales, returns and inventory always;
//! prices, competitor prices, items and promotions when they name a store.
inline bool keyed_event(const Event& e) {
  switch (e.type) {
    case EventType::kSale:
    case EventType::kReturn:
    case EventType::kInventory:
      return true;
    case EventType::kPrice:
    case EventType::kCompetitorPrice:
    case EventType::kItem:
    case EventType::kPromotion:
      return !e.store.empty();
    default:
      return false;
  }
}

}  // namespace sw
