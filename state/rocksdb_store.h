#pragma once
// RocksDB-backed StateStore: checkpoints survive kill -9. commit() writes one WriteBatch with
// a synced WAL, so a checkpoint is either fully there after a crash or not at all.
// Memory: block cache and memtables share `state.memory_budget_mb` (write buffer manager
// charged to the cache).

#include <memory>
#include <string>

#include "stream/state_store.h"

namespace rocksdb {
class DB;
class Cache;
}  // namespace rocksdb

namespace sw {

struct RocksDbOptions {
  std::string path;
  size_t memory_budget_bytes = 256u << 20;
  bool sync = true;
  bool read_only = false;
};

class RocksDbStateStore final : public StateStore {
 public:
  //! Opens (creating if missing) the database; errors name the path.
  static Result<std::unique_ptr<RocksDbStateStore>> open(const RocksDbOptions& options);
  ~RocksDbStateStore() override;

  Result<std::optional<std::string>> get(std::string_view ns, std::string_view key) const override;
  Status scan_prefix(
      std::string_view ns, std::string_view prefix,
      const std::function<bool(std::string_view, std::string_view)>& fn) const override;
  Status commit(const StateBatch& batch) override;
  //! Approximate bytes on disk (SST + WAL estimates).
  uint64_t disk_bytes() const;

 private:
  RocksDbStateStore() = default;
  std::unique_ptr<rocksdb::DB> db_;
  std::shared_ptr<rocksdb::Cache> cache_;
  bool sync_ = true;
};

}  // namespace sw
