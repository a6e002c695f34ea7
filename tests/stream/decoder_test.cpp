#include "stream/decoder.h"

#include <gtest/gtest.h>

namespace sw {
namespace {

class DecoderTest : public ::testing::Test {
 protected:
  DecodeError decode(const std::string& s) {
    text_ = s;
    return decoder_.decode(text_, 0, event_);
  }
  Decoder decoder_;
  Event event_;
  std::string text_;
};

TEST_F(DecoderTest, SaleWithAllFields) {
  ASSERT_EQ(decode(R"({"type":"sale","ts":"2026-11-25T10:15:00.123Z","event_id":"e1","store":"S1",)"
                   R"("sku":"K1","qty":2,"unit_price":3.5,"channel":"online","currency":"EUR",)"
                   R"("txn_id":"t","promo_id":"p","extra":{"x":[1,2]}})"),
            DecodeError::kNone)
      << decoder_.detail();
  EXPECT_EQ(event_.type, EventType::kSale);
  EXPECT_EQ(event_.ts_ms, 1795601700123);  // date -d 2026-11-25T10:15:00Z +%s = 1795601700
  EXPECT_EQ(event_.store, "S1");
  EXPECT_EQ(event_.sku, "K1");
  EXPECT_DOUBLE_EQ(event_.qty, 2);
  EXPECT_DOUBLE_EQ(event_.price, 3.5);
  EXPECT_EQ(event_.channel, "online");
  EXPECT_EQ(event_.promo_id, "p");
  EXPECT_NE(event_.event_id_hash, 0u);
}

TEST_F(DecoderTest, TimestampForms) {
  int64_t ms = 0;
  ASSERT_TRUE(parse_rfc3339("2026-11-25T11:15:00+01:00", ms));
  EXPECT_EQ(ms, 1795601700000);
  ASSERT_TRUE(parse_rfc3339("2026-11-25T05:15:00-05:00", ms));
  EXPECT_EQ(ms, 1795601700000);
  ASSERT_TRUE(parse_rfc3339("1970-01-01T00:00:00Z", ms));
  EXPECT_EQ(ms, 0);
  ASSERT_TRUE(parse_rfc3339("2024-02-29", ms));
  EXPECT_EQ(ms, 1709164800000);
  EXPECT_FALSE(parse_rfc3339("2023-02-29", ms));
  EXPECT_FALSE(parse_rfc3339("2026-11-25T10:15:00", ms));  // no offset
  EXPECT_FALSE(parse_rfc3339("2026-13-01T00:00:00Z", ms));
  EXPECT_FALSE(parse_rfc3339("2026-11-25T24:00:00Z", ms));
  EXPECT_FALSE(parse_rfc3339("yesterday", ms));
  ASSERT_EQ(decode(R"({"type":"metric","ts":1795601700123,"series":"pos.latency","value":-1.5})"),
            DecodeError::kNone);
  EXPECT_EQ(event_.ts_ms, 1795601700123);
  EXPECT_DOUBLE_EQ(event_.value, -1.5);
}

TEST_F(DecoderTest, EveryTypeDecodes) {
  const char* good[] = {
      R"({"type":"return","ts":0,"store":"S","sku":"K","qty":1,"restock":false})",
      R"({"type":"inventory","ts":0,"store":"S","sku":"K","kind":"snapshot","qty":0,"on_order":5})",
      R"({"type":"inventory","ts":0,"store":"S","sku":"K","kind":"adjustment","qty":-3})",
      R"({"type":"inventory","ts":0,"store":"S","sku":"K","kind":"receipt","qty":3,"expires":"2026-12-01"})",
      R"({"type":"price","ts":0,"sku":"K","price":2.5,"cost":1})",
      R"({"type":"competitor_price","ts":0,"sku":"K","competitor":"C","price":2.4,"store":"S"})",
      R"({"type":"item","ts":0,"sku":"K","category":"dairy","lead_time_days":4,"pack_size":6,"perishable":true})",
      R"({"type":"promotion","ts":0,"sku":"K","promo_id":"P","start":"2026-11-01","end":"2026-11-08","discount_pct":20})",
      R"({"type":"feedback","ts":0,"alert_id":"a1","action":"dismiss","by":"ops"})",
  };
  for (const char* g : good)
    EXPECT_EQ(decode(g), DecodeError::kNone) << g << ": " << decoder_.detail();
  decode(good[0]);
  EXPECT_FALSE(event_.restock);
  decode(good[2]);
  EXPECT_EQ(event_.inventory_kind, InventoryKind::kAdjustment);
  EXPECT_DOUBLE_EQ(event_.qty, -3);
  decode(good[6]);
  EXPECT_DOUBLE_EQ(event_.item.lead_time_days, 4);
  EXPECT_EQ(event_.item.perishable, 1);
  EXPECT_FALSE(is_set(event_.item.cost));
}

TEST_F(DecoderTest, ErrorCodes) {
  struct Case {
    const char* input;
    DecodeError want;
  } cases[] = {
      {"not json", DecodeError::kNotJson},
      {R"({"type":"sale")", DecodeError::kNotJson},
      {R"({"type":"sale","ts":0} trailing)", DecodeError::kNotJson},
      {"[1,2]", DecodeError::kNotObject},
      {"42", DecodeError::kNotObject},
      {R"({"ts":0})", DecodeError::kMissingType},
      {R"({"type":"refund","ts":0})", DecodeError::kUnknownType},
      {R"({"type":"sale","ts":0,"store":"S","qty":1,"unit_price":1})", DecodeError::kMissingField},
      {R"({"type":"sale","store":"S","sku":"K","qty":1,"unit_price":1})",
       DecodeError::kMissingField},
      {R"({"type":"sale","ts":0,"store":"S","sku":"K","qty":"1","unit_price":1})",
       DecodeError::kWrongType},
      {R"({"type":"sale","ts":0,"store":"S","sku":"K","qty":0,"unit_price":1})",
       DecodeError::kOutOfRange},
      {R"({"type":"sale","ts":0,"store":"S","sku":"K","qty":1,"unit_price":-1})",
       DecodeError::kOutOfRange},
      {R"({"type":"sale","ts":0,"store":"S","sku":"K","qty":1e999,"unit_price":1})",
       DecodeError::kOutOfRange},
      {R"({"type":"sale","ts":"2026-02-30T00:00:00Z","store":"S","sku":"K","qty":1,"unit_price":1})",
       DecodeError::kBadTimestamp},
      {R"({"type":"sale","ts":-5,"store":"S","sku":"K","qty":1,"unit_price":1})",
       DecodeError::kBadTimestamp},
      {R"({"type":"sale","ts":0,"store":"S","sku":"K","qty":1,"unit_price":1,"channel":"fax"})",
       DecodeError::kBadEnum},
      {R"({"type":"inventory","ts":0,"store":"S","sku":"K","kind":"lost","qty":1})",
       DecodeError::kBadEnum},
      {R"({"type":"inventory","ts":0,"store":"S","sku":"K","kind":"snapshot","qty":-1})",
       DecodeError::kOutOfRange},
      {R"({"type":"promotion","ts":0,"sku":"K","promo_id":"P","start":"2026-11-08","end":"2026-11-01","discount_pct":20})",
       DecodeError::kOutOfRange},
      {R"({"type":"feedback","ts":0,"alert_id":"a","action":"snooze"})", DecodeError::kBadEnum},
      {R"({"type":"sale","ts":0,"store":"","sku":"K","qty":1,"unit_price":1})",
       DecodeError::kMissingField},
      // Found by fuzz_decoder: a malformed literal where a scalar belongs used to throw.
      {R"({"price":nnnnnnnn2>9})", DecodeError::kNotJson},
      {R"({"type":nul,"ts":0})", DecodeError::kNotJson},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(decode(c.input), c.want) << c.input << " -> " << decoder_.detail();
    EXPECT_FALSE(decoder_.detail().empty()) << c.input;
  }
  Decoder small(16);
  std::string big(R"({"type":"metric","ts":0,"series":"x","value":1})");
  EXPECT_EQ(small.decode(big, 0, event_), DecodeError::kTooLarge);
}

TEST_F(DecoderTest, InPlaceParsingWithPadding) {
  std::string buf = R"({"type":"metric","ts":5,"series":"s","value":2})";
  size_t len = buf.size();
  buf.append(64, ' ');
  ASSERT_EQ(decoder_.decode(std::string_view(buf.data(), len), 64, event_), DecodeError::kNone);
  EXPECT_EQ(event_.series, "s");
  EXPECT_EQ(decode_error_code(DecodeError::kBadEnum), "bad_enum");
}

}  // namespace
}  // namespace sw
