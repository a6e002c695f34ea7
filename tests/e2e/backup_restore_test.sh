#!/usr/bin/env bash
# Issue 20, backups: `shelfwatch backup` taken while a run is processing, and scheduled
# snapshots (state.backup.*), restore into a state directory from which the run continues
# with outputs identical to an uninterrupted run — the outputs written before the backup plus
# those after the restore, exactly once (the file sink truncates back to the backup's
# checkpoint and the run re-emits the rest). Also: restore refuses a non-empty state
# directory without --force and one in use by a running process; an interrupted backup
# (no marker) is not restorable.
set -euo pipefail
sw=$(realpath "${1:?usage: backup_restore_test.sh path/to/shelfwatch}")
source "$(dirname "$0")/lib.sh"
e2e_workdir
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
run() { "$sw" run --quiet --set metrics.listen=off --set source.file.path=g.jsonl "$@"; }
same_outputs() {  # same_outputs <reference dir> <candidate dir> <label>
  for f in alerts forecasts scores late replenishment price-triggers; do
    cmp -s "$1/$f.jsonl" "$2/$f.jsonl" || fail "$3: $f.jsonl differs from the uninterrupted run"
  done
  diff <(sed 's/"ingest_time":"[^"]*",//' "$1/dlq.jsonl") \
    <(sed 's/"ingest_time":"[^"]*",//' "$2/dlq.jsonl") >/dev/null || fail "$3: dlq.jsonl differs"
}
reads() { "$sw" inspect --state "$1" | sed -n 's/.*"read":\([0-9]*\).*/\1/p'; }

"$sw" gen --stores 4 --skus 80 --days 90 --seed 9 --bad-rate 0.001 --out g.jsonl --quiet
total=$(wc -l < g.jsonl)
run --set state.dir=ref_st --set sinks.file.dir=ref_out >/dev/null 2>&1 || fail "reference run failed"
[[ -s ref_out/alerts.jsonl ]] || fail "the reference run wrote no alerts"

# A slow run (one record per batch, checkpoints every 20 ms, a snapshot every 300 ms keeping
# 2) that the online backup catches mid-stream.
run --set state.dir=st --set sinks.file.dir=out --set pipeline.batch_size=1 \
  --set state.checkpoint_interval_ms=20 --set state.backup.dir=snaps \
  --set state.backup.every=300ms --set state.backup.keep=2 >/dev/null 2>run.err &
pid=$!
pids+=("$pid")
wait_for 60 test -s st/CURRENT || fail "the run did not start"
# Back up as soon as the run has checkpointed outputs (not after a fixed sleep: a fast or an
# idle machine finished the 30-day input within 1.5 s).
wait_for 60 test -s out/forecasts.jsonl || fail "the run wrote no output"
kill -0 "$pid" || fail "the run ended before the backup: make the input longer"
"$sw" backup --state st --to bk >backup.out 2>&1 || fail "online backup failed: $(cat backup.out)"
kill -0 "$pid" || fail "the run ended during the backup"
# The backup held the state dir's lock? A second backup while running works too.
"$sw" backup --state st --to bk2 >/dev/null 2>&1 || fail "second online backup failed"
# restore never touches a state directory in use.
"$sw" restore --from bk --state st --force >/dev/null 2>busy.err && fail "restore replaced a live state directory"
grep -q "in use" busy.err || fail "restore into a live state directory: $(cat busy.err)"
wait "$pid" || fail "the run exited $? ($(tail -3 run.err))"
same_outputs ref_out out "the run being backed up"
! grep -q "shelfwatch state" run.err || fail "the run logged: $(grep "shelfwatch state" run.err)"

at=$(reads bk)
echo "online backup at record $at of $total"
((at > 0 && at < total)) || fail "the backup was not taken mid-stream ($at of $total)"
nsnap=$(ls -d snaps/snapshot-* | wc -l)
((nsnap == 2)) || fail "state.backup.keep=2 left $nsnap snapshots"
[[ -z $(ls -A snaps | grep -v '^snapshot-') ]] || fail "snapshot leftovers: $(ls -A snaps)"

# 1. Restore the online backup into a new state directory; the run continues on the same
#    output files (complete, so ahead of the backup) and must end identical.
"$sw" restore --from bk --state st_b >/dev/null || fail "restore failed"
cp -r out out_b
run --set state.dir=st_b --set sinks.file.dir=out_b >/dev/null 2>&1 || fail "run after restore failed"
same_outputs ref_out out_b "restored from the online backup"

# 2. Outputs cut back exactly to what the backup had committed: same result.
oldest=$(ls -d snaps/snapshot-* | head -1)
at_snap=$(reads "$oldest")
echo "oldest scheduled snapshot at record $at_snap"
((at_snap > 0)) || fail "the scheduled snapshot holds no checkpoint"
"$sw" restore --from "$oldest" --state st_s >/dev/null || fail "restore of a snapshot failed"
cp -r out out_s
run --set state.dir=st_s --set sinks.file.dir=out_s >/dev/null 2>&1 || fail "run after snapshot restore failed"
same_outputs ref_out out_s "restored from a scheduled snapshot"

# 3. --from a snapshot directory takes the newest; a non-empty state directory needs --force.
rc=0
"$sw" restore --from snaps --state st_s >/dev/null 2>refuse.err || rc=$?
[[ $rc == 1 ]] || fail "restore over a non-empty state directory: exit $rc, want 1"
grep -q -- "--force" refuse.err || fail "the refusal does not name --force: $(cat refuse.err)"
"$sw" restore --from snaps --state st_s --force >restore.out || fail "restore --force failed"
grep -q "$(ls -d snaps/snapshot-* | tail -1)" restore.out || fail "not the newest snapshot: $(cat restore.out)"
run --set state.dir=st_s --set sinks.file.dir=out_s >/dev/null 2>&1 || fail "run after the newest snapshot failed"
same_outputs ref_out out_s "restored from the newest snapshot"

# 4. A backup without its marker (interrupted) is refused; a directory that is not a state
#    directory cannot be backed up; a non-empty target is refused.
cp -r bk2 broken && rm broken/SHELFWATCH_BACKUP
"$sw" restore --from broken --state st_x >/dev/null 2>&1 && fail "restored an unmarked backup"
"$sw" backup --state out --to bk3 >/dev/null 2>&1 && fail "backed up a non-state directory"
"$sw" backup --state st --to bk2 >/dev/null 2>&1 && fail "backup into a non-empty directory"
echo "PASS: online backup at $at/$total and scheduled snapshot at $at_snap restore to identical outputs"
