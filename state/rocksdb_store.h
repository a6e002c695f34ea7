#pragma once
// RocksDB-backed StateStore: checkpoints survive kill -9. commit() writes one WriteBatch with
// a synced WAL, so a checkpoint is either fully there after a crash or not at all.
// Memory: block cache and memtables share `state.memory_budget_mb` (write buffer manager
// charged to the cache).

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
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

//! The state directory cannot be opened as it is (damaged, partial, not a state directory):
//! the run stops with exit 1 and touches neither the directory nor the outputs.
class StateDirError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RocksDbStateStore final : public StateStore {
 public:
  //! Opens the database, creating it only when the directory is absent or empty: a
  //! non-empty directory without RocksDB's CURRENT file is refused (damaged or foreign),
  //! never initialised over. The WAL is replayed with kAbsoluteConsistency first; if that
  //! finds a corrupt or torn record, the open is repeated with kPointInTimeRecovery (the
  //! state rolls back to the last intact commit) and wal_rolled_back() reports it. Errors
  //! name the path and the fix.
  static Result<std::unique_ptr<RocksDbStateStore>> open(const RocksDbOptions& options);
  ~RocksDbStateStore() override;

  Result<std::optional<std::string>> get(std::string_view ns, std::string_view key) const override;
  Status scan_prefix(
      std::string_view ns, std::string_view prefix,
      const std::function<bool(std::string_view, std::string_view)>& fn) const override;
  Status commit(const StateBatch& batch) override;
  Status scan_all(const std::function<bool(std::string_view, std::string_view, std::string_view)>&
                      fn) const override;
  //! Approximate bytes on disk (SST + WAL estimates).
  uint64_t disk_bytes() const;
  //! True when this open created the database (the directory was absent or empty).
  bool created() const { return created_; }
  //! True when the WAL held a corrupt or torn record and recovery dropped it and whatever
  //! followed (what was dropped was not a complete commit, or the disk lost data).
  bool wal_rolled_back() const { return wal_rolled_back_; }
  //! RocksDB's description of what the strict WAL replay found (empty if nothing).
  const std::string& wal_problem() const { return wal_problem_; }
  //! Scheduled snapshots (state.backup.*): after a commit, when `every_ms` (> 0) has passed
  //! since the last one (or since open), a RocksDB checkpoint of the database goes into
  //! `dir`/snapshot-<unix ms>, and only the newest `keep` are kept. Call before commits start.
  void schedule_snapshots(std::string dir, int64_t every_ms, int keep);
  //! Takes a snapshot into the scheduled snapshots' directory now (backup_dir must be set),
  //! then prunes to backup_keep. Serialised with the other snapshots; consistent with
  //! concurrent commits (a RocksDB checkpoint is taken at a WriteBatch boundary).
  Status snapshot_now();
  //! Scheduled snapshots taken and failed since open.
  uint64_t snapshots_taken() const { return snapshots_taken_.load(); }
  uint64_t snapshots_failed() const { return snapshots_failed_.load(); }

 private:
  RocksDbStateStore() = default;
  void maybe_snapshot();
  //! A corruption status naming the directory and the fix; others unchanged.
  Status damaged(Status s) const;
  std::unique_ptr<rocksdb::DB> db_;
  std::string path_;
  std::string backup_dir_;
  int64_t backup_every_ms_ = 0;
  int backup_keep_ = 3;
  std::mutex snapshot_mu_;
  std::atomic<int64_t> last_snapshot_ms_{0};
  std::atomic<uint64_t> snapshots_taken_{0};
  std::atomic<uint64_t> snapshots_failed_{0};
  std::shared_ptr<rocksdb::Cache> cache_;
  bool sync_ = true;
  bool created_ = false;
  bool wal_rolled_back_ = false;
  std::string wal_problem_;
};

//! The RocksDB version linked ("7.8.3"), for `shelfwatch --version`.
std::string rocksdb_version();

}  // namespace sw
