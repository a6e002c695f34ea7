#include "sim/bad_records.h"

#include "sim/catalog.h"
#include "sim/format.h"

namespace sw::sim {

namespace {

//! What a bad record is built from: an RFC 3339 timestamp in quotes, a store and a SKU.
struct BadFields {
  std::string_view ts;
  std::string_view store;
  std::string_view sku;
};

char* sale_head(char* q, const BadFields& f) {
  q = put(q, "{\"type\":\"sale\",\"ts\":");
  q = put(q, f.ts);
  q = put(q, ",\"store\":\"");
  q = put(q, f.store);
  q = put(q, "\",\"sku\":\"");
  q = put(q, f.sku);
  return put(q, "\"");
}

char* inv_head(char* q, const BadFields& f) {
  q = put(q, "{\"type\":\"inventory\",\"ts\":");
  q = put(q, f.ts);
  q = put(q, ",\"store\":\"");
  q = put(q, f.store);
  q = put(q, "\",\"sku\":\"");
  q = put(q, f.sku);
  return put(q, "\"");
}

char* not_json(char* p, const BadFields& f, uint64_t v) {
  switch (v % 3) {
    case 0:
      return put(sale_head(p, f), ",\"qty\":1,\"unit_price\":2.49");  // truncated
    case 1:
      return put(p, "POS-TERMINAL-7 HEARTBEAT ok");
    default:
      return put(sale_head(p, f), ",,\"qty\":1}");
  }
}

char* not_object(char* p, const BadFields&, uint64_t v) {
  switch (v % 3) {
    case 0:
      return put(p, "[{\"type\":\"sale\"}]");
    case 1:
      return put(p, "\"sale\"");
    default:
      return put(p, "42");
  }
}

char* missing_type(char* p, const BadFields& f, uint64_t) {
  p = put(p, "{\"ts\":");
  p = put(p, f.ts);
  p = put(p, ",\"store\":\"");
  p = put(p, f.store);
  p = put(p, "\",\"sku\":\"");
  p = put(p, f.sku);
  return put(p, "\",\"qty\":1,\"unit_price\":1.99}");
}

char* unknown_type(char* p, const BadFields& f, uint64_t v) {
  p = put(p, v % 2 == 0 ? "{\"type\":\"refund\",\"ts\":" : "{\"type\":\"SALE\",\"ts\":");
  p = put(p, f.ts);
  p = put(p, ",\"store\":\"");
  p = put(p, f.store);
  p = put(p, "\",\"sku\":\"");
  p = put(p, f.sku);
  return put(p, "\",\"qty\":1}");
}

char* missing_field(char* p, const BadFields& f, uint64_t v) {
  switch (v % 4) {
    case 0:
      return put(sale_head(p, f), ",\"unit_price\":1.99}");  // no qty
    case 1:
      return put(inv_head(p, f), ",\"qty\":5}");  // no kind
    case 2:
      p = put(p, "{\"type\":\"metric\",\"ts\":");
      p = put(p, f.ts);
      p = put(p, ",\"series\":\"pos_latency_ms.");
      p = put(p, f.store);
      return put(p, "\"}");
    default:
      p = put(p, "{\"type\":\"price\",\"ts\":");
      p = put(p, f.ts);
      return put(p, ",\"price\":3.49}");  // no sku
  }
}

char* wrong_type(char* p, const BadFields& f, uint64_t v) {
  switch (v % 3) {
    case 0:
      return put(sale_head(p, f), ",\"qty\":\"3\",\"unit_price\":1.99}");
    case 1:
      return put(sale_head(p, f), ",\"qty\":2,\"unit_price\":\"cheap\"}");
    default:
      p = put(p, "{\"type\":\"metric\",\"ts\":");
      p = put(p, f.ts);
      p = put(p, ",\"series\":\"pos_latency_ms.");
      p = put(p, f.store);
      return put(p, "\",\"value\":\"high\"}");
  }
}

char* out_of_range(char* p, const BadFields& f, uint64_t v) {
  switch (v % 4) {
    case 0:
      return put(sale_head(p, f), ",\"qty\":0,\"unit_price\":1.99}");
    case 1:
      return put(sale_head(p, f), ",\"qty\":-2,\"unit_price\":1.99}");
    case 2:
      return put(sale_head(p, f), ",\"qty\":1,\"unit_price\":-4.5}");
    default:
      return put(inv_head(p, f), ",\"kind\":\"snapshot\",\"qty\":-7}");
  }
}

char* bad_timestamp(char* p, const BadFields& f, uint64_t v) {
  static constexpr std::string_view kBad[] = {"\"2026-13-45T99:00:00Z\"", "\"yesterday\"",
                                              "\"2026-01-01 10:00\""};
  p = put(p, "{\"type\":\"sale\",\"ts\":");
  p = put(p, kBad[v % 3]);
  p = put(p, ",\"store\":\"");
  p = put(p, f.store);
  p = put(p, "\",\"sku\":\"");
  p = put(p, f.sku);
  return put(p, "\",\"qty\":1,\"unit_price\":1.99}");
}

char* bad_enum(char* p, const BadFields& f, uint64_t v) {
  switch (v % 3) {
    case 0:
      return put(inv_head(p, f), ",\"kind\":\"teleport\",\"qty\":3}");
    case 1:
      p = put(p, "{\"type\":\"feedback\",\"ts\":");
      p = put(p, f.ts);
      return put(p, ",\"alert_id\":\"a-0001\",\"action\":\"like\"}");
    default:
      return put(sale_head(p, f), ",\"qty\":1,\"unit_price\":1.99,\"channel\":\"pigeon\"}");
  }
}

using BadWriter = char* (*)(char*, const BadFields&, uint64_t);
//! In kGeneratedBadCodes order.
constexpr BadWriter kWriters[] = {not_json,     not_object,    missing_type,
                                  unknown_type, missing_field, wrong_type,
                                  out_of_range, bad_timestamp, bad_enum};
static_assert(std::size(kWriters) == kGeneratedBadCodes.size());

}  // namespace

char* write_bad_record(char* p, uint64_t n, int64_t ts_ms, const Catalog& catalog) {
  const size_t code = bad_record_code(n);
  const uint64_t v = n / kGeneratedBadCodes.size();
  char tsbuf[40];
  char* te = tsbuf;
  *te++ = '"';
  te = put_rfc3339(te, ts_ms, 0);
  *te++ = '"';
  const BadFields f{std::string_view(tsbuf, static_cast<size_t>(te - tsbuf)),
                    catalog.stores[v % catalog.stores.size()].name,
                    catalog.skus[v % catalog.skus.size()].name};
  p = kWriters[code](p, f, v);
  *p++ = '\n';
  return p;
}

}  // namespace sw::sim
