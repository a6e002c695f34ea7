// EventClock on its own: the watermark over partitions (held back by a partition without
// events, not by an idle one, never moving back), timer firing order, duplicate timers, and
// the meta encoding round trip.

#include "stream/event_clock.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace sw {
namespace {

class IdleSource final : public Source {
 public:
  Status poll(std::vector<RawRecord>&, size_t, int) override { return Status::ok(); }
  bool at_end() const override { return false; }
  Status seek(const std::vector<SourcePosition>&) override { return Status::ok(); }
  std::string name() const override { return "idle"; }
  bool partition_idle(int32_t p) const override { return idle.count(p) > 0; }
  std::span<const int32_t> partitions() const override { return ids; }
  std::set<int32_t> idle;
  std::vector<int32_t> ids{0, 1, 2};
};

TEST(EventClockTest, WatermarkIsTheSlowestActivePartitionMinusTheBound) {
  TaskCounters counters;
  EventClock clock(100, counters);
  IdleSource src;
  clock.track(src.partitions());
  ASSERT_EQ(clock.clocks().size(), 3u);
  // Partitions 1 and 2 have no event yet: they hold the watermark back.
  EXPECT_TRUE(clock.observe(clock.clock(0), 1000));
  EXPECT_FALSE(clock.advance_watermark(src));
  EXPECT_EQ(clock.watermark(), INT64_MIN);
  EXPECT_TRUE(clock.observe(clock.clock(1), 500));
  EXPECT_FALSE(clock.advance_watermark(src));
  // Partition 2 goes idle: it no longer counts.
  src.idle.insert(2);
  EXPECT_TRUE(clock.advance_watermark(src));
  EXPECT_EQ(clock.watermark(), 400);
  EXPECT_EQ(counters.watermark_ms.load(), 400);
  EXPECT_EQ(clock.stream_time(), 1000);
  // An older event on a partition does not move its clock; the watermark never goes back.
  EXPECT_FALSE(clock.observe(clock.clock(1), 450));
  src.idle.erase(2);
  EXPECT_TRUE(clock.observe(clock.clock(2), 200));
  EXPECT_FALSE(clock.advance_watermark(src));
  EXPECT_EQ(clock.watermark(), 400);
  // All idle: nothing to compute from.
  src.idle = {0, 1, 2};
  EXPECT_FALSE(clock.advance_watermark(src));
  clock.end_of_time();
  EXPECT_EQ(clock.watermark(), INT64_MAX);
}

TEST(EventClockTest, TimersFireInTimeOperatorKeyTagOrderOnce) {
  TaskCounters counters;
  EventClock clock(0, counters);
  clock.add_timer({30, 0, 1, 0});
  clock.add_timer({10, 1, 2, 0});
  clock.add_timer({10, 0, 5, 1});
  clock.add_timer({10, 0, 5, 0});
  clock.add_timer({10, 0, 5, 0});  // duplicate registration
  clock.add_timer({10, 0, 3, 9});
  std::vector<std::string> fired;
  auto record = [&](const EventClock::Timer& t) {
    fired.push_back(std::to_string(t.time) + "/" + std::to_string(t.op) + "/" +
                    std::to_string(t.key) + "/" + std::to_string(t.tag));
  };
  clock.fire_timers(20, record);
  EXPECT_EQ(fired, (std::vector<std::string>{"10/0/3/9", "10/0/5/0", "10/0/5/1", "10/1/2/0"}));
  EXPECT_EQ(clock.pending_timers(), 1u);
  // A timer registered while firing, and due, fires in the same call.
  fired.clear();
  clock.fire_timers(40, [&](const EventClock::Timer& t) {
    record(t);
    if (t.time == 30) clock.add_timer({35, 0, 1, 0});
  });
  EXPECT_EQ(fired, (std::vector<std::string>{"30/0/1/0", "35/0/1/0"}));
}

TEST(EventClockTest, EncodeDecodeRoundTrip) {
  TaskCounters counters;
  EventClock clock(10, counters);
  IdleSource src;
  clock.track(src.partitions());
  for (int32_t p : {0, 1, 2}) {
    EventClock::PartitionClock& pc = clock.clock(p);
    pc.next_offset = 10 * p + 1;
    pc.line = 10 * p + 1;
    clock.observe(pc, 1000 + p);
  }
  ASSERT_TRUE(clock.advance_watermark(src));
  std::string bytes;
  ByteWriter w(bytes);
  clock.encode(w);
  TaskCounters counters2;
  EventClock back(10, counters2);
  ByteReader r(bytes);
  ASSERT_TRUE(back.decode(r).is_ok());
  EXPECT_EQ(back.watermark(), clock.watermark());
  EXPECT_EQ(back.stream_time(), clock.stream_time());
  ASSERT_EQ(back.clocks().size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back.clocks()[i].max_event_ms, clock.clocks()[i].max_event_ms);
    EXPECT_EQ(back.clocks()[i].next_offset, clock.clocks()[i].next_offset);
  }
  EXPECT_EQ(counters2.watermark_ms.load(), clock.watermark());
  ByteReader truncated(std::string_view(bytes).substr(0, bytes.size() - 3));
  EXPECT_FALSE(back.decode(truncated).is_ok());
}

}  // namespace
}  // namespace sw
