#include "stream/event.h"
#include "stream/output.h"

namespace sw {

std::string_view event_type_name(EventType t) {
  static constexpr std::string_view kNames[] = {"sale",      "return",           "inventory",
                                                "price",     "competitor_price", "item",
                                                "promotion", "metric",           "feedback"};
  return kNames[static_cast<int>(t)];
}

std::string_view inventory_kind_name(InventoryKind k) {
  static constexpr std::string_view kNames[] = {"snapshot",     "receipt",    "transfer_in",
                                                "transfer_out", "adjustment", "order"};
  return kNames[static_cast<int>(k)];
}

std::string_view output_stream_name(OutputStream s) {
  return kOutputStreamNames[static_cast<int>(s)];
}

}  // namespace sw
