#include "stream/dedup_window.h"

#include <cstring>
#include <string>

#include "stream/bytes.h"

namespace sw {

namespace {
constexpr std::string_view kDedupNs = "dedup";
}  // namespace

DedupWindow::DedupWindow(size_t capacity) : capacity_(capacity), set_(capacity) {
  ring_.assign(capacity, 0);
}

void DedupWindow::snapshot(StateBatch& batch) {
  if (total_ <= persisted_ || capacity_ == 0) return;
  uint64_t first = persisted_;
  if (total_ - persisted_ > capacity_) first = total_ - capacity_;  // older ids left the ring
  std::string v;
  v.reserve((total_ - first) * sizeof(uint64_t));
  for (uint64_t i = first; i < total_; ++i) {
    const uint64_t h = ring_[i % capacity_];
    v.append(reinterpret_cast<const char*>(&h), sizeof h);
  }
  batch.put(kDedupNs, be64_key(first), v);
  chunks_.emplace_back(first, total_);
  persisted_ = total_;
  const uint64_t horizon = total_ > capacity_ ? total_ - capacity_ : 0;
  while (!chunks_.empty() && chunks_.front().second <= horizon) {
    batch.remove(kDedupNs, be64_key(chunks_.front().first));
    chunks_.erase(chunks_.begin());
  }
}

Status DedupWindow::restore(const StateStore& store) {
  // Chunks in insertion order (be64 keys sort numerically).
  total_ = 0;
  set_.clear();
  chunks_.clear();
  SW_RETURN_IF_ERROR(store.scan_prefix(kDedupNs, "", [&](std::string_view k, std::string_view v) {
    const uint64_t first = from_be64(k);
    const uint64_t n = v.size() / sizeof(uint64_t);
    if (total_ < first) total_ = first;  // ids before `first` were evicted
    for (uint64_t i = 0; i < n && capacity_ > 0; ++i) {
      uint64_t h;
      std::memcpy(&h, v.data() + i * sizeof h, sizeof h);
      remember(h);
    }
    chunks_.emplace_back(first, first + n);
    return true;
  }));
  persisted_ = total_;
  return Status::ok();
}

}  // namespace sw
