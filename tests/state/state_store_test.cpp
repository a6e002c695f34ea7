// One contract suite run against both StateStore implementations (STYLE.md §5).

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "state/memory_store.h"
#include "state/rocksdb_store.h"

namespace sw {
namespace {

//! "k<i>", appended rather than "k" + std::to_string(i): GCC 12 at -O3 reports a -Wrestrict
//! false positive inside that operator+ (GCC bug 105329), which fails a Release build.
std::string key_of(int i) {
  std::string key = "k";
  key += std::to_string(i);
  return key;
}

class StateStoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      dir_ = std::filesystem::temp_directory_path() / ("sw_state_" + std::to_string(::getpid()));
      std::filesystem::remove_all(dir_);
      reopen();
    } else {
      store_ = std::make_unique<MemoryStateStore>();
    }
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void reopen() {
    store_.reset();
    auto r = RocksDbStateStore::open({dir_.string(), 64u << 20, true, false});
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    store_ = std::move(r.value());
  }
  std::vector<std::pair<std::string, std::string>> scan(const std::string& ns,
                                                        const std::string& p) {
    std::vector<std::pair<std::string, std::string>> out;
    EXPECT_TRUE(store_
                    ->scan_prefix(ns, p,
                                  [&](std::string_view k, std::string_view v) {
                                    out.emplace_back(k, v);
                                    return true;
                                  })
                    .is_ok());
    return out;
  }
  std::filesystem::path dir_;
  std::unique_ptr<StateStore> store_;
};

TEST_P(StateStoreTest, PutGetRemoveAndNamespacesAreIsolated) {
  StateBatch b;
  b.put("a", "k1", "v1");
  b.put("a", "k2", std::string("v\0x", 3));
  b.put("ab", "k1", "other");
  b.put("a", "k3", "gone");
  b.remove("a", "k3");
  ASSERT_TRUE(store_->commit(b).is_ok());
  auto g = store_->get("a", "k2");
  ASSERT_TRUE(g.is_ok());
  ASSERT_TRUE(g.value().has_value());
  EXPECT_EQ(*g.value(), std::string("v\0x", 3));
  EXPECT_FALSE(store_->get("a", "k3").value().has_value());
  auto rows = scan("a", "");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].first, "k1");
  EXPECT_EQ(rows[1].first, "k2");
  EXPECT_EQ(scan("ab", "").size(), 1u);
  EXPECT_EQ(scan("a", "k2").size(), 1u);
}

TEST_P(StateStoreTest, RemovePrefixThenPutInOneBatch) {
  StateBatch b;
  for (int i = 0; i < 5; ++i) b.put("ns", key_of(i), "x");
  ASSERT_TRUE(store_->commit(b).is_ok());
  StateBatch c;
  c.remove_prefix("ns");
  c.put("ns", "k9", "y");
  ASSERT_TRUE(store_->commit(c).is_ok());
  auto rows = scan("ns", "");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].first, "k9");
}

TEST_P(StateStoreTest, ScanAllVisitsEveryNamespaceInOrder) {
  StateBatch b;
  b.put("b", "k1", "v1");
  b.put("a", "k2", std::string("x\0y", 3));
  b.put("ab", "k0", "w");
  b.put("a", "k1", "v0");
  b.remove("a", "k2");
  ASSERT_TRUE(store_->commit(b).is_ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(store_
                  ->scan_all([&](std::string_view ns, std::string_view k, std::string_view v) {
                    seen.push_back(std::string(ns) + "|" + std::string(k) + "=" + std::string(v));
                    return true;
                  })
                  .is_ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a|k1=v0", "ab|k0=w", "b|k1=v1"}));
  size_t visited = 0;
  ASSERT_TRUE(store_
                  ->scan_all([&](std::string_view, std::string_view, std::string_view) {
                    return ++visited < 2;  // stops
                  })
                  .is_ok());
  EXPECT_EQ(visited, 2u);
}

TEST_P(StateStoreTest, CommittedDataSurvivesReopen) {
  if (!GetParam()) GTEST_SKIP() << "the memory store is not durable by contract";
  StateBatch b;
  b.put("x", "k", "durable");
  ASSERT_TRUE(store_->commit(b).is_ok());
  reopen();
  EXPECT_EQ(*store_->get("x", "k").value(), "durable");
}

// A checkpoint-sized batch spans many arena chunks and holds values larger than a chunk's
// share; a cleared batch reuses its chunks. Every op must read back exactly, and commit.
TEST_P(StateStoreTest, LargeBatchesAcrossChunksReadBackAndCommit) {
  StateBatch b;
  auto value_of = [](int round, int i) {
    return std::string(static_cast<size_t>(i % 3000), static_cast<char>('a' + (i + round) % 26)) +
           std::to_string(i);
  };
  for (int round = 0; round < 2; ++round) {
    b.clear();
    EXPECT_TRUE(b.empty());
    size_t bytes = 0;
    for (int i = 0; i < 6000; ++i) {
      const std::string k = key_of(i), v = value_of(round, i);
      b.put("big", k, v);
      bytes += 3 + k.size() + v.size();
    }
    const std::string huge(3u << 20, static_cast<char>('A' + round));  // > one chunk
    b.put("big", "huge", huge);
    b.remove("big", "k0");
    bytes += 3 + 4 + huge.size() + 3 + 2;
    ASSERT_EQ(b.size(), 6002u);
    EXPECT_EQ(b.bytes(), bytes);
    for (int i = 0; i < 6000; ++i) {
      StateBatch::OpView op = b.op(static_cast<size_t>(i));
      ASSERT_EQ(op.kind, StateBatch::OpKind::kPut);
      ASSERT_EQ(op.ns, "big");
      ASSERT_EQ(op.key, key_of(i));
      ASSERT_EQ(op.value, value_of(round, i)) << "round " << round << " op " << i;
    }
    EXPECT_EQ(b.op(6000).value, huge);
    EXPECT_EQ(b.op(6001).kind, StateBatch::OpKind::kRemove);
    ASSERT_TRUE(store_->commit(b).is_ok());
    EXPECT_EQ(*store_->get("big", "k5999").value(), value_of(round, 5999));
    EXPECT_EQ(store_->get("big", "huge").value()->size(), huge.size());
    EXPECT_FALSE(store_->get("big", "k0").value().has_value());
  }
}

// Issue 21, point 2: a damaged state directory is refused and left untouched; a WAL whose
// tail is corrupt is rolled back to the last intact commit and says so.
class RocksDbIntegrityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sw_integrity_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  Result<std::unique_ptr<RocksDbStateStore>> open() {
    return RocksDbStateStore::open({dir_.string(), 64u << 20, true, false});
  }
  void commit(RocksDbStateStore& s, const std::string& key, const std::string& value) {
    StateBatch b;
    b.put("ns", key, value);
    ASSERT_TRUE(s.commit(b).is_ok());
  }
  std::map<std::string, uintmax_t> listing() const {
    std::map<std::string, uintmax_t> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      out[e.path().filename().string()] = e.is_regular_file() ? e.file_size() : 0;
    }
    return out;
  }
  std::filesystem::path dir_;
};

TEST_F(RocksDbIntegrityTest, CreatesOnlyInAnAbsentOrEmptyDirectory) {
  auto r = open();
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r.value()->created());
  commit(*r.value(), "k", "v");
  r.value().reset();
  auto again = open();
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_FALSE(again.value()->created());
  EXPECT_FALSE(again.value()->wal_rolled_back());
  EXPECT_EQ(*again.value()->get("ns", "k").value(), "v");
}

TEST_F(RocksDbIntegrityTest, MissingCurrentIsRefusedEveryTimeAndNothingIsWritten) {
  {
    auto r = open();
    ASSERT_TRUE(r.is_ok());
    commit(*r.value(), "k", "v");
  }
  std::filesystem::remove(dir_ / "CURRENT");
  auto before = listing();
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto r = open();
    ASSERT_FALSE(r.is_ok()) << "attempt " << attempt << " opened a database without CURRENT";
    EXPECT_NE(r.status().message().find("CURRENT"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(dir_.string()), std::string::npos);
    EXPECT_EQ(listing(), before) << "attempt " << attempt << " changed the directory";
  }
}

TEST_F(RocksDbIntegrityTest, ForeignNonEmptyDirectoryIsRefused) {
  std::filesystem::create_directories(dir_);
  { std::ofstream(dir_ / "notes.txt") << "not a database\n"; }
  auto r = open();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(listing().size(), 1u);
}

TEST_F(RocksDbIntegrityTest, CorruptWalTailRollsBackToLastIntactCommitAndReportsIt) {
  {
    auto r = open();
    ASSERT_TRUE(r.is_ok());
    commit(*r.value(), "first", "intact");
    commit(*r.value(), "second", std::string(4096, 'x'));
  }
  // Flip a byte inside the last record of the newest WAL file.
  std::filesystem::path wal;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    if (e.path().extension() == ".log" && e.file_size() > 0) wal = e.path();
  }
  ASSERT_FALSE(wal.empty()) << "no WAL data: the test needs the commits in the WAL";
  {
    std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(wal)) - 100);
    f.put('\x5a');
  }
  auto r = open();
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r.value()->wal_rolled_back());
  EXPECT_FALSE(r.value()->wal_problem().empty());
  EXPECT_EQ(*r.value()->get("ns", "first").value(), "intact");
  EXPECT_FALSE(r.value()->get("ns", "second").value().has_value());
}

INSTANTIATE_TEST_SUITE_P(Stores, StateStoreTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "RocksDb" : "Memory"; });

}  // namespace
}  // namespace sw
