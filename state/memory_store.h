#pragma once
// In-memory StateStore: the reference implementation of the store contract, used by tests
// and by `run` when no state.dir is configured. Not durable.

#include <map>
#include <string>

#include "stream/state_store.h"

namespace sw {

class MemoryStateStore final : public StateStore {
 public:
  Result<std::optional<std::string>> get(std::string_view ns, std::string_view key) const override;
  Status scan_prefix(
      std::string_view ns, std::string_view prefix,
      const std::function<bool(std::string_view, std::string_view)>& fn) const override;
  Status commit(const StateBatch& batch) override;
  Status scan_all(const std::function<bool(std::string_view, std::string_view, std::string_view)>&
                      fn) const override;
  size_t size() const { return data_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> data_;  // ns '\0' key -> value
};

//! "ns\0key": the physical key layout shared by both stores, so namespaces never collide.
std::string physical_key(std::string_view ns, std::string_view key);

}  // namespace sw
