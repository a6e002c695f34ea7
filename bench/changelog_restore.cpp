// `restore` benchmark (issue 17, `make bench`): seconds and MB/s to restore 1 M keys of state
// from the changelog (connectors/kafka_changelog.h) into an empty RocksDB state directory.
// State: CHANGELOG_BENCH_KEYS keys (default 1 000 000) in one namespace, 12-byte keys and
// CHANGELOG_BENCH_VALUE_BYTES-byte values (default 100), published through the changelog in
// commits of 100 k keys; changelog topics of CHANGELOG_BENCH_PARTITIONS partitions (default 64:
// the development broker keeps ~5 MB per partition). Broker: librdkafka's mock cluster in
// this process over loopback TCP. Prints one JSON object.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "connectors/kafka_changelog.h"
#include "connectors/kafka_mock_broker.h"
#include "state/rocksdb_store.h"

namespace {

size_t env_size(const char* name, size_t def) {
  const char* e = std::getenv(name);
  return e ? std::strtoull(e, nullptr, 10) : def;
}

}  // namespace

int main() {
  const size_t keys = env_size("CHANGELOG_BENCH_KEYS", 1'000'000);
  const size_t value_bytes = env_size("CHANGELOG_BENCH_VALUE_BYTES", 100);
  const int partitions = static_cast<int>(env_size("CHANGELOG_BENCH_PARTITIONS", 64));
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("shelfwatch-changelog-bench-" + std::to_string(getpid())))
                              .string();
  auto fail = [&](const std::string& what) {
    std::printf("{\"bench\":\"restore\",\"error\":\"%s\"}\n", what.c_str());
    std::filesystem::remove_all(dir);
    return 1;
  };
  auto broker = sw::KafkaMockBroker::start({0, 1, partitions, {}});
  // The development broker has no CreateTopics: the changelog topic is created here with
  // its partitions (auto-creation would give it the mock's default of 4).
  if (!broker->create_topic(sw::changelog_topic("bench", "op/bench"), partitions).is_ok()) {
    return fail("cannot create the changelog topic");
  }
  sw::ChangelogOptions o;
  o.enabled = true;
  o.application = "bench";
  o.partitions = partitions;
  o.timeout_ms = 120000;
  o.properties = {{"bootstrap.servers", broker->bootstrap(), "kafka.brokers"}};
  auto open_local = [&](const std::string& path) -> std::unique_ptr<sw::StateStore> {
    sw::RocksDbOptions ro;
    ro.path = path;
    auto r = sw::RocksDbStateStore::open(ro);
    if (!r.is_ok()) return nullptr;
    return std::move(r.value());
  };
  double publish_s = 0;
  {
    auto local = open_local(dir + "/a");
    if (!local) return fail("cannot open RocksDB");
    auto c = sw::ChangelogStore::open(o, std::move(local));
    if (!c.is_ok()) return fail(c.status().message());
    std::string value(value_bytes, 'v');
    char key[32];
    sw::StateBatch b;
    auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < keys; ++i) {
      std::snprintf(key, sizeof key, "key%09zu", i);
      std::snprintf(value.data(), value.size(), "%zu", i * 2654435761u);
      b.put("op/bench", key, value);
      if (b.size() == 100000 || i + 1 == keys) {
        sw::Status s = c.value()->commit(b);
        if (!s.is_ok()) return fail(s.message());
        b.clear();
      }
    }
    publish_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  // The state directory is lost: a fresh one restores from the changelog.
  auto local = open_local(dir + "/b");
  if (!local) return fail("cannot open RocksDB");
  auto start = std::chrono::steady_clock::now();
  auto c = sw::ChangelogStore::open(o, std::move(local));
  const double open_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!c.is_ok()) return fail(c.status().message());
  if (c.value()->start() != sw::ChangelogStore::Start::kRestored) return fail("did not restore");
  double records = 0, bytes = 0, seconds = 0;
  c.value()->probe()->for_each([&](const sw::Probe::Metric& m) {
    if (m.name == "changelog_restore_records") records = m.gauge.value();
    if (m.name == "changelog_restore_bytes") bytes = m.gauge.value();
    if (m.name == "changelog_restore_seconds") seconds = m.gauge.value();
  });
  // Every key is there with its last value.
  size_t found = 0;
  sw::Status s = c.value()->scan_prefix("op/bench", "", [&](std::string_view, std::string_view v) {
    found += v.size() == value_bytes;
    return true;
  });
  if (!s.is_ok() || found != keys) return fail("restored " + std::to_string(found) + " keys");
  std::printf(
      "{\"bench\":\"restore\",\"keys\":%zu,\"records\":%.0f,\"bytes\":%.0f,\"seconds\":%.3f,"
      "\"mb_per_s\":%.1f,\"keys_per_s\":%.0f,\"open_seconds\":%.3f,\"publish_seconds\":%.3f,"
      "\"value_bytes\":%zu,\"partitions\":%d,\"broker\":\"mock cluster, loopback TCP\","
      "\"local\":\"RocksDB, synced commits of 100 k records\"}\n",
      keys, records, bytes, seconds, bytes / 1e6 / seconds, records / seconds, open_s, publish_s,
      value_bytes, partitions);
  c.value().reset();
  std::filesystem::remove_all(dir);
  return 0;
}
