// DedupWindow on its own: the horizon (the capacity most recent ids), eviction order, and a
// window restored from its checkpoint chunks equal to the uninterrupted one.

#include "stream/dedup_window.h"

#include <gtest/gtest.h>

#include "state/memory_store.h"

namespace sw {
namespace {

TEST(DedupWindowTest, RemembersTheMostRecentCapacityIds) {
  DedupWindow w(3);
  EXPECT_FALSE(w.seen_before(1));
  EXPECT_FALSE(w.seen_before(2));
  EXPECT_TRUE(w.seen_before(1));  // a duplicate is not inserted again
  EXPECT_FALSE(w.seen_before(3));
  EXPECT_EQ(w.total(), 3u);
  EXPECT_FALSE(w.seen_before(4));  // evicts 1, the oldest insertion
  EXPECT_TRUE(w.seen_before(2));
  EXPECT_TRUE(w.seen_before(4));
  EXPECT_FALSE(w.seen_before(1));  // 1 is new again; evicts 2
  EXPECT_FALSE(w.seen_before(2));  // evicts 3
  EXPECT_FALSE(w.seen_before(3));
  EXPECT_EQ(w.total(), 7u);
}

TEST(DedupWindowTest, CapacityZeroDisablesDeduplication) {
  DedupWindow w(0);
  EXPECT_FALSE(w.seen_before(7));
  EXPECT_FALSE(w.seen_before(7));
  StateBatch b;
  w.snapshot(b);
  EXPECT_TRUE(b.empty());
}

TEST(DedupWindowTest, RestoreFromChunksEqualsTheUninterruptedWindow) {
  MemoryStateStore store;
  DedupWindow live(5);
  uint64_t next = 100;
  // Snapshots of different sizes, one larger than the window: old chunks must go.
  for (int chunk : {2, 3, 1, 7, 2}) {
    for (int i = 0; i < chunk; ++i) EXPECT_FALSE(live.seen_before(next++));
    StateBatch b;
    live.snapshot(b);
    ASSERT_TRUE(store.commit(b).is_ok());
  }
  size_t chunks = 0;
  ASSERT_TRUE(store
                  .scan_prefix("dedup", "",
                               [&](std::string_view, std::string_view) {
                                 ++chunks;
                                 return true;
                               })
                  .is_ok());
  EXPECT_LE(chunks, 2u);  // only chunks with ids inside the window remain
  DedupWindow restored(5);
  ASSERT_TRUE(restored.restore(store).is_ok());
  EXPECT_EQ(restored.total(), live.total());
  // Same membership: the last 5 ids are duplicates, the one before is not.
  for (uint64_t h = next - 5; h < next; ++h) {
    EXPECT_TRUE(restored.seen_before(h)) << h;
    EXPECT_TRUE(live.seen_before(h)) << h;
  }
  EXPECT_FALSE(restored.seen_before(next - 6));
  EXPECT_FALSE(live.seen_before(next - 6));
}

}  // namespace
}  // namespace sw
