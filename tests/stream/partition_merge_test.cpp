// The ordered merge of input partitions (stream/partition_merge.h): the merged sequence is a
// function of the partitions' contents, not of when their records were fetched.
#include "stream/partition_merge.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

namespace sw {
namespace {

using Feed = PartitionMerge::Feed;

// A record is (partition, event time); its handle encodes its index in `records`.
struct Rec {
  int32_t partition;
  int64_t time;
};

void* handle(size_t i) {
  return reinterpret_cast<void*>(i + 1);
}
size_t index_of(void* h) {
  return reinterpret_cast<uintptr_t>(h) - 1;
}

// Feeds the partitions' records to a merge in random fetch chunks (a bounded run: a partition
// is kMore until all its records were pushed, then kEnded) and returns the merged order.
std::vector<size_t> merge_bounded(const std::vector<Rec>& records, uint32_t seed) {
  std::map<int32_t, std::vector<size_t>> by_partition;
  for (size_t i = 0; i < records.size(); ++i) by_partition[records[i].partition].push_back(i);
  std::vector<int32_t> parts;
  std::map<int32_t, size_t> fetched;
  for (auto& [p, v] : by_partition) {
    parts.push_back(p);
    fetched[p] = 0;
  }
  PartitionMerge merge(PartitionMerge::kWaitForever);
  std::mt19937 rng(seed);
  std::vector<size_t> out;
  auto feed = [&](int32_t p) {
    return fetched[p] == by_partition[p].size() ? Feed::kEnded : Feed::kMore;
  };
  while (out.size() < records.size()) {
    // Fetch a random chunk of a random partition, then take what the merge gives.
    int32_t p = parts[rng() % parts.size()];
    size_t n = rng() % 4;
    for (; n > 0 && fetched[p] < by_partition[p].size(); --n) {
      size_t i = by_partition[p][fetched[p]++];
      merge.push(p, records[i].time, handle(i));
    }
    size_t take = rng() % 5;
    for (; take > 0; --take) {
      void* h = merge.next(parts, feed, 0);
      if (h == nullptr) break;
      out.push_back(index_of(h));
    }
  }
  EXPECT_EQ(merge.buffered(), 0u);
  EXPECT_EQ(merge.enforced(), 0u);
  return out;
}

TEST(PartitionMergeTest, OrdersByEventTimeThenPartition) {
  std::vector<Rec> records = {{0, 10}, {0, 30}, {1, 10}, {1, 20}, {2, 5}, {2, 40}};
  std::vector<size_t> order = merge_bounded(records, 1);
  // 5@p2, 10@p0, 10@p1, 20@p1, 30@p0, 40@p2.
  EXPECT_EQ(order, (std::vector<size_t>{4, 0, 2, 3, 1, 5}));
}

TEST(PartitionMergeTest, SameSequenceWhateverTheFetchInterleaving) {
  std::mt19937 rng(7);
  std::vector<Rec> records;
  for (int i = 0; i < 2000; ++i) {
    // Per partition roughly ascending with some disorder, a few records without a time.
    int32_t p = static_cast<int32_t>(rng() % 16);
    int64_t t = i * 10 + static_cast<int64_t>(rng() % 50);
    records.push_back({p, rng() % 97 == 0 ? PartitionMerge::kNoTime : t});
  }
  const std::vector<size_t> first = merge_bounded(records, 1);
  for (uint32_t seed = 2; seed < 12; ++seed) EXPECT_EQ(merge_bounded(records, seed), first);
  // Per partition the merge keeps offset order.
  std::map<int32_t, size_t> last;
  for (size_t i : first) {
    auto it = last.find(records[i].partition);
    if (it != last.end()) {
      EXPECT_LT(it->second, i);
    }
    last[records[i].partition] = i;
  }
}

TEST(PartitionMergeTest, RecordWithoutTimeFollowsItsPredecessor) {
  PartitionMerge merge(PartitionMerge::kWaitForever);
  std::vector<int32_t> parts = {0, 1};
  auto feed = [](int32_t) { return Feed::kMore; };
  merge.push(0, 100, handle(0));
  merge.push(0, PartitionMerge::kNoTime, handle(1));
  merge.push(1, 50, handle(2));
  EXPECT_EQ(index_of(merge.next(parts, feed, 0)), 2u);  // 50 before 100
  // Partition 1 is empty and may get more: wait.
  EXPECT_EQ(merge.next(parts, feed, 0), nullptr);
  merge.push(1, 200, handle(3));
  EXPECT_EQ(index_of(merge.next(parts, feed, 0)), 0u);
  // The undecodable record heads partition 0: it goes at once.
  EXPECT_EQ(index_of(merge.next(parts, feed, 0)), 1u);
}

TEST(PartitionMergeTest, LiveWaitIsBoundedAndCounted) {
  PartitionMerge merge(100);
  std::vector<int32_t> parts = {0, 1, 2};
  Feed f1 = Feed::kMore;
  auto feed = [&](int32_t p) { return p == 1 ? f1 : Feed::kCaughtUp; };
  merge.push(0, 10, handle(0));
  merge.push(0, 20, handle(1));
  // Partition 2 is caught up: not waited for. Partition 1 lags: waited for up to 100 ms.
  EXPECT_EQ(merge.next(parts, feed, 1000), nullptr);
  EXPECT_EQ(merge.wake_in(1050), 50);
  EXPECT_EQ(merge.next(parts, feed, 1099), nullptr);
  EXPECT_EQ(index_of(merge.next(parts, feed, 1100)), 0u);
  EXPECT_EQ(merge.enforced(), 1u);
  EXPECT_EQ(index_of(merge.next(parts, feed, 1101)), 1u);
  EXPECT_EQ(merge.enforced(), 1u);  // once per wait
  // Caught up: nothing waited for, nothing counted.
  f1 = Feed::kCaughtUp;
  merge.push(0, 30, handle(2));
  EXPECT_EQ(index_of(merge.next(parts, feed, 1200)), 2u);
  EXPECT_EQ(merge.enforced(), 1u);
}

TEST(PartitionMergeTest, DropRemovesARevokedPartitionsRecords) {
  PartitionMerge merge(0);
  merge.push(3, 10, handle(0));
  merge.push(3, 11, handle(1));
  merge.push(4, 12, handle(2));
  std::vector<size_t> dropped;
  merge.drop(3, [&](void* h) { dropped.push_back(index_of(h)); });
  EXPECT_EQ(dropped, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(merge.buffered(), 1u);
  EXPECT_EQ(merge.buffered(3), 0u);
}

}  // namespace
}  // namespace sw
