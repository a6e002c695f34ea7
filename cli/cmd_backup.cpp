// `shelfwatch backup` and `shelfwatch restore` (state/backup.h has the design).

#include <cstdio>

#include "cli/commands.h"
#include "state/backup.h"

namespace sw::cli {

namespace {

const char* const kBackupHelp =
    "usage: shelfwatch backup --state DIR --to DIR\n\n"
    "Copies the last complete checkpoint of a state directory into a new backup directory\n"
    "(absent or empty), while `shelfwatch run` keeps processing or after it stopped. The\n"
    "running process is not paused or contacted: the state is read through a read-only\n"
    "RocksDB secondary instance at one commit boundary, which is one whole checkpoint\n"
    "(state, source positions and output sequence numbers together). Exit 0 on success,\n"
    "1 when the backup failed (the directory is then not restorable), 2 on usage errors.\n\n"
    "example:\n"
    "  shelfwatch backup --state /var/lib/shelfwatch/state --to /backup/sw-2026-12-07\n";

const char* const kRestoreHelp =
    "usage: shelfwatch restore --from DIR --state DIR [--force]\n\n"
    "Copies a backup (from `shelfwatch backup`, or a directory of scheduled snapshots\n"
    "`state.backup.dir`, whose newest snapshot is used) into a state directory. A non-empty\n"
    "state directory is refused unless --force (its contents are then deleted); a directory\n"
    "in use by a running process is always refused. The next `shelfwatch run` on it resumes\n"
    "from the backup's checkpoint: the file sink truncates its outputs back to what that\n"
    "checkpoint committed and the run re-emits the rest exactly once.\n\n"
    "example:\n"
    "  shelfwatch restore --from /backup/sw-2026-12-07 --state /var/lib/shelfwatch/state "
    "--force\n";

}  // namespace

int backup_command(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kBackupHelp, stdout);
    return 0;
  }
  std::string state_dir, to;
  if (!value_of(args, "--state", state_dir) || !value_of(args, "--to", to)) {
    std::fputs(kBackupHelp, stderr);
    return 2;
  }
  auto r = backup_state(state_dir, to);
  if (!r.is_ok()) {
    std::fprintf(stderr, "shelfwatch backup: %s\n", r.status().to_string().c_str());
    return 1;
  }
  std::printf("backup of '%s' written to '%s': %llu keys, %llu bytes\n", state_dir.c_str(),
              r.value().dir.c_str(), static_cast<unsigned long long>(r.value().keys),
              static_cast<unsigned long long>(r.value().bytes));
  return 0;
}

int restore_command(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kRestoreHelp, stdout);
    return 0;
  }
  std::string from, state_dir;
  if (!value_of(args, "--from", from) || !value_of(args, "--state", state_dir)) {
    std::fputs(kRestoreHelp, stderr);
    return 2;
  }
  bool force = false;
  for (const auto& a : args) force |= a == "--force";
  auto r = restore_state(from, state_dir, force);
  if (!r.is_ok()) {
    std::fprintf(stderr, "shelfwatch restore: %s\n", r.status().to_string().c_str());
    return 1;
  }
  std::printf("restored '%s' into '%s'\n", r.value().c_str(), state_dir.c_str());
  return 0;
}

}  // namespace sw::cli
