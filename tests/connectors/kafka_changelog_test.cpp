// ChangelogStore (connectors/kafka_changelog.h) against librdkafka's mock cluster over TCP,
// with in-memory local stores: a lost local store is restored from the changelog; records of
// an incomplete checkpoint are ignored and their keys republished; a local store ahead of the
// changelog is republished; after each start the changelog's compacted view (the last record
// per key) equals the local state.

#include "connectors/kafka_changelog.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "state/memory_store.h"
#include "tests/support/kafka_test_util.h"

namespace sw {
namespace {

using Entries = std::map<std::pair<std::string, std::string>, std::string>;

// A local store that outlives the changelog decorator owning it (an intact state directory).
class SharedStore final : public StateStore {
 public:
  explicit SharedStore(MemoryStateStore& s) : s_(s) {}
  Result<std::optional<std::string>> get(std::string_view ns, std::string_view k) const override {
    return s_.get(ns, k);
  }
  Status scan_prefix(
      std::string_view ns, std::string_view p,
      const std::function<bool(std::string_view, std::string_view)>& fn) const override {
    return s_.scan_prefix(ns, p, fn);
  }
  Status commit(const StateBatch& b) override { return s_.commit(b); }
  Status scan_all(const std::function<bool(std::string_view, std::string_view, std::string_view)>&
                      fn) const override {
    return s_.scan_all(fn);
  }

 private:
  MemoryStateStore& s_;
};

Entries entries(const StateStore& s) {
  Entries out;
  Status st = s.scan_all([&](std::string_view ns, std::string_view k, std::string_view v) {
    if (ns != ChangelogStore::kLocalNs) out[{std::string(ns), std::string(k)}] = std::string(v);
    return true;
  });
  EXPECT_TRUE(st.is_ok()) << st.message();
  return out;
}

// The entries that differ, for assertion messages (gtest truncates large maps).
std::string differences(const Entries& got, const Entries& want) {
  std::string out;
  for (const auto& [k, v] : got) {
    auto it = want.find(k);
    if (it == want.end())
      out += " extra " + k.first + "/" + k.second + "=" + v;
    else if (it->second != v)
      out += " " + k.first + "/" + k.second + "=" + v + " (want " + it->second + ")";
  }
  for (const auto& [k, v] : want) {
    if (!got.count(k)) out += " missing " + k.first + "/" + k.second;
  }
  return out;
}

class ChangelogTest : public ::testing::Test {
 protected:
  void SetUp() override { broker_ = KafkaMockBroker::start({0, 1, 3, {}}); }
  ChangelogOptions options() const {
    ChangelogOptions o;
    o.enabled = true;
    o.application = "app";
    o.timeout_ms = 20000;
    o.properties = {{"bootstrap.servers", broker_->bootstrap(), "kafka.brokers"}};
    return o;
  }
  std::unique_ptr<ChangelogStore> open(std::unique_ptr<StateStore> local) {
    auto r = ChangelogStore::open(options(), std::move(local));
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return r.is_ok() ? std::move(r.value()) : nullptr;
  }
  // The changelog as compaction leaves it: per namespace topic, the last record per key
  // (tombstones drop the key).
  Entries compacted(const std::vector<std::string>& namespaces) const {
    Entries out;
    for (const std::string& ns : namespaces) {
      for (const auto& c : testing::consume_all(broker_->bootstrap(), changelog_topic("app", ns))) {
        std::string key = c.key.substr(1);
        if (c.value.empty()) {
          out.erase({ns, key});
        } else {
          out[{ns, key}] = c.value.substr(1);
        }
      }
    }
    return out;
  }
  std::unique_ptr<KafkaMockBroker> broker_;
};

void fill(StateStore& s) {
  StateBatch b;
  for (int i = 0; i < 500; ++i) b.put("ops/a", "k" + std::to_string(i), "v" + std::to_string(i));
  b.put("sink/file", "alerts", std::string("\x10\0\0\0\0\0\0\0", 8));
  b.put("task", "meta", "");  // an empty value is not a tombstone
  ASSERT_TRUE(s.commit(b).is_ok());
  b.clear();
  // remove_prefix: keys of the namespace not written again after it are gone.
  b.put("ops/b", "gone-before", "x");
  b.remove_prefix("ops/b");
  b.remove_prefix("ops/a");
  for (int i = 0; i < 500; i += 2) b.put("ops/a", "k" + std::to_string(i), "w" + std::to_string(i));
  b.remove("task", "absent");
  b.put("sink/file", "alerts", std::string("\x20\0\0\0\0\0\0\0", 8));
  ASSERT_TRUE(s.commit(b).is_ok());
}

TEST_F(ChangelogTest, LostLocalStateIsRestored) {
  MemoryStateStore original;
  auto c = open(std::make_unique<SharedStore>(original));
  ASSERT_TRUE(c);
  fill(*c);
  const Entries want = entries(original);
  ASSERT_EQ(want.size(), 252u);  // 250 of ops/a, sink/file, task/meta
  EXPECT_FALSE(want.count({"ops/a", "k1"}));
  c.reset();

  auto restored = open(std::make_unique<MemoryStateStore>());
  ASSERT_TRUE(restored);
  EXPECT_EQ(restored->start(), ChangelogStore::Start::kRestored) << restored->start_message();
  EXPECT_EQ(entries(*restored), want);
  EXPECT_EQ(compacted({"ops/a", "ops/b", "sink/file", "task"}), want);
  double records = -1;
  restored->probe()->for_each([&](const Probe::Metric& m) {
    if (m.name == "changelog_restore_records") records = m.gauge.value();
  });
  EXPECT_GE(records, 252);

  // The intact local state with a clean record starts without reading the changelog.
  MemoryStateStore kept;
  auto again = open(std::make_unique<SharedStore>(kept));  // fresh: restores
  ASSERT_TRUE(again);
  again.reset();
  auto local = open(std::make_unique<SharedStore>(kept));
  ASSERT_TRUE(local);
  EXPECT_EQ(local->start(), ChangelogStore::Start::kLocal) << local->start_message();
  EXPECT_EQ(entries(*local), want);
}

TEST_F(ChangelogTest, IncompleteCheckpointIsIgnoredAndItsKeysRepublished) {
  MemoryStateStore original;
  auto c = open(std::make_unique<SharedStore>(original));
  ASSERT_TRUE(c);
  fill(*c);
  const Entries want = entries(original);
  c.reset();
  // A crash mid-checkpoint: records after the last marker, as the decorator writes them
  // ("k" + key, "v" + value; murmur2 partition over the topic's partitions — the development
  // broker may create a topic with more partitions than asked, so they are read back: a
  // record in another partition than the decorator's for its key would have no order
  // relative to the republished one).
  kafka::HandlePtr meta =
      kafka::make_handle(RD_KAFKA_PRODUCER, kafka::make_conf(broker_->bootstrap(), {}));
  Result<int32_t> parts =
      kafka::partition_count(meta.get(), changelog_topic("app", "ops/a"), 10000);
  ASSERT_TRUE(parts.is_ok()) << parts.status().message();
  const int32_t n = parts.value();
  auto rec = [n](const std::string& key, const std::string& value) {
    std::string k = "k" + key;
    return testing::Produced{kafka::murmur2_partition(k, n), k, value.empty() ? "" : "v" + value};
  };
  testing::produce(broker_->bootstrap(), changelog_topic("app", "ops/a"),
                   {rec("k0", "partial"), rec("k2", ""), rec("new", "partial")});
  testing::produce(broker_->bootstrap(), changelog_topic("app", "ops/never"),
                   {rec("z", "partial")});

  auto restored = open(std::make_unique<MemoryStateStore>());
  ASSERT_TRUE(restored);
  EXPECT_EQ(restored->start(), ChangelogStore::Start::kRestored);
  EXPECT_NE(restored->start_message().find("4 keys of an incomplete checkpoint republished"),
            std::string::npos)
      << restored->start_message();
  EXPECT_EQ(entries(*restored), want);
  // Compaction may now keep only the last record per key: it still gives the restored state.
  Entries view = compacted({"ops/a", "ops/b", "ops/never", "sink/file", "task"});
  EXPECT_EQ(view, want) << differences(view, want);
  restored.reset();
  auto twice = open(std::make_unique<MemoryStateStore>());
  ASSERT_TRUE(twice);
  EXPECT_EQ(entries(*twice), want) << differences(entries(*twice), want);
}

TEST_F(ChangelogTest, LocalStateAheadOfTheChangelogIsRepublished) {
  MemoryStateStore original;
  auto c = open(std::make_unique<SharedStore>(original));
  ASSERT_TRUE(c);
  fill(*c);
  c.reset();
  // A crash after the local commit, before the marker: the local batch is there, the record
  // says dirty, the changelog lacks the batch (here: all of it).
  StateBatch b;
  b.put(ChangelogStore::kLocalNs, "state", [] {
    std::string v(9, '\0');
    v[0] = 2;  // checkpoint id 2 (fill's second commit), little-endian
    v[8] = 1;  // dirty
    return v;
  }());
  b.remove_prefix("ops/a");
  b.put("ops/a", "only-local", "1");
  b.put("ops/c", "new-ns", "2");
  ASSERT_TRUE(original.commit(b).is_ok());
  const Entries want = entries(original);

  auto republished = open(std::make_unique<SharedStore>(original));
  ASSERT_TRUE(republished);
  EXPECT_EQ(republished->start(), ChangelogStore::Start::kRepublished)
      << republished->start_message();
  EXPECT_EQ(entries(*republished), want);
  EXPECT_EQ(compacted({"ops/a", "ops/b", "ops/c", "sink/file", "task"}), want);
  republished.reset();
  auto restored = open(std::make_unique<MemoryStateStore>());
  ASSERT_TRUE(restored);
  EXPECT_EQ(restored->start(), ChangelogStore::Start::kRestored);
  EXPECT_EQ(entries(*restored), want);
}

TEST_F(ChangelogTest, OlderLocalStateIsReplacedByTheChangelog) {
  MemoryStateStore original;
  auto c = open(std::make_unique<SharedStore>(original));
  ASSERT_TRUE(c);
  StateBatch b;
  b.put("ops/a", "early", "1");
  ASSERT_TRUE(c->commit(b).is_ok());
  // A copy of the state directory at this point (a backup put back later), with a key the
  // changelog never had.
  MemoryStateStore old;
  StateBatch copy;
  ASSERT_TRUE(original
                  .scan_all([&](std::string_view ns, std::string_view k, std::string_view v) {
                    copy.put(ns, k, v);
                    return true;
                  })
                  .is_ok());
  copy.put("ops/z", "stray", "1");
  ASSERT_TRUE(old.commit(copy).is_ok());
  fill(*c);
  const Entries want = entries(original);
  c.reset();
  auto restored = open(std::make_unique<SharedStore>(old));
  ASSERT_TRUE(restored);
  EXPECT_EQ(restored->start(), ChangelogStore::Start::kRestored) << restored->start_message();
  EXPECT_EQ(entries(*restored), want);
}

TEST(ChangelogOptionsTest, NeedsKafkaBrokers) {
  Config cfg = Config::from_yaml("state: {changelog: {enabled: true}}\n");
  try {
    (void)changelog_options(cfg, "shelfwatch");
    FAIL() << "accepted without kafka.brokers";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("state.changelog.enabled"), std::string::npos) << e.what();
  }
  Config ok = Config::from_yaml(
      "kafka: {brokers: '127.0.0.1:1'}\nstate: {changelog: {enabled: true, partitions: 8}}\n");
  ChangelogOptions o = changelog_options(ok, "grp");
  EXPECT_EQ(o.application, "grp");
  EXPECT_EQ(o.partitions, 8);
  EXPECT_EQ(changelog_topic("grp", "sink/file"), "grp-sink.file-changelog");
}

}  // namespace
}  // namespace sw
