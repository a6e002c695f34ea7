#!/usr/bin/env bash
# Issue 21: hostile but fair inputs must not take the processor down or lose data silently.
# usage: robustness_test.sh SHELFWATCH PART   (PART: record_size | state_dir | file_identity | poison_timestamp | machine_faults | corrupt_state |
#        config; the slow HTTP client check is tests/connectors/metrics_server_test.cpp)
set -euo pipefail
bin=$(realpath "$1")
part=$2
source "$(dirname "$0")/lib.sh"
e2e_workdir
cd "$work"
fail() {
  echo "FAIL [$part]: $*" >&2
  exit 1
}
run() { "$bin" run --quiet --set metrics.listen=off "$@"; }

case "$part" in
record_size)
  # A 300 MB line is streamed past, not buffered: dead-lettered too_large with its true length
  # and a bounded prefix while the process's peak RSS stays far below the line's size. Lines of
  # random bytes give dead-letter records that a strict JSON reader (Python's json) parses.
  python3 - "$bin" <<'PY' || exit 1
import json, os, random, resource, subprocess, sys
bin = sys.argv[1]
big = 300_000_000
p = subprocess.Popen([bin, "run", "--quiet", "--set", "metrics.listen=off",
                      "--set", "source.file.path=-", "--set", "state.dir=st",
                      "--set", "sinks.file.dir=out"],
                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
ok = b'{"type":"sale","store":"S1","sku":"A","qty":1,"ts":"2026-11-25T10:00:00Z"}\n'
p.stdin.write(ok)
chunk = b"x" * (1 << 20)
left = big
while left > 0:
    n = min(left, len(chunk))
    p.stdin.write(chunk[:n])
    left -= n
p.stdin.write(b"\n")
rnd = random.Random(21)
for i in range(200):
    line = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300))).replace(b"\n", b" ")
    p.stdin.write(line + b"\n")
# Invalid UTF-8 inside an otherwise well-formed record, and a well-formed multibyte one.
p.stdin.write(b'{"type":"sale","store":"S\xff\xfe","sku":"\xc3\x28","qty":1}\n')
p.stdin.write(b'{"type":"sale","store":"S\xc3\xa9","qty":1}\n')
p.stdin.write(ok)
p.stdin.close()
rc = p.wait()
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"exit {rc}, peak RSS {peak_mb:.0f} MB")
if rc != 0:
    sys.exit(f"run exited {rc}")
if peak_mb > 150:
    sys.exit(f"peak RSS {peak_mb:.0f} MB for a 300 MB line: the line was buffered")
lines = open("out/dlq.jsonl", "rb").read().splitlines()
recs = []
for raw in lines:
    try:
        recs.append(json.loads(raw.decode("utf-8")))
    except Exception as e:
        sys.exit(f"dlq line is not strict JSON ({e}): {raw[:120]!r}")
big_recs = [r for r in recs if r["error"] == "too_large"]
if len(big_recs) != 1:
    sys.exit(f"expected one too_large record, got {len(big_recs)}")
r = big_recs[0]
if r.get("bytes") != big:
    sys.exit(f"too_large bytes = {r.get('bytes')}, want {big}")
if len(r["payload"]) > 1024 or not r["payload"].startswith("xxxx"):
    sys.exit(f"too_large payload is not a bounded prefix ({len(r['payload'])} chars)")
if r["offset"] != len(ok) or r["line"] != 2:
    sys.exit(f"too_large position offset={r['offset']} line={r['line']}")
if os.path.getsize("out/dlq.jsonl") > 1_000_000:
    sys.exit("dlq.jsonl holds more than bounded prefixes")
if len(recs) < 203:
    sys.exit(f"expected at least 203 dead-letter records, got {len(recs)}")
print(f"ok: {len(recs)} dlq records parse as strict JSON; too_large bytes={r['bytes']}")
PY
  ;;
state_dir)
  # A damaged or lost state directory must never lead to silently emptied outputs.
  "$bin" gen --stores 2 --skus 20 --days 20 --seed 3 --bad-rate 0.01 --out ev.jsonl >/dev/null
  cfg=(--set source.file.path=ev.jsonl --set state.dir=st --set sinks.file.dir=out
    --set operators.forecast.enabled=true)
  run "${cfg[@]}" >/dev/null || fail "first run failed"
  [[ -s out/dlq.jsonl && -s out/alerts.jsonl ]] || fail "first run wrote no outputs"
  snapshot() { find st out -type f | sort | xargs sha256sum; }
  # 1. CURRENT deleted: exit 1 naming the path, directory and outputs untouched, twice.
  rm st/CURRENT
  before=$(snapshot)
  for attempt in 1 2; do
    rc=0
    run "${cfg[@]}" >/dev/null 2>err.txt || rc=$?
    [[ $rc == 1 ]] || fail "missing CURRENT: attempt $attempt exit $rc, want 1 ($(cat err.txt))"
    grep -q "state directory 'st'.*CURRENT" err.txt || fail "message does not name the problem: $(cat err.txt)"
    [[ "$(snapshot)" == "$before" ]] || fail "missing CURRENT: attempt $attempt changed the state or outputs"
  done
  # 2. A non-empty directory that is not a state directory is never initialised.
  mkdir junk && echo "notes" >junk/README
  rc=0
  run "${cfg[@]}" --set state.dir=junk >/dev/null 2>err.txt || rc=$?
  [[ $rc == 1 ]] || fail "foreign directory: exit $rc, want 1"
  [[ "$(ls junk)" == README ]] || fail "foreign directory was written to: $(ls junk)"
  # 3. Lost state + non-empty outputs: refused, outputs untouched; --reset-outputs proceeds and
  #    reproduces the first run's outputs.
  rm -rf st
  outs=$(find out -type f | sort | xargs sha256sum)
  rc=0
  run "${cfg[@]}" >/dev/null 2>err.txt || rc=$?
  [[ $rc == 1 ]] || fail "fresh state with non-empty outputs: exit $rc, want 1 ($(cat err.txt))"
  grep -q -- "--reset-outputs" err.txt || fail "refusal does not name --reset-outputs: $(cat err.txt)"
  [[ "$(find out -type f | sort | xargs sha256sum)" == "$outs" ]] || fail "refusal changed the outputs"
  rm -rf st
  run "${cfg[@]}" --reset-outputs >/dev/null || fail "--reset-outputs run failed"
  strip() { sed 's/"ingest_time":"[^"]*",//' "$1" | sha256sum; }
  [[ $(sha256sum <out/alerts.jsonl) == $(echo "$outs" | awk '/alerts.jsonl/{print $1"  -"}') ]] ||
    fail "--reset-outputs did not reproduce alerts.jsonl"
  # 4. A start that stopped while RocksDB created the database (LOCK, no CURRENT, no data)
  #    is not damage: it starts empty.
  mkdir -p st2 && : >st2/LOCK && : >st2/IDENTITY
  run "${cfg[@]}" --set state.dir=st2 --set sinks.file.dir=out2 >/dev/null || fail "interrupted creation refused"
  ;;
file_identity)
  # The checkpointed position belongs to a file: a different file at the path is read from its
  # beginning, the same content (even copied to a new inode) resumes, stdin ignores it.
  "$bin" gen --stores 1 --skus 5 --days 3 --seed 1 --out a.jsonl >/dev/null
  "$bin" gen --stores 1 --skus 5 --days 4 --seed 2 --out b.jsonl >/dev/null
  na=$(wc -l <a.jsonl)
  nb=$(wc -l <b.jsonl)
  reads() { sed -n 's/.*events read \([0-9]*\) .*/\1/p' "$1" | tail -1; }
  cfg=(--set source.file.path=in.jsonl --set state.dir=st --set sinks.file.dir=out)
  cp a.jsonl in.jsonl
  run "${cfg[@]}" >/dev/null 2>log1 || fail "run on a failed"
  [[ $(reads log1) == "$na" ]] || fail "first run read $(reads log1), want $na"
  rm in.jsonl && cp b.jsonl in.jsonl
  run "${cfg[@]}" >/dev/null 2>log2 || fail "run on b failed"
  [[ $(reads log2) == $((na + nb)) ]] ||
    fail "different file: total read $(reads log2), want $((na + nb)) (b read from its start)"
  grep -q "not the file the checkpoint was taken on" log2 || fail "different file not logged"
  cp in.jsonl copy.jsonl && mv copy.jsonl in.jsonl  # same bytes, new inode
  run "${cfg[@]}" >/dev/null 2>log3 || fail "run on a copy of b failed"
  [[ $(reads log3) == $((na + nb)) ]] || fail "same content at a new inode: read $(reads log3), want $((na + nb))"
  # stdin with a persistent state directory: each run reads its own stdin from the start.
  run --set source.file.path=- --set state.dir=st2 --set sinks.file.dir=out2 <a.jsonl >/dev/null 2>log4 ||
    fail "stdin run 1 failed"
  run --set source.file.path=- --set state.dir=st2 --set sinks.file.dir=out2 <b.jsonl >/dev/null 2>log5 ||
    fail "stdin run 2 failed"
  [[ $(reads log5) == $((na + nb)) ]] || fail "stdin: second run read $(reads log5) in total, want $((na + nb))"
  grep -q "is ignored" log5 || fail "stdin: ignored position not logged"
  # Follow mode: rotation and truncation through the whole pipeline.
  head -n 100 a.jsonl >live.jsonl
  "$bin" run --quiet --set metrics.listen=off --set source.file.path=live.jsonl \
    --set source.file.follow=true --set state.dir=st3 --set sinks.file.dir=out3 \
    --set state.checkpoint_interval_ms=50 >/dev/null 2>log6 &
  pid=$!
  pids+=("$pid")
  sleep 1
  mv live.jsonl live.jsonl.1
  sed -n '101,150p' a.jsonl >>live.jsonl.1
  sed -n '151,250p' a.jsonl >live.jsonl
  sleep 1
  : >live.jsonl && sleep 0.5
  sed -n '251,300p' a.jsonl >>live.jsonl
  sleep 1
  kill -TERM "$pid"
  wait "$pid" || fail "follow run exited $?"
  [[ $(reads log6) == 300 ]] || fail "follow: read $(reads log6), want 300 ($(grep shelfwatch: log6))"
  grep -q "was rotated" log6 || fail "rotation not logged"
  grep -q "was truncated" log6 || fail "truncation not logged"
  ;;
config)
  # --config must be a small regular file; duplicate keys, CR/LF in secrets and unusable
  # receiver URLs are config errors (exit 2) naming the key; URL credentials never printed.
  expect2() {
    local what=$1 words=$2
    shift 2
    local rc=0
    timeout 10 "$@" >out.txt 2>err.txt || rc=$?
    [[ $rc == 2 ]] || fail "$what: exit $rc, want 2 ($(head -c 300 err.txt))"
    grep -q -- "$words" err.txt || fail "$what: message lacks '$words': $(head -c 300 err.txt)"
  }
  expect2 "/dev/zero" "not a regular file" "$bin" validate --config /dev/zero
  expect2 "/dev/urandom" "not a regular file" "$bin" validate --config /dev/urandom
  mkdir cfgdir
  expect2 "directory" "a directory" "$bin" run --config cfgdir
  printf 'state:\n  dir: a\n  dir: b\n' >dup.yaml
  expect2 "duplicate key" "state.dir" "$bin" validate --config dup.yaml
  : >ev.jsonl
  runargs=(--set source.file.path=ev.jsonl --set state.dir= --set sinks.file.dir=o --set metrics.listen=off)
  cat >am.yaml <<'YAML'
source:
  file:
    path: ev.jsonl
sinks:
  delivery:
    endpoints:
      am:
        kind: alertmanager
        urls: [http://admin:hunter2@127.0.0.1:9093]
        bearer_token_env: SW_E2E_TOKEN
YAML
  SW_E2E_TOKEN=$'tok\r\nX-Injected: yes' expect2 "CR/LF in a secret" "bearer_token_env" \
    "$bin" run --config am.yaml "${runargs[@]}"
  SW_E2E_TOKEN=good "$bin" validate --config am.yaml >out.txt 2>&1 || fail "validate of a good config failed: $(cat out.txt)"
  grep -q hunter2 out.txt && fail "validate printed a URL password: $(grep hunter2 out.txt)"
  grep -q "http://<redacted>@127.0.0.1:9093" out.txt || fail "validate lost the URL: $(cat out.txt)"
  printf 'not a url\n' >hook
  cat >slack.yaml <<YAML
sinks:
  delivery:
    endpoints:
      s:
        kind: slack
        webhook_url_file: $work/hook
YAML
  expect2 "webhook file holding a non-URL" "webhook_url_file" "$bin" run --config slack.yaml "${runargs[@]}"
  ;;
poison_timestamp)
  # Point 1: one far-future sale (the probe's repro) or metric is dead-lettered
  # future_timestamp with a bounded peak RSS, the watermark stays in 2026, later
  # events are applied (not late); a replay whose times are legitimately in the future
  # (2031) or the past (2013) runs unchanged.
  cat > y.jsonl <<'EOF'
{"type":"sale","ts":"2026-11-25T10:00:00Z","store":"S1","sku":"A","qty":1,"unit_price":2}
{"type":"sale","ts":"9999-12-31T23:59:59Z","store":"S1","sku":"A","qty":1,"unit_price":2}
{"type":"metric","ts":"9999-12-30T00:00:00Z","series":"cpu","value":1}
{"type":"sale","ts":"2300-01-01T00:00:00Z","store":"S1","sku":"A","qty":1,"unit_price":2}
{"type":"sale","ts":"2026-11-25T11:00:00Z","store":"S1","sku":"A","qty":2,"unit_price":2}
EOF
  # Peak RSS and time are measured rather than capped (an address-space cap would also stop
  # the ASan build, which reserves terabytes of shadow memory): the old build grew to
  # gigabytes within seconds here.
  python3 - "$bin" <<'PY' || fail "run on the poison stream failed or grew"
import resource, subprocess, sys
cmd = [sys.argv[1], "run", "--quiet", "--set", "metrics.listen=off", "--set",
       "source.file.path=y.jsonl", "--set", "state.dir=st", "--set", "sinks.file.dir=out"]
rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, timeout=60).returncode
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"poison run: exit {rc}, peak RSS {peak_mb:.0f} MB")
sys.exit(0 if rc == 0 and peak_mb < 1024 else 1)
PY
  n=$(grep -c '"error":"future_timestamp"' out/dlq.jsonl || true)
  [[ $n == 3 ]] || fail "expected 3 future_timestamp dead letters, got $n"
  [[ ! -s out/late.jsonl ]] || fail "events after the poison records were late"
  "$bin" inspect --state st > inspect.json
  grep -q '9999-\|2300-' inspect.json && fail "a poison time reached the checkpoint: $(cat inspect.json)"
  for start in 2031-03-01 2013-06-01; do
    "$bin" gen --stores 2 --skus 5 --days 10 --seed 3 --start $start --out g.jsonl >/dev/null
    rm -rf st2 out2
    run --set source.file.path=g.jsonl --set state.dir=st2 --set sinks.file.dir=out2 >/dev/null ||
      fail "replay starting $start failed"
    n=$(grep -c future_timestamp out2/dlq.jsonl || true)
    [[ $n == 0 ]] || fail "replay starting $start dead-lettered $n records as future_timestamp"
    [[ -s out2/forecasts.jsonl ]] || fail "replay starting $start produced no forecasts"
  done
  ;;
machine_faults)
  # The probe's machine checks, kept as tests: a full disk, a read-only state directory and a
  # second process on the same state directory each stop the run with an error naming the
  # problem, corrupt nothing, and the next start after the fix ends with outputs identical to
  # a run that never met the fault. Small filesystems are tmpfs mounts (root only).
  [[ $(id -u) == 0 ]] || { echo "SKIP: tmpfs mounts need root"; exit 77; }
  mkdir -p probe_fs
  mount -t tmpfs -o size=1m tmpfs probe_fs 2>/dev/null || { echo "SKIP: cannot mount tmpfs"; exit 77; }
  umount probe_fs
  mounts=()
  trap 'for m in "${mounts[@]}"; do umount -l "$m" 2>/dev/null || true; done; e2e_cleanup' EXIT
  small_fs() { mkdir -p "$1" && mount -t tmpfs -o "size=$2" tmpfs "$1" && mounts+=("$1"); }
  same_outputs() {
    for f in alerts forecasts scores late replenishment price-triggers; do
      cmp -s "$1/$f.jsonl" "$2/$f.jsonl" || fail "$3: $f.jsonl differs from the reference"
    done
    diff <(sed 's/"ingest_time":"[^"]*",//' "$1/dlq.jsonl") \
      <(sed 's/"ingest_time":"[^"]*",//' "$2/dlq.jsonl") >/dev/null 2>&1 || fail "$3: dlq differs"
  }
  "$bin" gen --stores 4 --skus 80 --days 30 --seed 9 --bad-rate 0.001 --out g.jsonl >/dev/null 2>&1
  head -n 20000 g.jsonl > part1.jsonl

  # Reference: the whole stream in one run, and part 1 then the whole file (same file grown).
  run --set source.file.path=g.jsonl --set state.dir=ref_st --set sinks.file.dir=ref_out >/dev/null 2>&1
  mkdir ref2 && cp part1.jsonl ref2/in.jsonl
  (cd ref2 && exec "$bin" run --quiet --set metrics.listen=off --set source.file.path=in.jsonl \
    --set state.dir=st --set sinks.file.dir=out --set source.file.follow=true >/dev/null 2>&1) &
  ref2=$!
  wait_for 60 test -s ref2/st/CURRENT
  sleep 3
  kill -TERM $ref2 && wait $ref2 || fail "reference follow run did not stop cleanly"
  tail -n +20001 g.jsonl >> ref2/in.jsonl
  (cd ref2 && run --set source.file.path=in.jsonl --set state.dir=st --set sinks.file.dir=out \
    >/dev/null 2>&1) || fail "reference resume failed"

  # 1. Disk full: state and outputs on a 2 MB filesystem.
  small_fs full 2m
  set +e
  run --set source.file.path=g.jsonl --set state.dir=full/st --set sinks.file.dir=full/out \
    >/dev/null 2>full.err
  rc=$?
  set -e
  [[ $rc == 1 ]] || fail "disk full: exit $rc, want 1 ($(tail -2 full.err))"
  grep -qi "space" full.err || fail "disk full: the error does not say so: $(tail -2 full.err)"
  mount -o remount,size=400m full
  run --set source.file.path=g.jsonl --set state.dir=full/st --set sinks.file.dir=full/out \
    >/dev/null 2>&1 || fail "disk full: the run after the fix failed"
  same_outputs full/out ref_out "disk full"

  # 2. Read-only state directory: part 1 processed, then the filesystem turns read-only.
  small_fs ro 400m
  cp part1.jsonl ro/in.jsonl
  (cd ro && exec "$bin" run --quiet --set metrics.listen=off --set source.file.path=in.jsonl \
    --set state.dir=st --set sinks.file.dir=out --set source.file.follow=true >/dev/null 2>&1) &
  a=$!
  wait_for 60 test -s ro/st/CURRENT
  sleep 3
  kill -TERM $a && wait $a || fail "read-only: the first run did not stop cleanly"
  tail -n +20001 g.jsonl >> ro/in.jsonl
  mount -o remount,ro ro
  set +e
  (cd ro && run --set source.file.path=in.jsonl --set state.dir=st --set sinks.file.dir=out \
    >/dev/null 2>../ro.err)
  rc=$?
  set -e
  [[ $rc != 0 ]] || fail "read-only: the run succeeded on a read-only state directory"
  grep -qi "read-only" ro.err || fail "read-only: the error does not say so: $(cat ro.err)"
  mount -o remount,rw ro
  (cd ro && run --set source.file.path=in.jsonl --set state.dir=st --set sinks.file.dir=out \
    >/dev/null 2>&1) || fail "read-only: the run after the fix failed"
  # The input grew at the same point as the reference's, so the outputs must match it.
  same_outputs ro/out ref2/out "read-only"

  # 3. A second process on the same state directory is refused; the first is unharmed.
  "$bin" run --quiet --set metrics.listen=off --set source.file.path=g.jsonl \
    --set state.dir=two_st --set sinks.file.dir=two_out --set source.file.follow=true \
    >/dev/null 2>&1 &
  a=$!
  wait_for 60 test -s two_st/CURRENT
  set +e
  run --set source.file.path=g.jsonl --set state.dir=two_st --set sinks.file.dir=two_out2 \
    >/dev/null 2>two.err
  rc=$?
  set -e
  [[ $rc != 0 ]] || fail "second process: it ran on a state directory in use"
  grep -qi "lock" two.err || fail "second process: the error does not name the lock: $(cat two.err)"
  kill -0 $a || fail "second process: the first process died"
  kill -TERM $a && wait $a || fail "second process: the first did not stop cleanly"
  ;;
corrupt_state)
  # Flipped bytes in the state directory's table file: the run stops with exit 1 naming the
  # directory and the fix (restore from a backup), changes neither the outputs nor the damaged
  # files, the backup (the last good checkpoint) stays intact, and after `shelfwatch restore`
  # the run resumes with outputs identical to a run that never met the fault.
  "$bin" gen --stores 4 --skus 80 --days 30 --seed 9 --bad-rate 0.001 --out g.jsonl >/dev/null 2>&1
  head -n 20000 g.jsonl > part1.jsonl
  # Reference: part 1 in follow mode, then the whole file (the input grows at the same point).
  mkdir ref && cp part1.jsonl ref/in.jsonl
  (cd ref && exec "$bin" run --quiet --set metrics.listen=off --set source.file.path=in.jsonl \
    --set state.dir=st --set sinks.file.dir=out --set source.file.follow=true >/dev/null 2>&1) &
  r=$!
  wait_for 60 test -s ref/st/CURRENT
  sleep 3
  kill -TERM $r && wait $r || fail "reference follow run did not stop cleanly"
  cp -r ref cor
  tail -n +20001 g.jsonl >> ref/in.jsonl
  (cd ref && run --set source.file.path=in.jsonl --set state.dir=st --set sinks.file.dir=out \
    >/dev/null 2>&1) || fail "reference resume failed"
  # The copy: back up its checkpoint, then damage the state as a disk would: the backup's
  # form (table files only) restored in place, 64 bytes flipped in the middle of each table.
  (cd cor && "$bin" backup --state st --to ../bk >/dev/null) || fail "backup failed"
  (cd cor && "$bin" restore --from ../bk --state st --force >/dev/null) || fail "restore failed"
  tail -n +20001 g.jsonl >> cor/in.jsonl
  ls cor/st/*.sst >/dev/null 2>&1 || fail "no table file to damage"
  python3 - cor/st <<'PY'
import glob, os, sys
for f in glob.glob(os.path.join(sys.argv[1], "*.sst")):
    size = os.path.getsize(f)
    with open(f, "r+b") as h:
        for at in (size // 3, size // 2):
            h.seek(at)
            b = bytearray(h.read(32))
            h.seek(at)
            h.write(bytes(x ^ 0xFF for x in b))
PY
  damaged() { find cor/st -name '*.sst' | sort | xargs sha256sum; find cor/out -type f | sort | xargs sha256sum; }
  bk_sum=$(find bk -type f | sort | xargs sha256sum)
  before=$(damaged)
  for attempt in 1 2; do
    rc=0
    (cd cor && run --set source.file.path=in.jsonl --set state.dir=st --set sinks.file.dir=out \
      >/dev/null 2>../cor.err) || rc=$?
    [[ $rc == 1 ]] || fail "flipped bytes: attempt $attempt exit $rc, want 1 ($(tail -3 cor.err))"
    grep -q "state directory 'st'" cor.err || fail "the error does not name the directory: $(cat cor.err)"
    grep -q "shelfwatch restore --from" cor.err || fail "the error does not name the fix: $(cat cor.err)"
    [[ "$(damaged)" == "$before" ]] || fail "flipped bytes: attempt $attempt changed the table files or outputs"
  done
  echo "error shown: $(head -c 600 cor.err)"
  [[ "$(find bk -type f | sort | xargs sha256sum)" == "$bk_sum" ]] || fail "the backup changed"
  # The fix the message names.
  (cd cor && "$bin" restore --from ../bk --state st --force >/dev/null) || fail "restore after damage failed"
  (cd cor && run --set source.file.path=in.jsonl --set state.dir=st --set sinks.file.dir=out \
    >/dev/null 2>&1) || fail "the run after the fix failed"
  for f in alerts forecasts scores late replenishment price-triggers; do
    cmp -s "ref/out/$f.jsonl" "cor/out/$f.jsonl" || fail "after the fix: $f.jsonl differs from the reference"
  done
  diff <(sed 's/"ingest_time":"[^"]*",//' ref/out/dlq.jsonl) \
    <(sed 's/"ingest_time":"[^"]*",//' cor/out/dlq.jsonl) >/dev/null || fail "after the fix: dlq differs"
  ;;
*)
  fail "unknown part"
  ;;
esac
echo "PASS [$part]"
