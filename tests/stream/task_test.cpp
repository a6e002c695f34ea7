// Task loop tests: accounting, dedup, lateness, DLQ, timers, and the invariance that makes
// exactly-once testable: identical outputs across batch sizes and checkpoint/restore points.

#include "stream/task.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <random>
#include <set>
#include <span>
#include <thread>

#include "state/memory_store.h"
#include "stream/bytes.h"
#include "stream/config.h"
#include "stream/json_writer.h"
#include "stream/key_index.h"
#include "stream/read_ahead.h"
#include "tests/support/line_pipeline.h"

namespace sw {
namespace {

using testing::CollectSink;
using VectorSource = testing::LineSource;

// Sums sale qty per key and local day; emits the total when the day's timer fires.
class DailyTotals final : public Operator {
 public:
  std::string_view name() const override { return "daily_totals"; }
  uint32_t subscriptions() const override { return 1u << static_cast<int>(EventType::kSale); }
  void on_event(const Event& e, KeyId key, OperatorContext& ctx) override {
    if (key >= days_.size()) days_.resize(key + 1);
    const LocalDay& d =
        ctx.calendar().day(ctx.keys().store_id(key), ctx.keys().store(key), e.ts_ms);
    days_[key][d.end_ms] += e.qty;
    dirty_.push_back(key);
    ctx.set_timer(key, d.end_ms, 0);
  }
  void on_timer(KeyId key, int64_t t, uint32_t, OperatorContext& ctx) override {
    auto it = days_[key].find(t);
    if (it == days_[key].end()) return;
    OutputRecord o;
    o.stream = OutputStream::kForecasts;
    JsonWriter w(o.json);
    w.begin_object()
        .field("key", ctx.keys().key_string(key))
        .key("day_end")
        .time_value(t)
        .field("qty", it->second)
        .field("wm_ok", ctx.watermark() >= t)
        .end_object();
    ctx.emit(std::move(o));
    days_[key].erase(it);
    dirty_.push_back(key);
  }
  void snapshot(StateBatch& b, const KeyIndex& /*keys*/) override {
    for (KeyId k : dirty_) {
      std::string v;
      ByteWriter w(v);
      for (auto& [t, q] : days_[k]) {
        w.put(t);
        w.put(q);
      }
      b.put("op/daily", be32_key(k), v);
    }
    dirty_.clear();
  }
  Status restore(const StateStore& s, OperatorContext& ctx) override {
    return s.scan_prefix("op/daily", "", [&](std::string_view k, std::string_view v) {
      KeyId key = from_be32(k);
      if (key >= days_.size()) days_.resize(key + 1);
      ByteReader r(v);
      int64_t t;
      double q;
      while (r.get(t) && r.get(q)) {
        days_[key][t] = q;
        ctx.set_timer(key, t, 0);
      }
      return true;
    });
  }
  size_t memory_bytes() const override { return days_.size() * 48; }

 private:
  std::vector<std::map<int64_t, double>> days_;
  std::vector<KeyId> dirty_;
};

std::vector<std::string> make_stream(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> lines;
  int64_t t = 1795600000000;
  for (int i = 0; i < n; ++i) {
    t += rng() % 600000;
    int64_t ts = t - static_cast<int64_t>(rng() % 120000);  // mild disorder
    int kind = static_cast<int>(rng() % 50);
    if (kind == 0) {
      lines.push_back("{broken");
    } else if (kind == 1 && i > 10) {
      lines.push_back(lines[rng() % lines.size()]);  // maybe a duplicate re-send
    } else if (kind == 2) {
      // Far behind the watermark: late.
      lines.push_back(R"({"type":"sale","ts":)" + std::to_string(ts - 86400000) +
                      R"(,"store":"S1","sku":"K1","qty":1,"unit_price":1})");
    } else {
      lines.push_back(R"({"type":"sale","event_id":"e)" + std::to_string(i) + R"(","ts":)" +
                      std::to_string(ts) + R"(,"store":"S)" + std::to_string(rng() % 3) +
                      R"(","sku":"K)" + std::to_string(rng() % 5) + R"(","qty":)" +
                      std::to_string(1 + rng() % 4) + R"(,"unit_price":2})");
    }
  }
  return lines;
}

struct RunResult {
  std::vector<std::string> outputs;
  uint64_t read, applied, dup, dlq, late;
};

// Runs the stream with the given batch size, crashing (dropping all in-memory state) after
// each position in `crash_at`, restarting from the last checkpoint every time.
RunResult run(const std::vector<std::string>& lines, size_t batch, std::vector<size_t> crash_at,
              int checkpoint_every_batches) {
  MemoryStateStore store;
  CollectSink sink;
  Calendar calendar;
  TaskOptions o;
  o.batch_size = batch;
  o.out_of_orderness_ms = 300000;
  crash_at.push_back(lines.size());
  RunResult res{};
  for (size_t stop : crash_at) {
    VectorSource src(lines);
    DailyTotals op;
    Task task(o, src, {&sink}, store, {&op}, calendar);
    EXPECT_TRUE(task.restore().is_ok());
    src.stop_after(stop);
    std::vector<RawRecord> recs;
    int n = 0;
    while (true) {
      recs.clear();
      EXPECT_TRUE(src.poll(recs, batch, 0).is_ok());
      if (recs.empty()) break;
      task.process(recs);
      if (++n % checkpoint_every_batches == 0) {
        EXPECT_TRUE(task.checkpoint().is_ok());
      }
    }
    if (src.at_end()) {
      task.end_of_input();
      EXPECT_TRUE(task.checkpoint().is_ok());
      EXPECT_TRUE(task.wait_checkpoint().is_ok());
      const TaskCounters& c = task.counters();
      res = {sink.lines,
             c.read.load(),
             TaskCounters::sum(c.applied),
             TaskCounters::sum(c.duplicates),
             TaskCounters::sum(c.dead_lettered),
             TaskCounters::sum(c.late)};
      EXPECT_TRUE(c.balanced());
    }
    // Otherwise: "crash" — everything since the last checkpoint is lost.
  }
  return res;
}

TEST(TaskTest, AccountingBalancesAndEveryTermIsExercised) {
  auto lines = make_stream(3000, 1);
  RunResult r = run(lines, 64, {}, 4);
  EXPECT_EQ(r.read, lines.size());
  EXPECT_EQ(r.read, r.applied + r.dup + r.dlq + r.late);
  EXPECT_GT(r.dup, 0u);
  EXPECT_GT(r.dlq, 0u);
  EXPECT_GT(r.late, 0u);
  EXPECT_FALSE(r.outputs.empty());
}

// Counts of the outputs of each kind the stream must produce: daily totals (the operator's
// timers), dead letters and late records. An empty run would make the invariance vacuous.
void expect_every_output_kind(const std::vector<std::string>& outputs) {
  size_t totals = 0, dlq = 0, late = 0;
  for (const std::string& l : outputs) {
    totals += l.find("\"day_end\"") != std::string::npos;
    dlq += l.find("\"error\"") != std::string::npos;
    late += l.find("\"reason\":\"late\"") != std::string::npos;
  }
  EXPECT_GT(totals, 0u);
  EXPECT_GT(dlq, 0u);
  EXPECT_GT(late, 0u);
}

TEST(TaskTest, OutputsInvariantAcrossBatchSizes) {
  auto lines = make_stream(3000, 2);
  RunResult base = run(lines, 1, {}, 1000);
  ASSERT_FALSE(base.outputs.empty());
  expect_every_output_kind(base.outputs);
  for (size_t batch : {3u, 64u, 5000u}) {
    RunResult r = run(lines, batch, {}, 2);
    ASSERT_FALSE(r.outputs.empty()) << "batch " << batch;
    EXPECT_EQ(r.outputs, base.outputs) << "batch " << batch;
  }
}

TEST(TaskTest, OutputsInvariantAcrossCrashesAndRestores) {
  auto lines = make_stream(3000, 3);
  RunResult base = run(lines, 50, {}, 1);
  std::mt19937 rng(9);
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<size_t> crashes;
    for (int i = 0; i < 6; ++i) crashes.push_back(rng() % lines.size());
    std::sort(crashes.begin(), crashes.end());
    RunResult r = run(lines, 1 + rng() % 100, crashes, 1 + static_cast<int>(rng() % 5));
    EXPECT_EQ(r.outputs, base.outputs) << "trial " << trial;
    EXPECT_EQ(r.read, base.read);
    EXPECT_EQ(r.dup, base.dup);
    EXPECT_EQ(r.late, base.late);
  }
}

// Task::run through the read-ahead thread (poll + decode on a reader thread) and inline must
// give the same outputs, DLQ details and accounting: batches keep their own copies of
// payloads and decoded strings, including unescaped ones and integer event ids.
TEST(TaskTest, ReadAheadRunMatchesInlineRun) {
  std::vector<std::string> lines = make_stream(4000, 4);
  for (int i = 0; i < 40; ++i) {
    const std::string ts = std::to_string(1799000000000 + 3600000LL * i);
    lines.push_back(R"({"type":"sale","event_id":)" + std::to_string(900000 + i) + R"(,"ts":)" +
                    ts + R"(,"store":"S\u0031","sku":"K\"q","qty":1,"unit_price":2})");
    lines.push_back(R"({"type":"sale","ts":)" + ts + R"(,"store":"S1","sku":"K1","qty":-1})");
  }
  auto run_task = [&](bool read_ahead, size_t batch) {
    MemoryStateStore store;
    CollectSink sink;
    Calendar calendar;
    TaskOptions o;
    o.batch_size = batch;
    o.read_ahead = read_ahead;
    o.out_of_orderness_ms = 300000;
    VectorSource src(lines);
    src.set_read_ahead(true);  // the source allows it; the option decides
    DailyTotals op;
    Task task(o, src, {&sink}, store, {&op}, calendar);
    EXPECT_TRUE(task.restore().is_ok());
    std::atomic<bool> stop{false};
    EXPECT_TRUE(task.run(stop).is_ok());
    const TaskCounters& c = task.counters();
    EXPECT_TRUE(c.balanced());
    return RunResult{sink.lines,
                     c.read.load(),
                     TaskCounters::sum(c.applied),
                     TaskCounters::sum(c.duplicates),
                     TaskCounters::sum(c.dead_lettered),
                     TaskCounters::sum(c.late)};
  };
  RunResult inline_run = run_task(false, 64);
  ASSERT_EQ(inline_run.read, lines.size());
  EXPECT_GT(inline_run.dlq, 40u);
  bool escaped_key = false, detail = false;
  for (const std::string& l : inline_run.outputs) {
    escaped_key |= l.find(R"(S1|K\"q)") != std::string::npos;
    detail |= l.find("qty") != std::string::npos && l.find("out_of_range") != std::string::npos;
  }
  EXPECT_TRUE(escaped_key);
  EXPECT_TRUE(detail);
  for (size_t batch : {1u, 7u, 64u, 1024u}) {
    RunResult r = run_task(true, batch);
    EXPECT_EQ(r.outputs, inline_run.outputs) << "batch " << batch;
    EXPECT_EQ(r.read, inline_run.read);
    EXPECT_EQ(r.applied, inline_run.applied);
    EXPECT_EQ(r.dup, inline_run.dup);
    EXPECT_EQ(r.dlq, inline_run.dlq);
    EXPECT_EQ(r.late, inline_run.late);
  }
}

// The read-ahead stage shares decoding between its reader thread and the consumer: whichever
// thread decodes a batch, batches arrive in poll order with every record decoded as the
// decoder decodes it alone, and every batch is decoded exactly once. A fast consumer (batch
// size 1) finds undecoded batches and decodes them itself; a slow one leaves them to the
// reader.
TEST(ReadAheadTest, BatchesArriveInOrderWhicheverThreadDecodesThem) {
  std::vector<std::string> lines = make_stream(3000, 5);
  for (int i = 0; i < 30; ++i) {
    lines.insert(lines.begin() + 50 * i, i % 2 ? std::string("{\"type\":\"sale\"") : "not json");
  }
  struct Expected {
    DecodeError error;
    EventType type;
    int64_t ts_ms;
    std::string event_id, store, sku;
    double qty;
  };
  std::vector<Expected> expected;
  Decoder alone(1 << 20);
  for (const std::string& l : lines) {
    std::string padded = l + std::string(simdjson::SIMDJSON_PADDING, ' ');
    Event e;
    DecodeError err =
        alone.decode(std::string_view(padded.data(), l.size()), simdjson::SIMDJSON_PADDING, e);
    expected.push_back({err, e.type, e.ts_ms, std::string(e.event_id), std::string(e.store),
                        std::string(e.sku), e.qty});
  }
  for (auto [batch, pause_us] : {std::pair<size_t, int>{1, 0}, {7, 0}, {64, 200}}) {
    VectorSource src(lines);
    ReadAhead reader(src, batch, 1 << 20);
    reader.start();
    size_t at = 0, batches = 0;
    for (;;) {
      ReadAhead::Batch* b = reader.next(5000);
      ASSERT_NE(b, nullptr) << "batch size " << batch;
      ASSERT_TRUE(b->status.is_ok());
      ++batches;
      for (size_t i = 0; i < b->records.size(); ++i, ++at) {
        ASSERT_LT(at, lines.size());
        const DecodedRecord& d = b->decoded[i];
        const Expected& x = expected[at];
        ASSERT_EQ(b->records[i].payload, lines[at]);
        ASSERT_EQ(d.record, &b->records[i]);
        ASSERT_EQ(d.error, x.error) << "line " << at;
        if (d.error != DecodeError::kNone) {
          ASSERT_NE(d.detail, nullptr);
          continue;
        }
        EXPECT_EQ(d.event.type, x.type);
        EXPECT_EQ(d.event.ts_ms, x.ts_ms);
        EXPECT_EQ(d.event.event_id, x.event_id);
        EXPECT_EQ(d.event.store, x.store);
        EXPECT_EQ(d.event.sku, x.sku);
        EXPECT_EQ(d.event.qty, x.qty);
        EXPECT_EQ(d.key_hash, keyed_event(d.event) ? KeyIndex::hash(x.store, x.sku) : 0);
      }
      const bool end = b->at_end;
      if (pause_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
      reader.release();
      if (end) break;
    }
    EXPECT_EQ(at, lines.size());
    reader.stop();
    EXPECT_EQ(reader.decoded_by_reader() + reader.decoded_by_consumer(), batches);
    std::printf("batch %zu: %llu batches decoded by the reader, %llu by the consumer\n", batch,
                static_cast<unsigned long long>(reader.decoded_by_reader()),
                static_cast<unsigned long long>(reader.decoded_by_consumer()));
  }
}

// The checkpoint commit runs on a background thread at `state.commit_nice`, so it yields the
// cores to the task and reader threads; the task's own thread keeps its priority.
TEST(TaskTest, CheckpointCommitRunsAtCommitNice) {
  class NiceSink final : public Sink {
   public:
    std::string name() const override { return "nice"; }
    Status prepare(std::span<const OutputRecord>, StateBatch&) override {
      errno = 0;
      seen.push_back(getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid))));
      return Status::ok();
    }
    Status committed() override { return Status::ok(); }
    Status recover(const StateStore&) override { return Status::ok(); }
    Status close() override { return Status::ok(); }
    std::vector<int> seen;
  };
  TaskOptions o = TaskOptions::from_config(Config::from_yaml("state: {commit_nice: 7}\n"));
  EXPECT_EQ(o.commit_nice, 7);
  EXPECT_THROW(TaskOptions::from_config(Config::from_yaml("state: {commit_nice: 25}\n")),
               ConfigError);
  const int own = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
  for (int nice : {0, 7}) {
    o.commit_nice = nice;
    MemoryStateStore store;
    NiceSink sink;
    Calendar calendar;
    VectorSource src(make_stream(200, 3));
    DailyTotals op;
    Task task(o, src, {&sink}, store, {&op}, calendar);
    ASSERT_TRUE(task.restore().is_ok());
    std::atomic<bool> stop{false};
    ASSERT_TRUE(task.run(stop).is_ok());
    ASSERT_FALSE(sink.seen.empty());
    for (int p : sink.seen) EXPECT_EQ(p, std::min(19, own + nice));
    EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid))), own);
  }
}

TEST(TaskTest, TimersFireOnlyAfterWatermarkAndDuplicatesAreIgnored) {
  std::vector<std::string> lines = {
      R"({"type":"sale","event_id":"a","ts":"2026-11-25T10:00:00Z","store":"S","sku":"K","qty":2,"unit_price":1})",
      R"({"type":"sale","event_id":"a","ts":"2026-11-25T10:00:00Z","store":"S","sku":"K","qty":2,"unit_price":1})",
      R"({"type":"sale","event_id":"b","ts":"2026-11-25T23:59:00Z","store":"S","sku":"K","qty":3,"unit_price":1})",
      // Watermark = 2026-11-26T00:06 - 5 min = 00:01: the 25th closes with 2 + 3 = 5.
      R"({"type":"sale","event_id":"c","ts":"2026-11-26T00:06:00Z","store":"S","sku":"K","qty":1,"unit_price":1})",
      // Late for the closed day (before watermark): dropped, counted.
      R"({"type":"sale","event_id":"d","ts":"2026-11-25T23:00:00Z","store":"S","sku":"K","qty":9,"unit_price":1})",
  };
  RunResult r = run(lines, 1, {}, 1);
  ASSERT_EQ(r.outputs.size(), 3u);
  EXPECT_EQ(r.outputs[0], R"({"key":"S|K","day_end":"2026-11-26T00:00:00Z","qty":5,"wm_ok":true})");
  EXPECT_NE(
      r.outputs[1].find(
          R"("reason":"late","type":"sale","time":"2026-11-25T23:00:00Z","watermark":"2026-11-26T00:01:00Z")"),
      std::string::npos)
      << r.outputs[1];
  EXPECT_EQ(r.outputs[2], R"({"key":"S|K","day_end":"2026-11-27T00:00:00Z","qty":1,"wm_ok":true})");
  EXPECT_EQ(r.dup, 1u);
  EXPECT_EQ(r.late, 1u);
}

TEST(TaskTest, DedupHorizonIsTheSameAfterRestore) {
  // Capacity 4 = generations of 2 ids: after e1..e6, e5 and e6 are remembered, e1 is not.
  auto sale = [](const std::string& id) {
    return R"({"type":"sale","event_id":")" + id +
           R"(","ts":1795600000000,"store":"S","sku":"K","qty":1,"unit_price":1})";
  };
  std::vector<std::string> lines;
  for (int i = 1; i <= 6; ++i) lines.push_back(sale("e" + std::to_string(i)));
  lines.push_back(sale("e1"));
  lines.push_back(sale("e5"));
  for (size_t crash_at : {size_t{0}, size_t{3}, size_t{6}}) {
    MemoryStateStore store;
    CollectSink sink;
    Calendar cal;
    TaskOptions o;
    o.dedup_capacity = 4;
    uint64_t dups = 0, applied = 0;
    for (int attempt = 0; attempt < 2; ++attempt) {
      VectorSource src(lines);
      DailyTotals op;
      Task task(o, src, {&sink}, store, {&op}, cal);
      ASSERT_TRUE(task.restore().is_ok());
      if (attempt == 0 && crash_at > 0) src.stop_after(crash_at);
      std::vector<RawRecord> recs;
      ASSERT_TRUE(src.poll(recs, 100, 0).is_ok());
      task.process(recs);
      ASSERT_TRUE(task.checkpoint().is_ok());
      ASSERT_TRUE(task.wait_checkpoint().is_ok());
      dups = TaskCounters::sum(task.counters().duplicates);
      applied = TaskCounters::sum(task.counters().applied);
      if (crash_at == 0) break;
    }
    EXPECT_EQ(applied, 7u) << "crash at " << crash_at;  // e1..e6 and the late re-send of e1
    EXPECT_EQ(dups, 1u) << "crash at " << crash_at;     // e5
  }
}

TEST(TaskTest, DeadLetterRecordCarriesPositionAndCode) {
  MemoryStateStore store;
  CollectSink sink;
  Calendar cal;
  VectorSource src({R"({"type":"sale","ts":0,"store":"S","sku":"K","qty":-1,"unit_price":1})"});
  DailyTotals op;
  Task task(TaskOptions{}, src, {&sink}, store, {&op}, cal);
  ASSERT_TRUE(task.restore().is_ok());
  std::atomic<bool> stop{false};
  ASSERT_TRUE(task.run(stop).is_ok());
  ASSERT_EQ(sink.lines.size(), 1u);
  const std::string& d = sink.lines[0];
  EXPECT_NE(d.find(R"("error":"out_of_range")"), std::string::npos) << d;
  EXPECT_NE(d.find(R"("source":"mem","partition":0,"offset":0,"line":1)"), std::string::npos) << d;
  EXPECT_NE(d.find(R"("payload":"{\"type\":\"sale\")"), std::string::npos) << d;
  EXPECT_NE(d.find(R"("ingest_time":"1970-01-01T00:00:00.042Z")"), std::string::npos) << d;
}

// Issue 21 point 1: one far-future record must not move the clock, close windows or be
// applied; the records after it are neither late nor lost.
struct GuardRun {
  std::vector<std::string> outputs;
  uint64_t applied = 0, dead = 0, late = 0;
  int64_t watermark = 0;
};
GuardRun run_guarded(std::vector<std::string> lines, TaskOptions o, bool bounded) {
  MemoryStateStore store;
  CollectSink sink;
  Calendar cal;
  VectorSource src(std::move(lines));
  src.set_bounded(bounded);
  DailyTotals op;
  Task task(o, src, {&sink}, store, {&op}, cal);
  EXPECT_TRUE(task.restore().is_ok());
  std::vector<RawRecord> recs;
  EXPECT_TRUE(src.poll(recs, 1000, 0).is_ok());
  task.process(recs);
  GuardRun g;
  g.watermark = task.watermark();
  task.end_of_input();
  EXPECT_TRUE(task.checkpoint().is_ok());
  EXPECT_TRUE(task.wait_checkpoint().is_ok());
  const TaskCounters& c = task.counters();
  EXPECT_TRUE(c.balanced());
  g.outputs = sink.lines;
  g.applied = TaskCounters::sum(c.applied);
  g.dead = c.dead_lettered[static_cast<int>(DecodeError::kFutureTimestamp)].load();
  g.late = TaskCounters::sum(c.late);
  return g;
}

std::string sale_at(const std::string& ts) {
  return R"({"type":"sale","ts":")" + ts + R"(","store":"S","sku":"K","qty":1,"unit_price":1})";
}

TEST(TaskTest, FarFutureEventIsDeadLetteredWithoutMovingTheClock) {
  GuardRun g = run_guarded({sale_at("2026-11-25T10:00:00Z"), sale_at("9999-12-31T23:59:59Z"),
                            sale_at("2026-11-25T12:00:00Z"), sale_at("2026-11-26T12:00:00Z")},
                           TaskOptions{}, true);
  EXPECT_EQ(g.applied, 3u);
  EXPECT_EQ(g.dead, 1u);
  EXPECT_EQ(g.late, 0u);
  EXPECT_LT(g.watermark, int64_t{1'800'000'000'000});  // still 2026, not year 9999
  size_t dlq = 0;
  for (const std::string& l : g.outputs) {
    if (l.find(R"("error":"future_timestamp")") == std::string::npos) continue;
    ++dlq;
    EXPECT_NE(l.find("9999-12-31T23:59:59Z"), std::string::npos) << l;
    EXPECT_NE(l.find("\"line\":2"), std::string::npos) << l;
  }
  EXPECT_EQ(dlq, 1u);
}

TEST(TaskTest, ReplayJumpBeyondMaxFutureReplayIsDeadLetteredUnlessConfigured) {
  std::vector<std::string> lines = {sale_at("2013-01-01T10:00:00Z"),
                                    sale_at("2013-03-15T10:00:00Z")};
  TaskOptions o;
  EXPECT_EQ(run_guarded(lines, o, true).dead, 1u);  // 73 days ahead, default 30 d
  o.max_future_replay_ms = 100LL * 86'400'000;
  GuardRun g = run_guarded(lines, o, true);
  EXPECT_EQ(g.dead, 0u);
  EXPECT_EQ(g.applied, 2u);
  // The first record of a replay has no reference: any time before 2100 is taken.
  EXPECT_EQ(run_guarded({sale_at("2099-12-31T00:00:00Z")}, TaskOptions{}, true).dead, 0u);
  EXPECT_EQ(run_guarded({sale_at("2100-01-01T00:00:00Z")}, TaskOptions{}, true).dead, 1u);
}

TEST(TaskTest, LiveSourceChecksEventTimeAgainstTheWallClock) {
  // VectorSource stamps ingest_ms = 42: "now" is 1970-01-01T00:00:00.042Z.
  GuardRun g = run_guarded({sale_at("1970-01-01T23:00:00Z"), sale_at("1970-01-02T01:00:00Z")},
                           TaskOptions{}, false);
  EXPECT_EQ(g.applied, 1u);
  EXPECT_EQ(g.dead, 1u);
}

TEST(TaskTest, AtLeastOnceReleasesTheSameOutputsIncludingThoseOfEndOfInput) {
  std::vector<std::string> lines = make_stream(3000, 11);
  std::vector<std::string> by_mode[2];
  for (bool exactly_once : {true, false}) {
    MemoryStateStore store;
    CollectSink sink;
    Calendar cal;
    VectorSource src(lines);
    DailyTotals op;
    TaskOptions o;
    o.exactly_once = exactly_once;
    o.batch_size = 64;
    o.out_of_orderness_ms = 300000;
    Task task(o, src, {&sink}, store, {&op}, cal);
    ASSERT_TRUE(task.restore().is_ok());
    std::atomic<bool> stop{false};
    ASSERT_TRUE(task.run(stop).is_ok());
    by_mode[exactly_once ? 0 : 1] = sink.lines;
  }
  EXPECT_GT(by_mode[0].size(), 10u);
  EXPECT_EQ(by_mode[1], by_mode[0]);
}

// Two input partitions fetched in a chosen order, as a Kafka source may hand them over: the
// source names its partitions up front, and a partition is idle once it delivered everything.
class TwoPartitionSource final : public Source {
 public:
  // `order`: the partition of each successive record.
  TwoPartitionSource(std::array<std::vector<std::string>, 2> lines, std::vector<int32_t> order)
      : lines_(std::move(lines)), order_(std::move(order)) {}
  Status poll(std::vector<RawRecord>& out, size_t max, int) override {
    while (out.size() < max && step_ < order_.size()) {
      int32_t p = order_[step_++];
      size_t i = next_[p]++;
      RawRecord r;
      r.payload = lines_[p][i];
      r.partition = p;
      r.offset = static_cast<int64_t>(i);
      r.next_offset = r.offset + 1;
      out.push_back(r);
    }
    return Status::ok();
  }
  bool at_end() const override { return step_ == order_.size(); }
  bool bounded() const override { return true; }
  Status seek(const std::vector<SourcePosition>&) override { return Status::ok(); }
  std::string name() const override { return "two"; }
  bool partition_idle(int32_t p) const override { return next_[p] == lines_[p].size(); }
  std::span<const int32_t> partitions() const override { return ids_; }

 private:
  std::array<std::vector<std::string>, 2> lines_;
  std::vector<int32_t> order_;
  size_t step_ = 0;
  std::array<size_t, 2> next_{};
  std::array<int32_t, 2> ids_{0, 1};
};

TEST(TaskTest, WatermarkWaitsForEveryPartitionTheSourceReads) {
  auto sale = [](const std::string& id, const std::string& ts, const std::string& sku) {
    return R"({"type":"sale","event_id":")" + id + R"(","ts":")" + ts + R"(","store":"S","sku":")" +
           sku + R"(","qty":1,"unit_price":1})";
  };
  std::array<std::vector<std::string>, 2> lines;
  for (int day = 24; day <= 26; ++day) {
    std::string d = "2026-11-" + std::to_string(day);
    lines[0].push_back(sale("a" + d, d + "T10:00:00Z", "A"));
    lines[1].push_back(sale("b" + d, d + "T11:00:00Z", "B"));
  }
  // Partition 0 entirely before partition 1, the reverse, and interleaved: the same outputs,
  // and nothing is late (partition 1's first events are a day older than partition 0's last).
  std::vector<std::vector<int32_t>> orders = {
      {0, 0, 0, 1, 1, 1}, {1, 1, 1, 0, 0, 0}, {0, 1, 0, 1, 0, 1}};
  std::vector<std::string> first;
  for (const auto& order : orders) {
    MemoryStateStore store;
    CollectSink sink;
    Calendar cal;
    TwoPartitionSource src(lines, order);
    DailyTotals op;
    TaskOptions o;
    o.batch_size = 1;  // the watermark moves between records of the two partitions
    Task task(o, src, {&sink}, store, {&op}, cal);
    ASSERT_TRUE(task.restore().is_ok());
    std::atomic<bool> stop{false};
    ASSERT_TRUE(task.run(stop).is_ok());
    EXPECT_EQ(TaskCounters::sum(task.counters().late), 0u);
    std::vector<std::string> out = sink.lines;
    std::sort(out.begin(), out.end());
    EXPECT_EQ(out.size(), 6u);
    if (first.empty()) first = out;
    EXPECT_EQ(out, first);
  }
}

TEST(EventOrderTest, ReleasesByTimeThenPayloadAndRoundTrips) {
  EventOrder order;
  // Decoded by a decoder that is reused (and whose strings then change) before the release:
  // the held events keep their own copies of the strings.
  Decoder decoder;
  auto push = [&](int64_t ts, std::string_view sku, int32_t partition) {
    std::string payload = R"({"type":"sale","ts":)" + std::to_string(ts) +
                          R"(,"store":"S\u0031","sku":")" + std::string(sku) +
                          R"(","qty":1,"unit_price":2})";
    const size_t size = payload.size();
    payload.append(EventOrder::kPadding, '\0');
    RawRecord r;
    r.payload = std::string_view(payload.data(), size);
    r.readable_after = EventOrder::kPadding;
    r.partition = partition;
    r.offset = ts;
    Event e;
    ASSERT_EQ(decoder.decode(r.payload, r.readable_after, e), DecodeError::kNone);
    order.push(ts, r, e, KeyIndex::hash(e.store, e.sku));
    payload.assign(payload.size(), 'x');  // the record's buffer is gone after push
  };
  push(30, "c", 0);
  push(10, "z", 1);
  push(20, "b", 2);
  push(10, "a", 3);
  std::string bytes;
  ByteWriter w(bytes);
  order.encode(w);
  EventOrder copy;
  ByteReader r(bytes);
  ASSERT_TRUE(copy.decode(r).is_ok());
  for (EventOrder* o : {&order, &copy}) {
    std::vector<std::string> got;
    while (!o->empty()) {
      const EventOrder::Held& h = o->top();
      // The decoded event: the escaped store name unescaped, views valid after the decoder
      // moved on and after the slots grew.
      EXPECT_EQ(h.event.store, "S1");
      EXPECT_EQ(h.event.ts_ms, h.ts_ms);
      EXPECT_EQ(h.key_hash, KeyIndex::hash("S1", h.event.sku));
      EXPECT_EQ(h.event.qty, 1);
      EXPECT_TRUE(h.event.po_id.empty());
      got.push_back(std::to_string(h.ts_ms) + std::string(h.event.sku) +
                    std::to_string(h.partition));
      for (size_t i = 0; i < EventOrder::kPadding; ++i) ASSERT_EQ(h.buffer[h.size + i], '\0');
      o->pop();
    }
    // Equal times go by payload bytes: "a" before "z".
    EXPECT_EQ(got, (std::vector<std::string>{"10a3", "10z1", "20b2", "30c0"}));
  }
  std::string_view truncated(bytes.data(), bytes.size() - 1);
  ByteReader tr(truncated);
  EXPECT_FALSE(copy.decode(tr).is_ok());
  // A held payload that does not decode is a corruption, not a crash at release.
  std::string bad_value;
  ByteWriter bw(bad_value);
  bw.put<uint32_t>(1);
  bw.put<int64_t>(5);
  bw.put<int32_t>(0);
  bw.put<int64_t>(0);
  bw.put<int64_t>(0);
  bw.put<int64_t>(0);
  bw.put_string("not json");
  ByteReader br(bad_value);
  EXPECT_FALSE(copy.decode(br).is_ok());
}

// Logs every call it gets (event time, key, timer), so the test sees the operators' whole
// call sequence, including the order key ids were handed out in.
class CallLog final : public Operator {
 public:
  std::string_view name() const override { return "call_log"; }
  uint32_t subscriptions() const override { return 1u << static_cast<int>(EventType::kSale); }
  void on_event(const Event& e, KeyId key, OperatorContext& ctx) override {
    log(ctx, "event " + std::to_string(e.ts_ms) + " " + ctx.keys().key_string(key) + " id " +
                 std::to_string(key) + " wm " + std::to_string(ctx.watermark()));
    const int64_t hour_end = (e.ts_ms / 3600000 + 1) * 3600000;
    ctx.set_timer(key, hour_end, 0);
    timers_.emplace(hour_end, key);
  }
  void on_timer(KeyId key, int64_t t, uint32_t, OperatorContext& ctx) override {
    log(ctx, "timer " + std::to_string(t) + " " + ctx.keys().key_string(key) + " wm " +
                 std::to_string(ctx.watermark()));
    timers_.erase({t, key});
  }
  void snapshot(StateBatch& batch, const KeyIndex&) override {
    std::string v;
    ByteWriter w(v);
    for (const auto& [t, key] : timers_) {
      w.put(t);
      w.put(key);
    }
    batch.put("op/call_log", "timers", v);
  }
  Status restore(const StateStore& store, OperatorContext& ctx) override {
    auto v = store.get("op/call_log", "timers");
    if (!v.is_ok() || !v.value().has_value()) return Status::ok();
    ByteReader r(*v.value());
    int64_t t;
    KeyId key;
    while (r.get(t) && r.get(key)) {
      timers_.emplace(t, key);
      ctx.set_timer(key, t, 0);
    }
    return Status::ok();
  }
  size_t memory_bytes() const override { return 0; }

 private:
  static void log(OperatorContext& ctx, std::string line) {
    OutputRecord o;
    o.stream = OutputStream::kForecasts;
    o.json = std::move(line);
    ctx.emit(std::move(o));
  }
  std::set<std::pair<int64_t, KeyId>> timers_;  // registered, not fired yet
};

// DESIGN.md §4: with event_time_order the operators get the same calls, in the same order,
// whatever order the records arrived in within the out-of-orderness bound (a disordered
// file, a merge of partitions); in arrival order they do not.
TEST(TaskTest, OperatorsSeeEventTimeOrderWhateverTheArrivalOrder) {
  std::mt19937 rng(16);
  std::vector<std::pair<int64_t, std::string>> events;
  int64_t t = 1795600000000;
  for (int i = 0; i < 2000; ++i) {
    t += rng() % 120000;
    const std::string store = "S" + std::to_string(rng() % 3);
    const std::string sku = "K" + std::to_string(rng() % 7);
    events.emplace_back(t, R"({"type":"sale","ts":)" + std::to_string(t) + R"(,"store":")" + store +
                               R"(","sku":")" + sku + R"(","qty":1,"unit_price":2})");
    if (i % 50 == 0) events.push_back(events.back());  // same time, same payload: a twin
  }
  auto lines_of = [](const std::vector<std::pair<int64_t, std::string>>& ev) {
    std::vector<std::string> out;
    for (const auto& e : ev) out.push_back(e.second);
    return out;
  };
  // Arrival orders: in event-time order; each record delayed by up to 4 min (bound 5 min).
  std::vector<std::string> sorted = lines_of(events);
  std::vector<std::pair<int64_t, std::string>> delayed;
  for (const auto& e : events) delayed.emplace_back(e.first + rng() % 240000, e.second);
  std::stable_sort(delayed.begin(), delayed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> disordered = lines_of(delayed);
  ASSERT_NE(sorted, disordered);

  auto run_log = [](const std::vector<std::string>& lines, bool ordered, size_t crash_at) {
    MemoryStateStore store;
    CollectSink sink;
    Calendar calendar;
    TaskOptions o;
    o.event_time_order = ordered;
    o.out_of_orderness_ms = 300000;
    for (size_t stop : {crash_at, lines.size()}) {
      VectorSource src(lines);
      CallLog op;
      Task task(o, src, {&sink}, store, {&op}, calendar);
      EXPECT_TRUE(task.restore().is_ok());
      src.stop_after(stop);
      std::vector<RawRecord> recs;
      while (true) {
        recs.clear();
        EXPECT_TRUE(src.poll(recs, 37, 0).is_ok());
        if (recs.empty()) break;
        task.process(recs);
      }
      if (src.at_end()) task.end_of_input();
      EXPECT_TRUE(task.checkpoint().is_ok());  // with held events when stopped mid-stream
      EXPECT_TRUE(task.wait_checkpoint().is_ok());
      EXPECT_EQ(TaskCounters::sum(task.counters().late), 0u);
    }
    return sink.lines;
  };
  const std::vector<std::string> base = run_log(sorted, true, 700);
  ASSERT_GT(base.size(), sorted.size());
  EXPECT_EQ(run_log(disordered, true, 1300), base);
  EXPECT_EQ(run_log(disordered, true, disordered.size()), base);
  EXPECT_NE(run_log(disordered, false, disordered.size()), run_log(sorted, false, sorted.size()));
}

}  // namespace
}  // namespace sw
