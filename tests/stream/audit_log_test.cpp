// AuditLog (stream/audit_log.h) and the output stamp's config_version (stream/output_stamp.h).

#include <gtest/gtest.h>

#include "state/memory_store.h"
#include "stream/audit_log.h"
#include "stream/bytes.h"
#include "stream/config.h"
#include "stream/output_stamp.h"

namespace sw {
namespace {

OutputRecord alert(const std::string& id) {
  OutputRecord r;
  r.stream = OutputStream::kAlerts;
  r.id = id;
  r.key = "S1|A";
  r.json = "{\"id\":\"" + id + "\"}";
  return r;
}

std::vector<std::string> stored_ids(const StateStore& store) {
  std::vector<std::string> ids;
  EXPECT_TRUE(store
                  .scan_prefix(kAuditRecordsNs, "",
                               [&](std::string_view k, std::string_view) {
                                 ids.emplace_back(k.substr(0, k.find('\x1f')));
                                 return true;
                               })
                  .is_ok());
  return ids;
}

TEST(AuditLogTest, RingKeepsTheLastInputsInOrderAndSurvivesRestore) {
  AuditLog log({/*inputs_per_key=*/3, /*keep_records=*/10});
  for (int64_t off : {10, 20, 20, 30, 40}) log.note_input(2, 0, off);  // 20 twice: one input
  log.note_input(0, 1, int64_t{1} << 40);                              // offsets above 4 GiB
  log.capture(alert("a1"), "low_stock", "{\"on_hand\":3}", 2, 1000);
  MemoryStateStore store;
  StateBatch batch;
  log.snapshot(batch);
  ASSERT_TRUE(store.commit(batch).is_ok());
  auto ring = store.get(kAuditInputsNs, be32_key(2)).value();
  ASSERT_TRUE(ring.has_value());
  using P = std::pair<int32_t, int64_t>;
  EXPECT_EQ(AuditLog::decode_inputs(*ring), (std::vector<P>{{0, 20}, {0, 30}, {0, 40}}));
  EXPECT_EQ(AuditLog::decode_inputs(*store.get(kAuditInputsNs, be32_key(0)).value()),
            (std::vector<P>{{1, int64_t{1} << 40}}));
  auto rec = store.get(kAuditRecordsNs, AuditLog::record_key("a1", 0)).value();
  ASSERT_TRUE(rec.has_value());
  EXPECT_NE(rec->find("\"state\":{\"on_hand\":3}"), std::string::npos) << *rec;
  EXPECT_NE(rec->find("{\"partition\":0,\"offset\":20},{\"partition\":0,\"offset\":30},"
                      "{\"partition\":0,\"offset\":40}"),
            std::string::npos)
      << *rec;

  // A restored log continues the ring and the sequence numbers.
  AuditLog again({3, 10});
  ASSERT_TRUE(again.restore(store).is_ok());
  again.note_input(2, 0, 50);
  again.capture(alert("a2"), "low_stock", "{}", 2, 2000);
  batch.clear();
  again.snapshot(batch);
  ASSERT_TRUE(store.commit(batch).is_ok());
  EXPECT_EQ(AuditLog::decode_inputs(*store.get(kAuditInputsNs, be32_key(2)).value()),
            (std::vector<P>{{0, 30}, {0, 40}, {0, 50}}));
  EXPECT_TRUE(store.get(kAuditRecordsNs, AuditLog::record_key("a2", 1)).value().has_value());
}

TEST(AuditLogTest, RetentionKeepsTheNewestRecordsAcrossRestores) {
  MemoryStateStore store;
  StateBatch batch;
  AuditLog log({2, 3});
  for (const char* id : {"a", "b", "c", "d"}) log.capture(alert(id), "op", "{}", kNoKey, 0);
  log.snapshot(batch);
  ASSERT_TRUE(store.commit(batch).is_ok());
  EXPECT_EQ(stored_ids(store), (std::vector<std::string>{"b", "c", "d"}));
  AuditLog again({2, 3});
  ASSERT_TRUE(again.restore(store).is_ok());
  again.capture(alert("e"), "op", "{}", kNoKey, 0);
  batch.clear();
  again.snapshot(batch);
  ASSERT_TRUE(store.commit(batch).is_ok());
  EXPECT_EQ(stored_ids(store), (std::vector<std::string>{"c", "d", "e"}));
}

TEST(OutputStampTest, ConfigVersionCoversWhatDeterminesOutputsOnly) {
  const std::vector<std::string> ops = {"low_stock", "forecast"};
  auto version = [&](std::vector<std::string> sets, std::vector<std::string> running) {
    return config_version(Config::from_yaml("{}", sets), running);
  };
  const std::string base = version({"operators.low_stock.service_level=0.95"}, ops);
  // Transport, layout and checkpointing do not change it; operator order does not either.
  EXPECT_EQ(base, version({"operators.low_stock.service_level=0.95", "pipeline.batch_size=7",
                           "state.checkpoint_interval_ms=5", "source.kind=kafka",
                           "sinks.file.dir=x", "state.dir=y"},
                          {"forecast", "low_stock"}));
  // An explicit enabled switch of a running operator, and a disabled operator's keys: no.
  EXPECT_EQ(base, version({"operators.low_stock.service_level=0.95",
                           "operators.low_stock.enabled=true", "operators.price.max_step=0.1"},
                          ops));
  // Operator settings, event time, regions and which operators run: yes.
  EXPECT_NE(base, version({"operators.low_stock.service_level=0.9"}, ops));
  EXPECT_NE(
      base,
      version({"operators.low_stock.service_level=0.95", "pipeline.out_of_orderness=1m"}, ops));
  EXPECT_NE(base, version({"operators.low_stock.service_level=0.95", "regions.R1=[S1,S2]"}, ops));
  EXPECT_NE(base, version({"operators.low_stock.service_level=0.95"}, {"low_stock"}));
  EXPECT_EQ(base.size(), 12u);
}

TEST(OutputStampTest, StampCarriesSchemaConfigAndFormatVersions) {
  set_output_config_version("0123456789ab");
  EXPECT_EQ(output_stamp(),
            "\"schema_version\":1,\"config_version\":\"0123456789ab\",\"versions\":{\"state\":" +
                std::to_string(kStateFormatVersion) +
                ",\"model\":" + std::to_string(kModelVersion) + "}");
}

}  // namespace
}  // namespace sw
