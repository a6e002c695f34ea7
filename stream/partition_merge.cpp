#include "stream/partition_merge.h"

#include <algorithm>

namespace sw {

PartitionMerge::Lane* PartitionMerge::lane(int32_t partition) {
  if (partition < 0 || static_cast<size_t>(partition) >= lane_of_.size()) return nullptr;
  const int32_t i = lane_of_[static_cast<size_t>(partition)];
  return i < 0 ? nullptr : &lanes_[static_cast<size_t>(i)];
}

PartitionMerge::Lane& PartitionMerge::lane_or_add(int32_t partition) {
  if (Lane* l = lane(partition)) return *l;
  if (static_cast<size_t>(partition) >= lane_of_.size()) {
    lane_of_.resize(static_cast<size_t>(partition) + 1, -1);
  }
  lane_of_[static_cast<size_t>(partition)] = static_cast<int32_t>(lanes_.size());
  lanes_.emplace_back();
  return lanes_.back();
}

void PartitionMerge::push(int32_t partition, int64_t time_ms, void* handle) {
  lane_or_add(partition).records.push_back(Entry{time_ms, handle});
  ++buffered_;
}

int64_t PartitionMerge::wake_in(int64_t now_ms) const {
  if (max_idle_ms_ == kWaitForever) return kWaitForever;
  int64_t wake = kWaitForever;
  for (const Lane& l : lanes_) {
    if (l.records.empty() && l.waiting_since >= 0 && !l.counted) {
      wake = std::min(wake, std::max<int64_t>(0, l.waiting_since + max_idle_ms_ - now_ms));
    }
  }
  return wake;
}

size_t PartitionMerge::buffered(int32_t partition) const {
  if (partition < 0 || static_cast<size_t>(partition) >= lane_of_.size()) return 0;
  const int32_t i = lane_of_[static_cast<size_t>(partition)];
  return i < 0 ? 0 : lanes_[static_cast<size_t>(i)].records.size();
}

}  // namespace sw
