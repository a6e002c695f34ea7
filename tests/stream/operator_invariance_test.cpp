// One invariance suite for every operator (tests/support/operator_matrix.h): on a generated
// stream, the outputs of an operator are byte-identical across batch sizes 1, 7, 64 and 1024,
// with and without the read-ahead thread, and across crashes at random points (checkpoint to
// RocksDB in a temp dir, destroy the task, the operators and the store, reopen, restore,
// continue) — and they are not empty, in every output stream the operator is expected to
// write. A new operator is covered by adding its name to invariance_operators().

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "operators/registry.h"
#include "sim/generator.h"
#include "state/rocksdb_store.h"
#include "stream/task.h"
#include "tests/support/line_pipeline.h"
#include "tests/support/operator_matrix.h"

namespace sw {
namespace {

namespace fs = std::filesystem;
using testing::LineSource;

//! Keeps committed outputs as "<stream> <json>" and, like the file sink, drops on recover()
//! whatever the last checkpoint did not record.
class StreamSink final : public Sink {
 public:
  std::string name() const override { return "streams"; }
  Status prepare(std::span<const OutputRecord> records, StateBatch& batch) override {
    for (const auto& r : records) {
      lines.push_back(std::string(output_stream_name(r.stream)) + " " + r.json);
    }
    batch.put("sink/streams", "n", std::to_string(lines.size()));
    return Status::ok();
  }
  Status committed() override { return Status::ok(); }
  Status recover(const StateStore& store) override {
    auto r = store.get("sink/streams", "n");
    lines.resize(r.value().has_value() ? std::stoul(*r.value()) : 0);
    return Status::ok();
  }
  Status close() override { return Status::ok(); }
  std::vector<std::string> lines;
};

//! 3 stores x 10 SKUs x 21 days, with duplicates, disorder and 0.5% malformed lines.
const std::vector<std::string>& generated_stream() {
  static const std::vector<std::string> lines = [] {
    GeneratorOptions g;
    g.stores = 3;
    g.skus = 10;
    g.days = 21;
    g.seed = 13;
    g.bad_rate = 0.005;
    g.anomaly_rate = 0.02;
    std::string text;
    GeneratorStats stats;
    Status s = generate_stream(
        g,
        [&](std::string_view chunk) {
          text.append(chunk);
          return Status::ok();
        },
        nullptr, stats);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
      out.push_back(text.substr(start, nl - start));
    }
    return out;
  }();
  return lines;
}

//! A fresh directory under the test temp dir, removed at destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static std::atomic<int> n{0};
    path_ = fs::path(::testing::TempDir()) /
            ("sw_invariance_" + std::to_string(::getpid()) + "_" + tag + "_" + std::to_string(n++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

std::unique_ptr<RocksDbStateStore> open_store(const std::string& dir) {
  auto store = RocksDbStateStore::open({dir, 32u << 20, false, false});
  EXPECT_TRUE(store.is_ok()) << store.status().to_string();
  return store.is_ok() ? std::move(store.value()) : nullptr;
}

TaskOptions task_options(size_t batch, bool read_ahead) {
  TaskOptions o;
  o.batch_size = batch;
  o.read_ahead = read_ahead;
  o.checkpoint_interval_ms = 1;  // Task::run checkpoints after nearly every batch
  return o;
}

//! One uninterrupted run through Task::run (read-ahead as asked).
std::vector<std::string> run_through(const std::string& op, size_t batch, bool read_ahead) {
  TempDir dir(op);
  auto store = open_store(dir.path());
  if (store == nullptr) return {};
  StreamSink sink;
  Calendar calendar;
  Config config = testing::operator_config(op);
  OperatorSet ops = make_operators(config);
  LineSource src(generated_stream());
  src.set_read_ahead(true);  // the source allows it; the option decides
  Task task(task_options(batch, read_ahead), src, {&sink}, *store, ops.pointers(), calendar);
  task.mutable_views() = ops.views;
  EXPECT_TRUE(task.restore().is_ok());
  std::atomic<bool> stop{false};
  Status s = task.run(stop);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_TRUE(task.counters().balanced());
  return sink.lines;
}

//! Runs batch by batch and "crashes" after each position in `crash_at` (the task, its
//! operators and the store are destroyed; what the last checkpoint did not record is lost),
//! then reopens the store, restores and continues.
std::vector<std::string> run_with_crashes(const std::string& op, size_t batch,
                                          std::vector<size_t> crash_at, int checkpoint_every) {
  TempDir dir(op + "_crash");
  StreamSink sink;  // outlives the crashes, like an output file
  Calendar calendar;
  const std::vector<std::string>& lines = generated_stream();
  crash_at.push_back(lines.size());
  for (size_t stop_at : crash_at) {
    auto store = open_store(dir.path());
    if (store == nullptr) return {};
    Config config = testing::operator_config(op);
    OperatorSet ops = make_operators(config);
    LineSource src(lines);
    Task task(task_options(batch, false), src, {&sink}, *store, ops.pointers(), calendar);
    task.mutable_views() = ops.views;
    Status s = task.restore();
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    src.stop_after(stop_at);
    std::vector<RawRecord> records;
    for (int n = 1;; ++n) {
      records.clear();
      EXPECT_TRUE(src.poll(records, batch, 0).is_ok());
      if (records.empty()) break;
      task.process(records);
      if (n % checkpoint_every == 0) {
        EXPECT_TRUE(task.checkpoint().is_ok());
      }
    }
    if (src.at_end()) {
      task.end_of_input();
      EXPECT_TRUE(task.checkpoint().is_ok());
      EXPECT_TRUE(task.wait_checkpoint().is_ok());
      EXPECT_TRUE(task.counters().balanced());
      EXPECT_EQ(task.counters().read.load(), lines.size());
    }
    // Otherwise: crash. The in-flight commit finishes (the process would have synced it or
    // not; either is a valid last checkpoint), everything after it is lost.
  }
  return sink.lines;
}

//! The output streams an operator must write on the generated stream: the first stream of
//! its table entry (its primary output) and the runtime's dlq, which every run writes.
std::vector<std::string> expected_streams(const std::string& op) {
  const OperatorEntry* entry = find_operator(op);
  if (entry == nullptr || entry->streams.empty()) return {"dlq"};
  return {std::string(output_stream_name(entry->streams.front())), "dlq"};
}

void expect_non_empty(const std::string& op, const std::vector<std::string>& lines) {
  ASSERT_FALSE(lines.empty()) << op;
  std::map<std::string, size_t> per_stream;
  for (const std::string& l : lines) ++per_stream[l.substr(0, l.find(' '))];
  for (const std::string& s : expected_streams(op)) {
    EXPECT_GT(per_stream[s], 0u) << op << " wrote nothing to " << s;
  }
}

//! The reference: batch 64, no read-ahead, no crash. Computed once per operator.
const std::vector<std::string>& reference(const std::string& op) {
  static std::map<std::string, std::vector<std::string>> cache;
  auto it = cache.find(op);
  if (it == cache.end()) it = cache.emplace(op, run_through(op, 64, false)).first;
  return it->second;
}

class OperatorInvarianceTest
    : public ::testing::TestWithParam<std::tuple<std::string, size_t, bool>> {};

TEST_P(OperatorInvarianceTest, OutputsIdenticalAndNonEmpty) {
  const auto& [op, batch, read_ahead] = GetParam();
  const std::vector<std::string>& base = reference(op);
  expect_non_empty(op, base);
  std::vector<std::string> out = run_through(op, batch, read_ahead);
  expect_non_empty(op, out);
  ASSERT_EQ(out.size(), base.size());
  for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], base[i]) << "output " << i;
}

INSTANTIATE_TEST_SUITE_P(EveryOperator, OperatorInvarianceTest,
                         ::testing::Combine(::testing::ValuesIn(testing::invariance_operators()),
                                            ::testing::Values(size_t{1}, size_t{7}, size_t{64},
                                                              size_t{1024}),
                                            ::testing::Bool()),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_batch" +
                                  std::to_string(std::get<1>(info.param)) +
                                  (std::get<2>(info.param) ? "_readahead" : "_inline");
                         });

class OperatorCrashRestoreTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OperatorCrashRestoreTest, OutputsIdenticalAcrossCrashesAtRandomPoints) {
  const std::string& op = GetParam();
  const std::vector<std::string>& base = reference(op);
  expect_non_empty(op, base);
  const size_t n = generated_stream().size();
  std::mt19937 rng(17 + static_cast<unsigned>(op.size()));
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<size_t> crashes;
    for (int i = 0; i < 4; ++i) crashes.push_back(rng() % n);
    std::sort(crashes.begin(), crashes.end());
    const size_t batch = std::vector<size_t>{1, 7, 64, 1024}[rng() % 4];
    const int every = 1 + static_cast<int>(rng() % 4);
    std::vector<std::string> out = run_with_crashes(op, batch, crashes, every);
    expect_non_empty(op, out);
    ASSERT_EQ(out.size(), base.size()) << "trial " << trial << " batch " << batch;
    for (size_t i = 0; i < out.size(); ++i) {
      ASSERT_EQ(out[i], base[i]) << "trial " << trial << " batch " << batch << " output " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryOperator, OperatorCrashRestoreTest,
                         ::testing::ValuesIn(testing::invariance_operators()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sw
