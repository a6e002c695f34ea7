#pragma once
// Backups of a state directory (README "Operations: backups").
//
// Why a backup is consistent with shelfwatch's checkpoint: a checkpoint (operator state, key
// index, dedup window, source positions, the sinks' committed output lengths and sequence
// numbers, the task's meta record) is ONE RocksDB WriteBatch with a synced WAL. Every state of
// the database between two commits is therefore exactly one complete checkpoint, the same
// state a restart after kill -9 would recover — which the crash tests already prove resumes
// with identical outputs. A backup only has to capture the database at one commit boundary.
//
// - backup_state() (`shelfwatch backup`) works on a running or stopped process without
//   touching it: RocksDB allows one writer process, so it opens the directory as a read-only
//   *secondary* instance (its own info files live in a scratch directory), catches up with
//   the primary's MANIFEST and WAL (a WriteBatch is one WAL record, replayed whole or not at
//   all), and copies every key of that one view into a new database, then checks it opens and
//   holds the task's meta record.
// - Scheduled snapshots (RocksDbOptions::backup_*) are taken by the running process itself
//   with rocksdb::Checkpoint right after a commit, serialised with commits: hard links to the
//   immutable table files plus the flushed memtable, cheap and at a commit boundary.
// - restore_state() copies a backup into an absent or empty state directory (or, with
//   `force`, replaces a non-empty one), through a temporary sibling directory renamed into
//   place, so a failed restore leaves no half-written state directory.
//
// Each backup directory holds the RocksDB files and a `SHELFWATCH_BACKUP` marker (JSON: kind,
// source directory, creation time), which restore requires and does not copy.

#include <cstdint>
#include <string>
#include <vector>

#include "stream/status.h"

namespace sw {

inline constexpr const char* kBackupMarker = "SHELFWATCH_BACKUP";

struct BackupResult {
  std::string dir;
  uint64_t keys = 0;
  uint64_t bytes = 0;
};

//! Copies the state directory's current checkpoint into `to`, which must be absent or empty.
//! Retries the catch-up a few times when the primary deletes a file mid-read. Errors name the
//! path and the fix; a failure leaves `to` without a marker (not restorable).
Result<BackupResult> backup_state(const std::string& state_dir, const std::string& to);

//! `from` itself when it holds a backup marker, else its newest `snapshot-*` child holding one
//! (the scheduled snapshots' directory).
Result<std::string> resolve_backup(const std::string& from);

//! Copies the backup `from` (see resolve_backup) into `state_dir`. A non-empty `state_dir` is
//! refused unless `force`, which deletes its contents. Returns the backup directory used.
Result<std::string> restore_state(const std::string& from, const std::string& state_dir,
                                  bool force);

//! Lists `dir`'s `snapshot-*` children holding a marker, oldest first (names sort by time).
std::vector<std::string> list_snapshots(const std::string& dir);

//! Writes the marker file into `dir` (fsynced).
Status write_backup_marker(const std::string& dir, const std::string& kind,
                           const std::string& source_dir);

}  // namespace sw
