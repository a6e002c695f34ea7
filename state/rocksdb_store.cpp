#include "state/rocksdb_store.h"

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/version.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include "state/backup.h"

#include "state/memory_store.h"
#include "stream/huge_pages.h"

namespace sw {

namespace {
Status from_rocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::ok();
  if (s.IsIOError()) return Status::io(what + ": " + s.ToString());
  if (s.IsCorruption()) return Status::corruption(what + ": " + s.ToString());
  return Status::internal(what + ": " + s.ToString());
}

// True when `dir` holds only what RocksDB writes while creating a database before CURRENT
// exists (LOCK, IDENTITY, LOG*, OPTIONS-*, MANIFEST-*, temp files, empty WAL files): no
// table file and no WAL byte, so no checkpoint was ever committed there.
bool interrupted_creation(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    auto starts = [&](std::string_view p) { return name.rfind(p, 0) == 0; };
    if (!e.is_regular_file(ec)) return false;
    if (name == "LOCK" || name == "IDENTITY" || starts("LOG") || starts("OPTIONS-") ||
        starts("MANIFEST-") || e.path().extension() == ".dbtmp") {
      continue;
    }
    if (e.path().extension() == ".log" && e.file_size(ec) == 0 && !ec) continue;
    return false;
  }
  return !ec;
}

// RocksDB's diagnostics go to stderr, warnings and errors only, instead of an info LOG file in
// the state directory: that file is one more writer on a disk that may be full, and Debian's
// RocksDB asserts (aborts the process) when its LOG writer is used again after a failed
// write, which turned a full disk into exit 134 at close instead of a clean exit 1.
class StderrLogger final : public rocksdb::Logger {
 public:
  StderrLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    // A scheduled snapshot (rocksdb::Checkpoint) disables file deletions twice by design.
    if (std::strstr(format, "File Deletions") != nullptr) return;
    char line[1024];
    std::vsnprintf(line, sizeof line, format, ap);
    std::fprintf(stderr, "shelfwatch state (rocksdb): %s\n", line);
  }
};

}  // namespace

Result<std::unique_ptr<RocksDbStateStore>> RocksDbStateStore::open(const RocksDbOptions& o) {
  std::unique_ptr<RocksDbStateStore> store(new RocksDbStateStore());
  store->sync_ = o.sync;
  store->path_ = o.path;
  store->cache_ = rocksdb::NewLRUCache(o.memory_budget_bytes);
  rocksdb::Options options;
  options.max_open_files = 256;
  options.info_log = std::make_shared<StderrLogger>();
  // Checkpoints are large sorted-on-flush bulk writes and reads happen only at restore, so
  // an append-only vector memtable beats the skiplist; values are small binary structs that
  // compress poorly, so skip snappy on the hot levels.
  options.memtable_factory.reset(new rocksdb::VectorRepFactory());
  options.allow_concurrent_memtable_write = false;
  options.compression = rocksdb::kNoCompression;
  options.bottommost_compression = rocksdb::kLZ4Compression;
  options.write_buffer_size = std::max<size_t>(o.memory_budget_bytes / 8, 4u << 20);
  // Every checkpoint rewrites the dirty keys: with RocksDB's default of 2 memtables a commit
  // stalled ("Stopping writes because we have 2 immutable memtables") whenever a flush was
  // slower than a checkpoint interval. Four fill the write buffer manager's half of the budget.
  options.max_write_buffer_number = 4;
  options.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(o.memory_budget_bytes / 2, store->cache_);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = store->cache_;
  table.cache_index_and_filter_blocks = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Never create a database over files that are there: a non-empty directory without
  // CURRENT is a damaged state directory (or not one at all), and a fresh database inside
  // it would silently forget every checkpoint.
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string fix_damaged =
      "restore the directory from a backup (`shelfwatch restore --from BACKUP --state " + o.path +
      " --force`), or move it away to start from empty state (the outputs then need "
      "`shelfwatch run --reset-outputs`); it was left untouched";
  if (fs::exists(o.path, ec) && !fs::is_directory(o.path, ec)) {
    return Status::io("state directory '" + o.path + "' is not a directory");
  }
  bool empty = !fs::exists(o.path, ec) || fs::is_empty(o.path, ec);
  if (ec) return Status::io("cannot read state directory '" + o.path + "': " + ec.message());
  if (!empty && !fs::exists(fs::path(o.path) / "CURRENT", ec) && !o.read_only &&
      interrupted_creation(o.path)) {
    // A first start stopped while RocksDB was creating the database, before it wrote
    // CURRENT: nothing was ever committed. Empty WAL files would make the creation fail.
    for (const auto& e : fs::directory_iterator(o.path, ec)) {
      if (e.path().extension() == ".log") fs::remove(e.path(), ec);
    }
    empty = true;
  }
  if (!empty && !fs::exists(fs::path(o.path) / "CURRENT", ec)) {
    return Status::corruption("state directory '" + o.path +
                              "' is not empty but has no CURRENT file: it is damaged, partial "
                              "or not a shelfwatch state directory; " +
                              fix_damaged);
  }
  if (empty && o.read_only) {
    return Status::io("state directory '" + o.path + "' is absent or empty");
  }
  options.create_if_missing = empty;
  options.error_if_exists = false;
  if (!o.read_only) {
    fs::create_directories(o.path, ec);
    if (ec) return Status::io("cannot create state directory '" + o.path + "': " + ec.message());
  }
  // Strict replay first: a corrupt or torn WAL record is reported, not silently skipped.
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency;
  rocksdb::DB* db = nullptr;
  auto do_open = [&] {
    return o.read_only ? rocksdb::DB::OpenForReadOnly(options, o.path, &db)
                       : rocksdb::DB::Open(options, o.path, &db);
  };
  rocksdb::Status s = do_open();
  if (!s.ok() && s.IsCorruption() && !empty) {
    // Possibly the WAL only (a torn tail after a crash mid-commit, or lost bytes): recover
    // to the last intact record. If the damage is elsewhere this fails too and the first
    // error is reported.
    std::string strict = s.ToString();
    options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
    db = nullptr;
    rocksdb::Status pit = do_open();
    if (pit.ok()) {
      store->wal_rolled_back_ = true;
      store->wal_problem_ = strict;
      s = pit;
    }
  }
  if (!s.ok()) {
    std::string what =
        "opening state store at '" + o.path + "': " + s.ToString() + "; " + fix_damaged;
    return s.IsIOError() ? Status::io(what) : Status::corruption(what);
  }
  store->created_ = empty;
  store->db_.reset(db);
  return store;
}

Status RocksDbStateStore::damaged(Status s) const {
  if (s.code() != Status::Code::kCorruption) return s;
  return Status::corruption("state directory '" + path_ + "' is damaged (" + s.message() +
                            "); restore it from a backup (shelfwatch restore --from BACKUP "
                            "--state " +
                            path_ +
                            " --force), or move it away to start from empty state (the outputs "
                            "then need `shelfwatch run --reset-outputs`)");
}

RocksDbStateStore::~RocksDbStateStore() {
  if (db_) db_->Close().PermitUncheckedError();
}

Result<std::optional<std::string>> RocksDbStateStore::get(std::string_view ns,
                                                          std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), physical_key(ns, key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return damaged(from_rocks(s, "reading state"));
  return std::optional<std::string>(std::move(value));
}

Status RocksDbStateStore::scan_prefix(
    std::string_view ns, std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::string start = physical_key(ns, prefix);
  size_t ns_len = ns.size() + 1;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(start); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (k.size() < start.size() || std::memcmp(k.data(), start.data(), start.size()) != 0) break;
    if (!fn(std::string_view(k.data() + ns_len, k.size() - ns_len),
            std::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return damaged(from_rocks(it->status(), "scanning state"));
}

Status RocksDbStateStore::scan_all(
    const std::function<bool(std::string_view, std::string_view, std::string_view)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view k(it->key().data(), it->key().size());
    size_t sep = k.find('\0');
    if (sep == std::string_view::npos) continue;  // not a namespaced key
    if (!fn(k.substr(0, sep), k.substr(sep + 1),
            std::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return damaged(from_rocks(it->status(), "scanning state"));
}

Status RocksDbStateStore::commit(const StateBatch& batch) {
  rocksdb::WriteBatch wb(batch.bytes() + batch.size() * 16);
  // A checkpoint batch is tens of MB of fresh memory: fault it in 2 MiB pages, not 4 KiB.
  huge_pages::advise(wb.Data().data(), wb.Data().capacity());
  std::string k;
  for (size_t i = 0; i < batch.size(); ++i) {
    StateBatch::OpView op = batch.op(i);
    k.assign(op.ns);
    k.push_back('\0');
    switch (op.kind) {
      case StateBatch::OpKind::kPut:
        k.append(op.key);
        SW_RETURN_IF_ERROR(from_rocks(wb.Put(k, rocksdb::Slice(op.value.data(), op.value.size())),
                                      "batching put"));
        break;
      case StateBatch::OpKind::kRemove:
        k.append(op.key);
        SW_RETURN_IF_ERROR(from_rocks(wb.Delete(k), "batching delete"));
        break;
      case StateBatch::OpKind::kRemovePrefix: {
        std::string end(op.ns);
        end.push_back('\x01');
        SW_RETURN_IF_ERROR(from_rocks(wb.DeleteRange(k, end), "batching range delete"));
        break;
      }
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync_;
  SW_RETURN_IF_ERROR(from_rocks(db_->Write(wo, &wb), "committing checkpoint"));
  if (backup_every_ms_ > 0 && !backup_dir_.empty()) maybe_snapshot();
  return Status::ok();
}

void RocksDbStateStore::schedule_snapshots(std::string dir, int64_t every_ms, int keep) {
  backup_dir_ = std::move(dir);
  backup_every_ms_ = every_ms;
  backup_keep_ = std::max(1, keep);
  last_snapshot_ms_.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now().time_since_epoch())
                              .count());
}

void RocksDbStateStore::maybe_snapshot() {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  if (now - last_snapshot_ms_.load() < backup_every_ms_) return;
  std::unique_lock<std::mutex> lock(snapshot_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another thread's commit is taking it
  last_snapshot_ms_.store(now);
  lock.unlock();
  Status s = snapshot_now();
  if (!s.is_ok()) {
    // The checkpoint itself committed: a failed snapshot is reported, not fatal.
    snapshots_failed_.fetch_add(1);
    std::fprintf(stderr, "shelfwatch state: warning: scheduled snapshot failed: %s\n",
                 s.to_string().c_str());
  }
}

Status RocksDbStateStore::snapshot_now() {
  namespace fs = std::filesystem;
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  if (backup_dir_.empty()) return Status::invalid("state.backup.dir is not set");
  std::error_code ec;
  fs::create_directories(backup_dir_, ec);
  if (ec) return Status::io("cannot create '" + backup_dir_ + "': " + ec.message());
  const int64_t wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  char name[48];
  std::snprintf(name, sizeof name, "snapshot-%013lld", static_cast<long long>(wall));
  const std::string final_dir = (fs::path(backup_dir_) / name).string();
  const std::string tmp = (fs::path(backup_dir_) / (std::string(".tmp-") + name)).string();
  fs::remove_all(tmp, ec);
  rocksdb::Checkpoint* raw = nullptr;
  SW_RETURN_IF_ERROR(from_rocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "snapshot"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: the memtable is flushed, so the snapshot is table files only.
  Status s = from_rocks(checkpoint->CreateCheckpoint(tmp, 0), "snapshot into '" + tmp + "'");
  if (s.is_ok()) s = write_backup_marker(tmp, "scheduled", path_);
  if (s.is_ok()) {
    fs::rename(tmp, final_dir, ec);
    if (ec) s = Status::io("cannot rename '" + tmp + "': " + ec.message());
  }
  if (!s.is_ok()) {
    fs::remove_all(tmp, ec);
    return s;
  }
  snapshots_taken_.fetch_add(1);
  std::vector<std::string> snaps = list_snapshots(backup_dir_);
  for (size_t i = 0; i + static_cast<size_t>(backup_keep_) < snaps.size(); ++i) {
    fs::remove_all(snaps[i], ec);
  }
  // Leftovers of snapshots interrupted by a crash.
  for (const auto& e : fs::directory_iterator(backup_dir_, ec)) {
    if (e.path().filename().string().rfind(".tmp-snapshot-", 0) == 0) fs::remove_all(e.path(), ec);
  }
  return Status::ok();
}

uint64_t RocksDbStateStore::disk_bytes() const {
  uint64_t v = 0;
  db_->GetIntProperty("rocksdb.total-sst-files-size", &v);
  return v;
}

std::string rocksdb_version() {
  return rocksdb::GetRocksVersionAsString();
}

}  // namespace sw
