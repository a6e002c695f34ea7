// Codecs of the low_stock records (docs/low_stock.md "State", docs/replenishment.md "State").
// The flow (version 1) and item (versions 1 and 2) records written before the records moved to
// stream/bytes.h prefix their strings with u16 lengths; they still decode, to the same values
// and the same operator behaviour as the current u32-prefixed versions. The records whose
// layout did not change (lead times, budgets, key state) still encode byte for byte as before.

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "operators/low_stock/low_stock.h"
#include "operators/low_stock/state.h"
#include "operators/low_stock/workflow.h"
#include "stream/bytes.h"
#include "stream/config.h"
#include "tests/support/fake_context.h"

namespace sw::low_stock {
namespace {

template <size_t N>
std::string bytes(const char (&s)[N]) {
  return std::string(s, N - 1);
}

// Golden records, written by the code before the move (main 825a0a9, operators/low_stock/
// workflow.cpp Out and state.cpp Writer) from the values of old_flow() and old_item().
const std::string kFlowV1 = bytes(
    "\x01\x02\x00\x00\x00\x05\x00\x50\x4f\x2d\x31\x37\x04\x00\x61\x63\x6d\x65\x00\x00\x00\x00\x00"
    "\x00\x48\x40\x00\x00\x00\x00\x00\x00\x29\x40\x00\x68\xe5\xcf\x8b\x01\x00\x00\x00\x7c\x58\xdf"
    "\x8b\x01\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\x00\x0e\x00\x40\x31\x37\x30\x30\x30\x38\x36"
    "\x34\x30\x30\x30\x30\x30\x00\x00\x00\x00\x00\x00\x00\x00\x18\x40\x00\x00\x00\x00\x00\x00\x18"
    "\x40\x00\xc4\x0b\xd5\x8b\x01\x00\x00\x00\x20\x32\xda\x8b\x01\x00\x00\x00\xfd\x9f\xda\x8b\x01"
    "\x00\x00\x02\x02\x00\x00\x00\x00\xcd\xb2\xed\x8b\x01\x00\x00\x00\x00\x00\x00\x00\x00\x0a\x40"
    "\x00\xae\xa8\xf3\x8b\x01\x00\x00\x00\x00\x00\x00\x00\x00\x22\x40\x04\x00\x61\x63\x6d\x65\x00"
    "\xec\xbc\xe7\x8b\x01\x00\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\x2a\x00\x00\x00\x00\x00\x00"
    "\x00\x00\x00\x12\x40\x00\x0b\xc7\xe1\x8b\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80"
    "\xa1\x5f\xe2\x8b\x01\x00\x00\x05");
const std::string kItemV2 = bytes(
    "\x02\x00\x00\x40\x40\x00\x00\x00\x3f\x33\x33\x73\x3f\x00\x00\x40\x41\x00\x00\xc0\x41\x00\x00"
    "\xe0\x3f\x05\x00\x64\x61\x69\x72\x79\x00\x00\x20\x41\x01\x04\x00\x61\x63\x6d\x65");
const std::string kLeadV1 =
    bytes("\x01\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x40\x00\x00\x00\x00\x00\x00\xe8\x3f");
const std::string kBudgetV1 = bytes("\x01\xf4\x4c\x00\x00\x00\x00\x00\x00\x00\xe0\x5e\x40");
const std::string kCompactState = bytes(
    "\xf3\x1e\x00\x00\x00\x00\x00\x80\x31\x40\x00\x68\xe5\xcf\x8b\x01\x00\x00\x20\x09\xed\xcf\x8b"
    "\x01\x00\x00\x00\x00\xc0\x41\x00\x00\x50\x40\x00\x00\xc0\x3f\xdb\x4c\x00\x00\x1e\x00\x41\x01");
const std::string kFixedState = bytes(
    "\x00\x00\x00\x00\x00\x80\x31\x40\x00\x68\xe5\xcf\x8b\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x20\x09\xed\xcf\x8b\x01\x00\x00\x00\x00\xc0\x41\x00\x00"
    "\x50\x40\x00\x00\xc0\x3f\x00\x00\x00\x00\xdb\x4c\x00\x00\x1e\x00\x41\x01");

Flow old_flow() {
  Flow f{.orders = {{.po_id = "PO-17",
                     .supplier = "acme",
                     .ordered = 48,
                     .open = 12.5,
                     .ordered_ms = 1700000000000,
                     .expected_ms = 1700259200000},
                    {.po_id = "@1700086400000",
                     .supplier = "",
                     .ordered = 6,
                     .open = 6,
                     .ordered_ms = 1700086400000,
                     .expected_ms = 1700172800000,
                     .overdue_since_ms = 1700180000000,
                     .overdue_severity = 2}},
         .lots = {{1700500000000, 3.25}, {1700600000000, 9}},
         .supplier = "acme",
         .expiry_since_ms = 1700400000000,
         .expiry_severity = 1,
         .transfer_from = 42,
         .transfer_qty = 4.5,
         .acked = 5};
  f.quiet_until[kAlertLowStock] = 1700300000000;
  f.quiet_until[kAlertOverdue] = 1700310000000;
  return f;
}

ItemParams old_item() {
  return ItemParams{.lead_time_days = 3,
                    .lead_time_sd_days = 0.5f,
                    .service_level = 0.95f,
                    .pack_size = 12,
                    .moq = 24,
                    .cost = 1.75f,
                    .shelf_life_days = 10,
                    .perishable = 1,
                    .category = "dairy",
                    .supplier = "acme",
                    .sku = ""};
}

KeyState old_state() {
  return KeyState{17.5,           // on_hand
                  1700000000000,  // low_since_ms
                  0,              // stockout_since_ms
                  0,              // overstock_since_ms
                  1700000500000,  // last_event_ms
                  24,             // on_order
                  3.25f,          // demand_mean
                  1.5f,           // demand_var
                  0,              // today_qty
                  19675,          // day
                  30,             // history_days
                  kInventoryKnown | kDemandInit | kDirty,
                  1};  // low_severity
}

// Equal persisted fields: the current encodings (fixed-width fields and length-prefixed
// strings, every persisted field once, in a fixed order) are equal exactly when they are.
void expect_same(const Flow& a, const Flow& b) {
  EXPECT_EQ(encode_flow(a), encode_flow(b));
  EXPECT_EQ(a.orders.size(), b.orders.size());  // a readable first difference
  EXPECT_EQ(a.supplier, b.supplier);
}
void expect_same(const ItemParams& a, const ItemParams& b) {
  EXPECT_EQ(encode_item(a), encode_item(b));
  EXPECT_EQ(a.category, b.category);
  EXPECT_EQ(a.supplier, b.supplier);
}

TEST(LowStockCodecTest, OldFlowRecordDecodesToTheSameFlow) {
  Flow f;
  ASSERT_TRUE(decode_flow(kFlowV1, f));
  expect_same(f, old_flow());
}

// The current record of `value` starts with `version`, is `old_size` plus 2 bytes per string
// (u32 instead of u16 lengths), and decodes back to `value`; so does `big`, whose strings do
// not fit a u16 length (the old codecs cut them at 65,535 bytes).
template <typename T, typename Encode, typename Decode>
void expect_current_record(const T& value, const T& big, Encode encode, Decode decode,
                           uint8_t version, size_t old_size, size_t strings) {
  const std::string v = encode(value);
  ASSERT_EQ(static_cast<uint8_t>(v[0]), version);
  EXPECT_EQ(v.size(), old_size + 2 * strings);
  T back;
  ASSERT_TRUE(decode(v, back));
  expect_same(back, value);
  T big_back;
  ASSERT_TRUE(decode(encode(big), big_back));
  expect_same(big_back, big);
}

TEST(LowStockCodecTest, FlowRecordIsVersionTwoWithU32StringsAndRoundTrips) {
  Flow big = old_flow();
  big.orders[0].po_id = std::string(70'000, 'p');
  big.supplier = std::string(65'536, 's');
  // Five strings: po id and supplier of each order, the flow's supplier.
  expect_current_record(old_flow(), big, encode_flow, decode_flow, kFlowVersion2, kFlowV1.size(),
                        5);
}

TEST(LowStockCodecTest, FlowLayoutsCannotBeConfusedAndTruncationIsRejected) {
  // The version byte selects the string prefix: a record read with the other one's fails.
  std::string v1_as_v2 = kFlowV1, v2_as_v1 = encode_flow(old_flow());
  v1_as_v2[0] = static_cast<char>(kFlowVersion2);
  v2_as_v1[0] = static_cast<char>(kFlowVersion);
  Flow f;
  EXPECT_FALSE(decode_flow(v1_as_v2, f));
  EXPECT_FALSE(decode_flow(v2_as_v1, f));
  std::string v3 = kFlowV1;
  v3[0] = 3;
  EXPECT_FALSE(decode_flow(v3, f));
  for (const std::string& v : {kFlowV1, encode_flow(old_flow())}) {
    for (size_t n = 0; n < v.size(); ++n) EXPECT_FALSE(decode_flow(v.substr(0, n), f)) << n;
    EXPECT_FALSE(decode_flow(v + '\0', f));  // trailing bytes
  }
}

TEST(LowStockCodecTest, OldItemRecordsDecodeToTheSameParameters) {
  ItemParams p;
  ASSERT_TRUE(decode_item(kItemV2, p));
  expect_same(p, old_item());
  EXPECT_TRUE(p.present);
  EXPECT_FALSE(std::isnan(p.z));

  // Version 1 (docs/low_stock.md): version 2's bytes up to the category.
  const size_t category_end = 1 + 6 * 4 + 2 + old_item().category.size();
  std::string v1 = kItemV2.substr(0, category_end);
  v1[0] = static_cast<char>(kItemVersion);
  ItemParams q;
  ASSERT_TRUE(decode_item(v1, q));
  ItemParams want = old_item();
  want.shelf_life_days = std::numeric_limits<float>::quiet_NaN();
  want.perishable = -1;
  want.supplier.clear();
  expect_same(q, want);
}

TEST(LowStockCodecTest, ItemRecordIsVersionThreeWithU32StringsAndRoundTrips) {
  ItemParams big = old_item();
  big.category = std::string(70'000, 'c');
  expect_current_record(old_item(), big, encode_item, decode_item, kItemVersion3, kItemV2.size(),
                        2);

  // The version byte selects the string prefix: a record read with the other one's fails.
  const std::string v = encode_item(old_item());
  ItemParams p;
  std::string v3_as_v2 = v, v2_as_v3 = kItemV2;
  v3_as_v2[0] = static_cast<char>(kItemVersion2);
  v2_as_v3[0] = static_cast<char>(kItemVersion3);
  EXPECT_FALSE(decode_item(v3_as_v2, p));
  EXPECT_FALSE(decode_item(v2_as_v3, p));
  for (const std::string& r : {kItemV2, v}) {
    for (size_t n = 0; n < r.size(); ++n) EXPECT_FALSE(decode_item(r.substr(0, n), p)) << n;
  }
}

// Lead times, budgets and key states have no strings: their layouts are unchanged, byte for
// byte (so they keep their versions).
TEST(LowStockCodecTest, RecordsWithoutStringsEncodeAsBefore) {
  inventory::LeadStats st;
  st.n = 3;
  st.mean = 2.5;
  st.m2 = 0.75;
  EXPECT_EQ(encode_lead(st), kLeadV1);
  inventory::LeadStats st2;
  ASSERT_TRUE(decode_lead(kLeadV1, st2));
  EXPECT_EQ(st2.n, 3u);
  EXPECT_EQ(st2.mean, 2.5);
  EXPECT_EQ(st2.m2, 0.75);
  EXPECT_FALSE(decode_lead(kLeadV1.substr(0, kLeadV1.size() - 1), st2));

  Budget b;
  b.day = 19700;
  b.spent = 123.5;
  EXPECT_EQ(encode_budget(b), kBudgetV1);
  Budget b2;
  ASSERT_TRUE(decode_budget(kBudgetV1, b2));
  EXPECT_EQ(b2.day, 19700);
  EXPECT_EQ(b2.spent, 123.5);
  EXPECT_FALSE(decode_budget(kBudgetV1 + '\0', b2));

  char buf[kCompactMaxBytes];
  const size_t n = encode_compact(old_state(), buf);
  EXPECT_EQ(std::string(buf, n), kCompactState);
  char fixed[kStateRecordBytes];
  encode_state(old_state(), fixed);
  EXPECT_EQ(std::string(fixed, sizeof fixed), kFixedState);

  // Two compact records back to back decode one after the other; a cut one is rejected.
  const std::string two = kCompactState + kCompactState;
  size_t pos = 0;
  KeyState s;
  ASSERT_TRUE(decode_compact(two, pos, s));
  EXPECT_EQ(pos, kCompactState.size());
  ASSERT_TRUE(decode_compact(two, pos, s));
  EXPECT_EQ(pos, two.size());
  EXPECT_EQ(s.on_hand, 17.5);
  EXPECT_EQ(s.day, 19675);
  EXPECT_EQ(s.flags, kInventoryKnown | kDemandInit);  // kDirty is not persisted
  pos = 0;
  EXPECT_FALSE(decode_compact(two.substr(0, kCompactState.size() - 1), pos, s));
  KeyState f;
  decode_state(kFixedState.data(), f);
  EXPECT_EQ(f.low_since_ms, 1700000000000);
  EXPECT_EQ(f.history_days, 30);
}

// A checkpoint holding the old flow and item records restores to the same operator as one
// holding the same values in the current records: same describe(), same outputs after.
TEST(LowStockCodecTest, OldRecordsRestoreToTheSameOperator) {
  auto checkpoint = [](const std::string& flow_record, const std::string& item_record) {
    std::string block(1, static_cast<char>(kFlowBlockVersion));
    ByteWriter w(block);
    w.put<uint32_t>(0);  // KeyId of ("s1", "milk")
    w.put<uint32_t>(static_cast<uint32_t>(flow_record.size()));
    block += flow_record;
    StateBatch b;
    b.put(kStateNs, be32_key(0),
          std::string(1, static_cast<char>(kCompactBlockVersion)) + kCompactState);
    b.put(kFlowNs, be32_key(0), block);
    b.put(kItemNs, "milk", item_record);
    return b;
  };
  struct Run {
    std::string describe;
    std::vector<OutputRecord> outputs;
  };
  auto run = [&](const StateBatch& b) {
    testing::FakeStateStore store;
    EXPECT_TRUE(store.commit(b).is_ok());
    LowStockOperator op(Config::from_yaml("{}", {}));
    testing::FakeContext ctx;
    EXPECT_EQ(ctx.key("s1", "milk"), 0u);
    const Status s = op.restore(store, ctx);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    Run r;
    r.describe = op.describe(0, ctx.keys());
    const int64_t t = 1700200000000;
    ctx.send(op, testing::inventory(t, "s1", "milk", InventoryKind::kSnapshot, 2));
    for (int d = 0; d < 6; ++d) ctx.send(op, testing::sale(t + d * 86'400'000, "s1", "milk", 3));
    ctx.send(op, testing::inventory(t + 6 * 86'400'000, "s1", "milk", InventoryKind::kReceipt, 6));
    r.outputs = ctx.take();
    return r;
  };
  const Run old_run = run(checkpoint(kFlowV1, kItemV2));
  const Run new_run = run(checkpoint(encode_flow(old_flow()), encode_item(old_item())));
  EXPECT_NE(old_run.describe.find("PO-17"), std::string::npos) << old_run.describe;
  EXPECT_NE(old_run.describe.find("acme"), std::string::npos) << old_run.describe;
  EXPECT_EQ(old_run.describe, new_run.describe);
  EXPECT_FALSE(old_run.outputs.empty());
  ASSERT_EQ(old_run.outputs.size(), new_run.outputs.size());
  for (size_t i = 0; i < old_run.outputs.size(); ++i) {
    EXPECT_EQ(old_run.outputs[i].id, new_run.outputs[i].id);
    EXPECT_EQ(old_run.outputs[i].json, new_run.outputs[i].json);
  }
}

}  // namespace
}  // namespace sw::low_stock
