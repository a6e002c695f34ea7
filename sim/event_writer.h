#pragma once
// The generator's event writer: one simulated event (Rec, 32 bytes, rendered only when its
// day is emitted in time order) to one JSON line of the input contract (DESIGN.md §2). Event
// ids, timestamp forms (epoch ms, RFC 3339 in UTC or in the store's display offset) and
// optional fields are functions of the event id, so a re-sent duplicate is byte-identical.

#include <cstdint>
#include <string_view>

#include "sim/catalog.h"

namespace sw::sim {

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

//! Where write_event finds what a Rec refers to.
struct EventContext {
  const Catalog& catalog;
  uint64_t id_base;            // global id of the day's event 0
  std::string_view id_prefix;  // "g1234-"
  std::string_view pool;       // pre-rendered bodies of item, promotion and feedback events
};

//! Writes `rec` (at `day_start` + rec.t) as one JSON line; returns the end. Needs at most
//! OutBuf::kReserve bytes.
char* write_event(char* p, const Rec& rec, int64_t day_start, const EventContext& ctx);

}  // namespace sw::sim
