#include "stream/decoder.h"

#include <cmath>
#include <cstring>

#include <xxhash.h>

#include "stream/civil_time.h"

namespace sw {

namespace {

using simdjson::ondemand::json_type;

// Every field name of the input contract; unknown names are ignored.
enum Field : uint8_t {
  kType,
  kTs,
  kEventId,
  kStore,
  kSku,
  kQty,
  kUnitPrice,
  kChannel,
  kCurrency,
  kTxnId,
  kPromoId,
  kRestock,
  kKind,
  kOnOrder,
  kExpires,
  kPrice,
  kCost,
  kCompetitor,
  kCategory,
  kLeadTime,
  kLeadTimeSd,
  kServiceLevel,
  kMinPrice,
  kMaxPrice,
  kMapPrice,
  kPackSize,
  kMoq,
  kPerishable,
  kShelfLife,
  kStart,
  kEnd,
  kDiscountPct,
  kSeries,
  kValue,
  kAlertId,
  kAction,
  kBy,
  kPoId,
  kSupplier,
  kExpected,
  kFieldCount,
  kUnknownField
};

constexpr const char* kFieldNames[kFieldCount] = {"type",
                                                  "ts",
                                                  "event_id",
                                                  "store",
                                                  "sku",
                                                  "qty",
                                                  "unit_price",
                                                  "channel",
                                                  "currency",
                                                  "txn_id",
                                                  "promo_id",
                                                  "restock",
                                                  "kind",
                                                  "on_order",
                                                  "expires",
                                                  "price",
                                                  "cost",
                                                  "competitor",
                                                  "category",
                                                  "lead_time_days",
                                                  "lead_time_sd_days",
                                                  "service_level",
                                                  "min_price",
                                                  "max_price",
                                                  "map_price",
                                                  "pack_size",
                                                  "moq",
                                                  "perishable",
                                                  "shelf_life_days",
                                                  "start",
                                                  "end",
                                                  "discount_pct",
                                                  "series",
                                                  "value",
                                                  "alert_id",
                                                  "action",
                                                  "by",
                                                  "po_id",
                                                  "supplier",
                                                  "expected"};

Field field_of(std::string_view k) {
  // Dispatch on length then compare: cheaper than hashing for ~37 short names.
  switch (k.size()) {
    case 2:
      return k == "ts" ? kTs : k == "by" ? kBy : kUnknownField;
    case 3:
      return k == "sku"   ? kSku
             : k == "qty" ? kQty
             : k == "moq" ? kMoq
             : k == "end" ? kEnd
                          : kUnknownField;
    case 4:
      return k == "type" ? kType : k == "kind" ? kKind : k == "cost" ? kCost : kUnknownField;
    case 5:
      return k == "store"   ? kStore
             : k == "price" ? kPrice
             : k == "start" ? kStart
             : k == "value" ? kValue
             : k == "po_id" ? kPoId
                            : kUnknownField;
    case 6:
      return k == "txn_id"   ? kTxnId
             : k == "series" ? kSeries
             : k == "action" ? kAction
                             : kUnknownField;
    case 7:
      return k == "channel"   ? kChannel
             : k == "restock" ? kRestock
             : k == "expires" ? kExpires
                              : kUnknownField;
    case 8:
      return k == "event_id"   ? kEventId
             : k == "currency" ? kCurrency
             : k == "promo_id" ? kPromoId
             : k == "on_order" ? kOnOrder
             : k == "category" ? kCategory
             : k == "alert_id" ? kAlertId
             : k == "supplier" ? kSupplier
             : k == "expected" ? kExpected
                               : kUnknownField;
    case 9:
      return k == "min_price"   ? kMinPrice
             : k == "max_price" ? kMaxPrice
             : k == "map_price" ? kMapPrice
             : k == "pack_size" ? kPackSize
                                : kUnknownField;
    case 10:
      return k == "unit_price"   ? kUnitPrice
             : k == "competitor" ? kCompetitor
             : k == "perishable" ? kPerishable
                                 : kUnknownField;
    case 12:
      return k == "discount_pct" ? kDiscountPct : kUnknownField;
    case 13:
      return k == "service_level" ? kServiceLevel : kUnknownField;
    case 14:
      return k == "lead_time_days" ? kLeadTime : kUnknownField;
    case 15:
      return k == "shelf_life_days" ? kShelfLife : kUnknownField;
    case 17:
      return k == "lead_time_sd_days" ? kLeadTimeSd : kUnknownField;
    default:
      return kUnknownField;
  }
}

enum class Kind : uint8_t { kNumber, kString, kBool, kNull, kOther };

struct Slot {
  Kind kind;
  bool is_integer;
  bool boolean;
  double number;
  int64_t integer;
  std::string_view text;
};

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kNumber:
      return "a number";
    case Kind::kString:
      return "a string";
    case Kind::kBool:
      return "a boolean";
    case Kind::kNull:
      return "null";
    default:
      return "an object or array";
  }
}

bool parse_digits(const char*& p, const char* end, int n, int& out) {
  if (end - p < n) return false;
  out = 0;
  for (int i = 0; i < n; ++i) {
    if (p[i] < '0' || p[i] > '9') return false;
    out = out * 10 + (p[i] - '0');
  }
  p += n;
  return true;
}

}  // namespace

std::string_view decode_error_code(DecodeError e) {
  static constexpr std::string_view kCodes[] = {"none",         "not_json",     "not_object",
                                                "missing_type", "unknown_type", "missing_field",
                                                "wrong_type",   "out_of_range", "bad_timestamp",
                                                "bad_enum",     "too_large",    "future_timestamp"};
  return kCodes[static_cast<int>(e)];
}

bool parse_rfc3339(std::string_view s, int64_t& epoch_ms) {
  const char* p = s.data();
  const char* end = p + s.size();
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!parse_digits(p, end, 4, year) || p == end || *p++ != '-' ||
      !parse_digits(p, end, 2, month) || p == end || *p++ != '-' || !parse_digits(p, end, 2, day)) {
    return false;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return false;
  if (day > kDays[month - 1] + (month == 2 && civil::is_leap(year) ? 1 : 0)) return false;
  int64_t ms = 0;
  int64_t offset_s = 0;
  if (p != end) {
    if (*p != 'T' && *p != 't' && *p != ' ') return false;
    ++p;
    if (!parse_digits(p, end, 2, hour) || p == end || *p++ != ':' ||
        !parse_digits(p, end, 2, minute) || p == end || *p++ != ':' ||
        !parse_digits(p, end, 2, second)) {
      return false;
    }
    if (hour > 23 || minute > 59 || second > 60) return false;
    if (second == 60) second = 59;  // leap second: clamp
    if (p != end && *p == '.') {
      ++p;
      int digits = 0;
      int64_t frac = 0;
      while (p != end && *p >= '0' && *p <= '9') {
        if (digits < 3) frac = frac * 10 + (*p - '0');
        ++digits;
        ++p;
      }
      if (digits == 0) return false;
      for (int i = digits; i < 3; ++i) frac *= 10;
      ms = frac;
    }
    if (p == end) return false;  // a time needs an offset
    if (*p == 'Z' || *p == 'z') {
      ++p;
    } else if (*p == '+' || *p == '-') {
      int sign = *p == '-' ? -1 : 1;
      ++p;
      int oh, om;
      if (!parse_digits(p, end, 2, oh) || p == end || *p++ != ':' || !parse_digits(p, end, 2, om) ||
          oh > 23 || om > 59) {
        return false;
      }
      offset_s = sign * (oh * 3600 + om * 60);
    } else {
      return false;
    }
    if (p != end) return false;
  }
  if (year < 1970 || year > 9999) return false;
  int64_t days =
      civil::days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  epoch_ms = ((days * 86400 + hour * 3600 + minute * 60 + second) - offset_s) * 1000 + ms;
  return true;
}

DecodeError Decoder::fail(DecodeError e, std::string detail) {
  detail_ = std::move(detail);
  return e;
}

DecodeError Decoder::decode(std::string_view payload, size_t readable_after, Event& out,
                            int64_t record_bytes) {
  detail_.clear();
  unescaped_.clear();
  const size_t size =
      std::max(payload.size(), static_cast<size_t>(std::max<int64_t>(record_bytes, 0)));
  if (size > max_record_bytes_ || record_bytes > 0) {
    return fail(DecodeError::kTooLarge, "record of " + std::to_string(size) +
                                            " bytes exceeds the limit of " +
                                            std::to_string(max_record_bytes_));
  }
  simdjson::ondemand::document doc;
  simdjson::error_code err;
  if (readable_after >= simdjson::SIMDJSON_PADDING) {
    err = parser_.iterate(payload.data(), payload.size(), payload.size() + readable_after).get(doc);
  } else {
    copy_ = simdjson::padded_string(payload);
    err = parser_.iterate(copy_).get(doc);
  }
  if (err) return fail(DecodeError::kNotJson, simdjson::error_message(err));
  json_type t;
  if (doc.type().get(t)) return fail(DecodeError::kNotJson, "not a JSON document");
  if (t != json_type::object) {
    // On-Demand only peeked at the first byte; a full parse tells "not JSON" from "not an
    // object". Rare path, so the DOM parser's cost does not matter.
    simdjson::dom::parser dom;
    simdjson::dom::element el;
    if (dom.parse(payload.data(), payload.size()).get(el)) {
      return fail(DecodeError::kNotJson, "not valid JSON");
    }
    return fail(DecodeError::kNotObject, "top-level value is not an object");
  }
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj)) return fail(DecodeError::kNotJson, "malformed object");
  DecodeError e = decode_object(obj, out);
  if (e != DecodeError::kNone) return e;
  // Anything but whitespace after the object is an error ("{...} garbage").
  const char* rest = nullptr;
  if (!doc.current_location().get(rest)) {
    return fail(DecodeError::kNotJson, "trailing content after the object");
  }
  return DecodeError::kNone;
}

DecodeError Decoder::decode_object(simdjson::ondemand::object obj, Event& out) {
  Slot slots[kFieldCount];
  uint64_t present = 0;
  for (auto field_result : obj) {
    simdjson::ondemand::field field;
    if (std::move(field_result).get(field))
      return fail(DecodeError::kNotJson, "malformed object member");
    std::string_view key;
    if (field.unescaped_key().get(key)) return fail(DecodeError::kNotJson, "malformed key");
    Field f = field_of(key);
    simdjson::ondemand::value v = field.value();
    json_type jt;
    if (v.type().get(jt)) return fail(DecodeError::kNotJson, "malformed value");
    if (f == kUnknownField) continue;  // ignored; the iterator skips the value
    Slot& s = slots[f];
    s = Slot{Kind::kOther, false, false, 0, 0, {}};
    switch (jt) {
      case json_type::number: {
        simdjson::ondemand::number_type nt;
        if (v.get_number_type().get(nt)) return fail(DecodeError::kNotJson, "malformed number");
        s.kind = Kind::kNumber;
        if (nt == simdjson::ondemand::number_type::signed_integer) {
          if (v.get_int64().get(s.integer)) return fail(DecodeError::kNotJson, "malformed number");
          s.is_integer = true;
          s.number = static_cast<double>(s.integer);
        } else if (v.get_double().get(s.number)) {
          return fail(DecodeError::kOutOfRange,
                      std::string("field '") + kFieldNames[f] + "' is not a finite number");
        }
        break;
      }
      case json_type::string: {
        s.kind = Kind::kString;
        std::string_view sv;
        if (v.get_string().get(sv)) return fail(DecodeError::kNotJson, "malformed string");
        s.text = sv;
        break;
      }
      case json_type::boolean:
        s.kind = Kind::kBool;
        if (v.get_bool().get(s.boolean)) return fail(DecodeError::kNotJson, "malformed boolean");
        break;
      case json_type::null:
        s.kind = Kind::kNull;
        {
          bool is_null = false;
          if (v.is_null().get(is_null) || !is_null) {
            return fail(DecodeError::kNotJson, "malformed null");
          }
        }
        break;
      default:
        s.kind = Kind::kOther;  // object or array where a scalar belongs
    }
    present |= uint64_t{1} << f;
  }

  auto has = [&](Field f) { return (present >> f) & 1; };
  auto wrong = [&](Field f, const char* want) {
    return fail(DecodeError::kWrongType, std::string("field '") + kFieldNames[f] + "' must be " +
                                             want + ", got " + kind_name(slots[f].kind));
  };
  auto missing = [&](Field f) {
    return fail(DecodeError::kMissingField, std::string("required field '") + kFieldNames[f] +
                                                "' is missing for type '" +
                                                std::string(event_type_name(out.type)) + "'");
  };
  // Required non-empty string.
  auto req_str = [&](Field f, std::string_view& dst) -> DecodeError {
    if (!has(f) || slots[f].kind == Kind::kNull) return missing(f);
    if (slots[f].kind != Kind::kString) return wrong(f, "a string");
    if (slots[f].text.empty()) {
      return fail(DecodeError::kMissingField,
                  std::string("field '") + kFieldNames[f] + "' must not be empty");
    }
    dst = slots[f].text;
    return DecodeError::kNone;
  };
  auto opt_str = [&](Field f, std::string_view& dst) -> DecodeError {
    dst = {};
    if (!has(f) || slots[f].kind == Kind::kNull) return DecodeError::kNone;
    if (slots[f].kind != Kind::kString) return wrong(f, "a string");
    dst = slots[f].text;
    return DecodeError::kNone;
  };
  // Number with range check; `min_exclusive` for "> min".
  auto num = [&](Field f, bool required, double min, bool min_exclusive, double max,
                 double& dst) -> DecodeError {
    if (!has(f) || slots[f].kind == Kind::kNull) {
      return required ? missing(f) : DecodeError::kNone;
    }
    if (slots[f].kind != Kind::kNumber) return wrong(f, "a number");
    double x = slots[f].number;
    if (!std::isfinite(x) || x < min || (min_exclusive && x == min) || x > max) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "field '%s' must be %s %g%s, got %.17g", kFieldNames[f],
                    min_exclusive ? ">" : ">=", min,
                    max < 1e300 ? (" and <= " + std::to_string(max)).c_str() : "", x);
      return fail(DecodeError::kOutOfRange, buf);
    }
    dst = x;
    return DecodeError::kNone;
  };
  auto time_field = [&](Field f, bool required, int64_t& dst) -> DecodeError {
    if (!has(f) || slots[f].kind == Kind::kNull) {
      return required ? missing(f) : DecodeError::kNone;
    }
    const Slot& s = slots[f];
    if (s.kind == Kind::kNumber) {
      if (!s.is_integer || s.integer < 0 || s.integer > 253402300799999LL) {
        return fail(DecodeError::kBadTimestamp,
                    std::string("field '") + kFieldNames[f] +
                        "' must be RFC 3339 or non-negative integer epoch milliseconds");
      }
      dst = s.integer;
      return DecodeError::kNone;
    }
    if (s.kind != Kind::kString || !parse_rfc3339(s.text, dst)) {
      return fail(DecodeError::kBadTimestamp,
                  std::string("field '") + kFieldNames[f] + "' is not an RFC 3339 timestamp (" +
                      std::string(s.kind == Kind::kString ? s.text.substr(0, 40) : "not a string") +
                      ")");
    }
    return DecodeError::kNone;
  };
#define SW_TRY(expr)                         \
  do {                                       \
    DecodeError e_ = (expr);                 \
    if (e_ != DecodeError::kNone) return e_; \
  } while (0)

  if (!has(kType) || slots[kType].kind == Kind::kNull) {
    return fail(DecodeError::kMissingType, "field 'type' is missing");
  }
  if (slots[kType].kind != Kind::kString) return wrong(kType, "a string");
  std::string_view type = slots[kType].text;
  if (type == "sale")
    out.type = EventType::kSale;
  else if (type == "return")
    out.type = EventType::kReturn;
  else if (type == "inventory")
    out.type = EventType::kInventory;
  else if (type == "price")
    out.type = EventType::kPrice;
  else if (type == "competitor_price")
    out.type = EventType::kCompetitorPrice;
  else if (type == "item")
    out.type = EventType::kItem;
  else if (type == "promotion")
    out.type = EventType::kPromotion;
  else if (type == "metric")
    out.type = EventType::kMetric;
  else if (type == "feedback")
    out.type = EventType::kFeedback;
  else {
    return fail(DecodeError::kUnknownType,
                "unknown type '" + std::string(type.substr(0, 40)) + "'");
  }
  if (!has(kTs) || slots[kTs].kind == Kind::kNull) {
    return fail(DecodeError::kMissingField, "required field 'ts' is missing");
  }
  SW_TRY(time_field(kTs, true, out.ts_ms));

  out.event_id = {};
  out.event_id_hash = 0;
  if (has(kEventId) && slots[kEventId].kind != Kind::kNull) {
    const Slot& s = slots[kEventId];
    if (s.kind == Kind::kString) {
      out.event_id = s.text;
    } else if (s.kind == Kind::kNumber && s.is_integer) {
      unescaped_ = std::to_string(s.integer);
      out.event_id = unescaped_;
    } else {
      return wrong(kEventId, "a string or an integer");
    }
    out.event_id_hash = XXH3_64bits(out.event_id.data(), out.event_id.size()) | 1;
  }

  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kMaxQty = 1e9;
  switch (out.type) {
    case EventType::kSale: {
      SW_TRY(req_str(kStore, out.store));
      SW_TRY(req_str(kSku, out.sku));
      SW_TRY(num(kQty, true, 0, true, kMaxQty, out.qty));
      SW_TRY(num(kUnitPrice, true, 0, false, kInf, out.price));
      SW_TRY(opt_str(kChannel, out.channel));
      if (!out.channel.empty() && out.channel != "store" && out.channel != "online" &&
          out.channel != "mobile" && out.channel != "marketplace") {
        return fail(DecodeError::kBadEnum, "channel must be store, online, mobile or marketplace");
      }
      SW_TRY(opt_str(kCurrency, out.currency));
      if (!out.currency.empty() && out.currency.size() != 3) {
        return fail(DecodeError::kBadEnum, "currency must be a 3-letter ISO 4217 code");
      }
      SW_TRY(opt_str(kPromoId, out.promo_id));
      std::string_view txn;
      SW_TRY(opt_str(kTxnId, txn));
      break;
    }
    case EventType::kReturn: {
      SW_TRY(req_str(kStore, out.store));
      SW_TRY(req_str(kSku, out.sku));
      SW_TRY(num(kQty, true, 0, true, kMaxQty, out.qty));
      out.restock = true;
      if (has(kRestock) && slots[kRestock].kind != Kind::kNull) {
        if (slots[kRestock].kind != Kind::kBool) return wrong(kRestock, "a boolean");
        out.restock = slots[kRestock].boolean;
      }
      break;
    }
    case EventType::kInventory: {
      SW_TRY(req_str(kStore, out.store));
      SW_TRY(req_str(kSku, out.sku));
      std::string_view kind;
      SW_TRY(req_str(kKind, kind));
      if (kind == "snapshot")
        out.inventory_kind = InventoryKind::kSnapshot;
      else if (kind == "receipt")
        out.inventory_kind = InventoryKind::kReceipt;
      else if (kind == "transfer_in")
        out.inventory_kind = InventoryKind::kTransferIn;
      else if (kind == "transfer_out")
        out.inventory_kind = InventoryKind::kTransferOut;
      else if (kind == "adjustment")
        out.inventory_kind = InventoryKind::kAdjustment;
      else if (kind == "order")
        out.inventory_kind = InventoryKind::kOrder;
      else {
        return fail(DecodeError::kBadEnum,
                    "kind must be snapshot, receipt, transfer_in, "
                    "transfer_out, adjustment or order");
      }
      if (out.inventory_kind == InventoryKind::kAdjustment) {
        SW_TRY(num(kQty, true, -kMaxQty, false, kMaxQty, out.qty));
      } else if (out.inventory_kind == InventoryKind::kSnapshot) {
        SW_TRY(num(kQty, true, 0, false, kMaxQty, out.qty));
      } else {
        SW_TRY(num(kQty, true, 0, true, kMaxQty, out.qty));
      }
      out.on_order = kUnset;
      SW_TRY(num(kOnOrder, false, 0, false, kMaxQty, out.on_order));
      out.expires_ms = -1;
      SW_TRY(time_field(kExpires, false, out.expires_ms));
      out.po_id = {};
      out.supplier = {};
      SW_TRY(opt_str(kPoId, out.po_id));
      SW_TRY(opt_str(kSupplier, out.supplier));
      out.expected_ms = -1;
      SW_TRY(time_field(kExpected, false, out.expected_ms));
      if (out.expected_ms >= 0 && out.expected_ms < out.ts_ms) {
        return fail(DecodeError::kOutOfRange, "field 'expected' is before 'ts'");
      }
      break;
    }
    case EventType::kPrice: {
      SW_TRY(opt_str(kStore, out.store));
      SW_TRY(req_str(kSku, out.sku));
      SW_TRY(num(kPrice, true, 0, true, kInf, out.price));
      out.cost = kUnset;
      SW_TRY(num(kCost, false, 0, false, kInf, out.cost));
      break;
    }
    case EventType::kCompetitorPrice: {
      SW_TRY(opt_str(kStore, out.store));
      SW_TRY(req_str(kSku, out.sku));
      SW_TRY(req_str(kCompetitor, out.competitor));
      SW_TRY(num(kPrice, true, 0, true, kInf, out.price));
      break;
    }
    case EventType::kItem: {
      SW_TRY(opt_str(kStore, out.store));
      SW_TRY(req_str(kSku, out.sku));
      ItemFields& it = out.item;
      it = ItemFields{};
      SW_TRY(opt_str(kCategory, it.category));
      SW_TRY(num(kCost, false, 0, false, kInf, it.cost));
      SW_TRY(num(kLeadTime, false, 0, false, 3650, it.lead_time_days));
      SW_TRY(num(kLeadTimeSd, false, 0, false, 3650, it.lead_time_sd_days));
      SW_TRY(num(kServiceLevel, false, 0, true, 0.9999, it.service_level));
      SW_TRY(num(kMinPrice, false, 0, false, kInf, it.min_price));
      SW_TRY(num(kMaxPrice, false, 0, false, kInf, it.max_price));
      SW_TRY(num(kMapPrice, false, 0, false, kInf, it.map_price));
      SW_TRY(num(kPackSize, false, 1, false, kMaxQty, it.pack_size));
      SW_TRY(num(kMoq, false, 0, false, kMaxQty, it.moq));
      SW_TRY(num(kShelfLife, false, 0, false, 36500, it.shelf_life_days));
      SW_TRY(opt_str(kSupplier, it.supplier));
      if (has(kPerishable) && slots[kPerishable].kind != Kind::kNull) {
        if (slots[kPerishable].kind != Kind::kBool) return wrong(kPerishable, "a boolean");
        it.perishable = slots[kPerishable].boolean ? 1 : 0;
      }
      break;
    }
    case EventType::kPromotion: {
      SW_TRY(opt_str(kStore, out.store));
      SW_TRY(req_str(kSku, out.sku));
      SW_TRY(req_str(kPromoId, out.promo_id));
      SW_TRY(time_field(kStart, true, out.start_ms));
      SW_TRY(time_field(kEnd, true, out.end_ms));
      SW_TRY(num(kDiscountPct, true, 0, false, 100, out.discount_pct));
      if (out.end_ms < out.start_ms) {
        return fail(DecodeError::kOutOfRange, "promotion 'end' is before 'start'");
      }
      break;
    }
    case EventType::kMetric: {
      SW_TRY(req_str(kSeries, out.series));
      SW_TRY(num(kValue, true, -kInf, false, kInf, out.value));
      break;
    }
    case EventType::kFeedback: {
      SW_TRY(req_str(kAlertId, out.alert_id));
      std::string_view action;
      SW_TRY(req_str(kAction, action));
      if (action == "ack")
        out.action = FeedbackAction::kAck;
      else if (action == "dismiss")
        out.action = FeedbackAction::kDismiss;
      else if (action == "confirm")
        out.action = FeedbackAction::kConfirm;
      else
        return fail(DecodeError::kBadEnum, "action must be ack, dismiss or confirm");
      SW_TRY(opt_str(kBy, out.by));
      break;
    }
  }
#undef SW_TRY
  return DecodeError::kNone;
}

}  // namespace sw
