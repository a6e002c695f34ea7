#include "state/backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

namespace sw {

namespace fs = std::filesystem;

namespace {

// Secondary and backup instances report warnings and errors only, on stderr.
class QuietLogger final : public rocksdb::Logger {
 public:
  QuietLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::ERROR_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[1024];
    std::vsnprintf(line, sizeof line, format, ap);
    std::fprintf(stderr, "shelfwatch backup (rocksdb): %s\n", line);
  }
};

Status fsync_path(const std::string& path, bool dir) {
  int fd = ::open(path.c_str(), dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return Status::io("cannot open '" + path + "' to sync it");
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::ok() : Status::io("cannot sync '" + path + "'");
}

// `dir` without trailing separators ("bk/" -> "bk"), so siblings are not created inside it.
std::string plain(const std::string& dir) {
  std::string p = fs::path(dir).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

bool absent_or_empty(const std::string& dir) {
  std::error_code ec;
  return !fs::exists(dir, ec) || (fs::is_directory(dir, ec) && fs::is_empty(dir, ec));
}

uint64_t dir_bytes(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) bytes += e.file_size(ec);
  }
  return bytes;
}

// The one meta record every checkpoint writes ("task" namespace, key "meta").
const std::string& meta_key() {
  static const std::string k = std::string("task") + '\0' + "meta";
  return k;
}

// One attempt: secondary open + catch-up + copy into a new database at `to`.
Status copy_once(const std::string& state_dir, const std::string& to, const std::string& scratch,
                 uint64_t& keys) {
  rocksdb::Options sopt;
  sopt.max_open_files = -1;  // every table file opened up front: the primary may delete them
  sopt.info_log = std::make_shared<QuietLogger>();
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenAsSecondary(sopt, state_dir, scratch, &raw);
  if (!s.ok()) return Status::io("opening '" + state_dir + "' for backup: " + s.ToString());
  std::unique_ptr<rocksdb::DB> src(raw);
  s = src->TryCatchUpWithPrimary();
  if (!s.ok()) return Status::io("catching up with '" + state_dir + "': " + s.ToString());

  rocksdb::Options dopt;
  dopt.create_if_missing = true;
  dopt.error_if_exists = true;
  dopt.info_log = std::make_shared<QuietLogger>();
  dopt.compression = rocksdb::kNoCompression;
  dopt.bottommost_compression = rocksdb::kLZ4Compression;
  raw = nullptr;
  s = rocksdb::DB::Open(dopt, to, &raw);
  if (!s.ok()) return Status::io("creating the backup database in '" + to + "': " + s.ToString());
  std::unique_ptr<rocksdb::DB> dst(raw);
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;  // flushed and synced below; a failed backup is discarded anyway
  rocksdb::WriteBatch batch;
  bool has_meta = false;
  keys = 0;
  {
    // One iterator = one view: the secondary's state after the catch-up, a commit boundary.
    std::unique_ptr<rocksdb::Iterator> it(src->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key() == rocksdb::Slice(meta_key())) has_meta = true;
      s = batch.Put(it->key(), it->value());
      if (s.ok() && batch.GetDataSize() >= (4u << 20)) {
        s = dst->Write(wo, &batch);
        batch.Clear();
      }
      if (!s.ok()) return Status::io("writing the backup in '" + to + "': " + s.ToString());
      ++keys;
    }
    if (!it->status().ok()) {
      return Status::io("reading '" + state_dir + "' for backup: " + it->status().ToString());
    }
  }
  if (batch.Count() > 0) s = dst->Write(wo, &batch);
  if (s.ok()) s = dst->Flush(rocksdb::FlushOptions());
  if (s.ok()) s = dst->SyncWAL();
  if (s.ok()) s = dst->Close();
  if (!s.ok()) return Status::io("writing the backup in '" + to + "': " + s.ToString());
  if (!has_meta) {
    return Status::not_found("state directory '" + state_dir +
                             "' holds no completed checkpoint yet; back it up after the first "
                             "checkpoint (state.checkpoint_interval_ms)");
  }
  return Status::ok();
}

Status copy_tree_files(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return Status::io("cannot create '" + to + "': " + ec.message());
  for (const auto& e : fs::directory_iterator(from, ec)) {
    const std::string name = e.path().filename().string();
    if (name == kBackupMarker || name == "LOCK" || name.rfind("LOG", 0) == 0) continue;
    if (!e.is_regular_file(ec)) continue;
    const std::string dst = (fs::path(to) / name).string();
    fs::copy_file(e.path(), dst, fs::copy_options::overwrite_existing, ec);
    if (ec)
      return Status::io("cannot copy '" + e.path().string() + "' to '" + dst +
                        "': " + ec.message());
    SW_RETURN_IF_ERROR(fsync_path(dst, false));
  }
  if (ec) return Status::io("cannot list '" + from + "': " + ec.message());
  return fsync_path(to, true);
}

}  // namespace

Status write_backup_marker(const std::string& dir, const std::string& kind,
                           const std::string& source_dir) {
  const std::string path = (fs::path(dir) / kBackupMarker).string();
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return Status::io("cannot write '" + path + "'");
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  std::string src = fs::absolute(source_dir).lexically_normal().string();
  std::string escaped;
  for (char c : src) {
    if (c == '"' || c == '\\') escaped.push_back('\\');
    escaped.push_back(c);
  }
  std::fprintf(f, "{\"kind\":\"%s\",\"source\":\"%s\",\"created_ms\":%lld,\"format\":1}\n",
               kind.c_str(), escaped.c_str(), static_cast<long long>(now));
  bool ok = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  ok &= std::fclose(f) == 0;
  if (!ok) return Status::io("cannot write '" + path + "'");
  return fsync_path(dir, true);
}

Result<BackupResult> backup_state(const std::string& state_dir, const std::string& to_arg) {
  const std::string to = plain(to_arg);
  std::error_code ec;
  if (!fs::exists(fs::path(state_dir) / "CURRENT", ec)) {
    return Status::not_found("'" + state_dir +
                             "' is not a state directory (no CURRENT file); pass the run's "
                             "state.dir");
  }
  if (!absent_or_empty(to)) {
    return Status::invalid("backup directory '" + to +
                           "' is not empty; choose a new or empty directory");
  }
  const std::string scratch = to + ".secondary-scratch";
  Status last = Status::ok();
  BackupResult result;
  result.dir = to;
  for (int attempt = 0; attempt < 5; ++attempt) {
    fs::remove_all(to, ec);
    fs::remove_all(scratch, ec);
    fs::create_directories(to, ec);
    fs::create_directories(scratch, ec);
    if (ec) return Status::io("cannot create '" + scratch + "': " + ec.message());
    last = copy_once(state_dir, to, scratch, result.keys);
    fs::remove_all(scratch, ec);
    if (last.is_ok() || last.code() == Status::Code::kNotFound) break;
    // The primary deleted or rotated a file while the secondary read it: try again.
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * (attempt + 1)));
  }
  if (!last.is_ok()) {
    fs::remove_all(to, ec);
    return last;
  }
  SW_RETURN_IF_ERROR(write_backup_marker(to, "online", state_dir));
  result.bytes = dir_bytes(to);
  return result;
}

std::vector<std::string> list_snapshots(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("snapshot-", 0) == 0 && fs::exists(e.path() / kBackupMarker, ec)) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::string> resolve_backup(const std::string& from) {
  std::error_code ec;
  if (fs::exists(fs::path(from) / kBackupMarker, ec)) return from;
  std::vector<std::string> snaps = list_snapshots(from);
  if (!snaps.empty()) return snaps.back();
  return Status::not_found("'" + from + "' is neither a backup (no " + kBackupMarker +
                           " file: an interrupted backup is not restorable) nor a directory of "
                           "scheduled snapshots (state.backup.dir)");
}

Result<std::string> restore_state(const std::string& from, const std::string& state_dir_arg,
                                  bool force) {
  const std::string state_dir = plain(state_dir_arg);
  auto src = resolve_backup(from);
  if (!src.is_ok()) return src.status();
  std::error_code ec;
  if (!fs::exists(fs::path(src.value()) / "CURRENT", ec)) {
    return Status::corruption("backup '" + src.value() + "' has no CURRENT file; it is damaged");
  }
  const bool occupied = !absent_or_empty(state_dir);
  if (occupied && !force) {
    return Status::invalid("state directory '" + state_dir +
                           "' is not empty; pass --force to replace its contents (they are "
                           "deleted), or restore into a new directory");
  }
  if (occupied) {
    // Never pull the files from under a running process.
    rocksdb::FileLock* lock = nullptr;
    const std::string lock_path = (fs::path(state_dir) / "LOCK").string();
    if (fs::exists(lock_path, ec)) {
      rocksdb::Status s = rocksdb::Env::Default()->LockFile(lock_path, &lock);
      if (!s.ok()) {
        return Status::unavailable("state directory '" + state_dir +
                                   "' is in use by a running process (" + s.ToString() +
                                   "); stop it first");
      }
      rocksdb::Env::Default()->UnlockFile(lock).PermitUncheckedError();
    }
  }
  const std::string tmp = state_dir + ".restore-tmp";
  fs::remove_all(tmp, ec);
  Status copied = copy_tree_files(src.value(), tmp);
  if (!copied.is_ok()) {
    fs::remove_all(tmp, ec);
    return copied;
  }
  if (fs::exists(state_dir, ec)) {
    fs::remove_all(state_dir, ec);
    if (ec) return Status::io("cannot clear '" + state_dir + "': " + ec.message());
  }
  fs::rename(tmp, state_dir, ec);
  if (ec) return Status::io("cannot move '" + tmp + "' to '" + state_dir + "': " + ec.message());
  fs::path parent = fs::absolute(state_dir).parent_path();
  SW_RETURN_IF_ERROR(fsync_path(parent.string(), true));
  return src.value();
}

}  // namespace sw
