#include "sim/event_writer.h"

#include "sim/format.h"
#include "sim/orders.h"
#include "sim/rng.h"

namespace sw::sim {

namespace {
const char* const kCompetitors[] = {"compA", "compB", "compC"};
const char* const kChannels[] = {"store", "online", "mobile", "marketplace"};
}  // namespace

char* write_event(char* p, const Rec& rec, int64_t day_start, const EventContext& ctx) {
  const std::vector<Store>& stores = ctx.catalog.stores;
  const std::vector<Sku>& skus = ctx.catalog.skus;
  const uint32_t n_skus = static_cast<uint32_t>(skus.size());
  static constexpr std::string_view kTypeHead[] = {"{\"type\":\"sale\",\"ts\":",
                                                   "{\"type\":\"return\",\"ts\":",
                                                   "{\"type\":\"inventory\",\"ts\":",
                                                   "{\"type\":\"price\",\"ts\":",
                                                   "{\"type\":\"competitor_price\",\"ts\":",
                                                   "{\"type\":\"item\",\"ts\":",
                                                   "{\"type\":\"promotion\",\"ts\":",
                                                   "{\"type\":\"metric\",\"ts\":",
                                                   "{\"type\":\"feedback\",\"ts\":"};
  static constexpr std::string_view kKinds[] = {"snapshot",     "receipt",    "transfer_in",
                                                "transfer_out", "adjustment", "order"};
  const uint64_t id = ctx.id_base + rec.id;
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
      offset = stores[rec.a / n_skus].display_offset_min;
    } else if (form >= 85) {
      offset = kDisplayOffsetsMin[(h >> 32) % 8];
    }
    *p++ = '"';
    p = put_rfc3339(p, ts, offset);
    *p++ = '"';
  }
  p = put(p, ",\"event_id\":\"");
  p = put(p, ctx.id_prefix);
  p = put_u64(p, id);
  *p++ = '"';
  if (keyed) {
    p = put(p, ",\"store\":\"");
    p = put(p, stores[rec.a / n_skus].name);
    p = put(p, "\",\"sku\":\"");
    p = put(p, skus[rec.a % n_skus].name);
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
      if (rec.sub == 5 || rec.flags == 1) {
        p = write_order_fields(p, rec, ctx);
        break;
      }
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
      p = put(p, skus[rec.a].name);
      p = put(p, "\",\"price\":");
      p = put_fixed(p, rec.b, 2);
      if (rec.sub == 1) {
        p = put(p, ",\"store\":\"");
        p = put(p, stores[static_cast<size_t>(rec.d)].name);
        *p++ = '"';
      }
      if (rec.c >= 0) {
        p = put(p, ",\"cost\":");
        p = put_fixed(p, rec.c, 2);
      }
      break;
    case kRecCompetitor:
      p = put(p, ",\"sku\":\"");
      p = put(p, skus[rec.a].name);
      p = put(p, "\",\"competitor\":\"");
      p = put(p, kCompetitors[rec.d]);
      p = put(p, "\",\"price\":");
      p = put_fixed(p, rec.b, 2);
      if (rec.c > 0) {
        p = put(p, ",\"store\":\"");
        p = put(p, stores[static_cast<size_t>(rec.c - 1)].name);
        *p++ = '"';
      }
      break;
    case kRecMetric:
      p = put(p, ",\"series\":\"pos_latency_ms.");
      p = put(p, stores[rec.a].name);
      p = put(p, "\",\"value\":");
      p = put_fixed(p, rec.b, 1);
      break;
    default:  // item, promotion, feedback: pre-rendered body
      p = put(p, std::string_view(ctx.pool.data() + rec.c, static_cast<size_t>(rec.d)));
      break;
  }
  p = put(p, "}\n");
  return p;
}

}  // namespace sw::sim
