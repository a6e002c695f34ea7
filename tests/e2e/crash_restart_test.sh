#!/usr/bin/env bash
# Exactly-once and determinism end to end, through the real binary, RocksDB and files:
#  1. a reference run of a generated stream;
#  2. the same stream with `kill -9` at N random instants, restarting each time, must leave
#     byte-identical output files (dlq.jsonl compared without its wall-clock ingest_time);
#  3. runs with other batch sizes and checkpoint intervals must give identical outputs too.
set -euo pipefail
sw=${1:?usage: crash_restart_test.sh path/to/shelfwatch [kills] [days]}
kills=${2:-20}
days=${3:-40}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
work=$(mktemp -d)
trap '[[ -n ${KEEP:-} ]] || rm -rf "$work"' EXIT
cd "$work"; echo "work dir: $work"

"$sw" gen --stores 20 --skus 150 --days "$days" --seed 11 --bad-rate 0.002 --quiet --out events.jsonl
common=(--set source.file.path=events.jsonl --set metrics.listen=off --quiet)

normalize() {  # strips the wall-clock field of dead letters
  local dir=$1
  for f in "$dir"/*.jsonl; do
    if [[ $(basename "$f") == dlq.jsonl ]]; then
      sed -E 's/"ingest_time":"[^"]*",//' "$f" > "$f.norm"
    else
      cp "$f" "$f.norm"
    fi
  done
}

compare() {  # compare <reference dir> <candidate dir> <label>
  normalize "$1"
  normalize "$2"
  for f in "$1"/*.jsonl.norm; do
    if ! cmp -s "$f" "$2/$(basename "$f")"; then
      echo "FAIL ($3): $(basename "$f" .norm) differs"
      diff <(head -c 2000000 "$f") <(head -c 2000000 "$2/$(basename "$f")") | head -5
      exit 1
    fi
  done
}

start=$(date +%s%N)
"$sw" run "${common[@]}" --set state.dir=ref/state --set sinks.file.dir=ref/out 2>/dev/null
ref_ms=$(( ($(date +%s%N) - start) / 1000000 ))
alerts=$(wc -l < ref/out/alerts.jsonl)
echo "reference run: ${ref_ms} ms, $(wc -l < events.jsonl) records, ${alerts} alert lines"
[[ $alerts -gt 0 ]] || { echo "FAIL: reference run produced no alerts"; exit 1; }

# 2. kill -9 at random instants. Frequent checkpoints so kills land between, during and
# after them; the seed makes the schedule reproducible.
RANDOM=4242
crashed=0
exec 3>&2 2>/dev/null  # silence the shell's "Killed" job notices
for ((i = 1; i <= kills; i++)); do
  # Spread the kills over the run: each restart only processes what is left.
  delay_ms=$(( 30 + RANDOM % (2 * ref_ms / kills + 1) ))
  set +e
  ( kill_after "$delay_ms" \
    "$sw" run "${common[@]}" --set state.dir=crash/state --set sinks.file.dir=crash/out \
    --set state.checkpoint_interval_ms=30 >/dev/null 2>kill.log ) 2>/dev/null
  rc=$?
  set -e
  if [[ $rc -eq 137 ]]; then crashed=$((crashed + 1)); fi
  if [[ $rc -ne 0 && $rc -ne 137 ]]; then exec 2>&3; echo "FAIL: run exited $rc"; cat kill.log; exit 1; fi
done
exec 2>&3 3>&-
"$sw" run "${common[@]}" --set state.dir=crash/state --set sinks.file.dir=crash/out \
  --set state.checkpoint_interval_ms=30 >/dev/null 2>&1
echo "killed ${crashed} of ${kills} runs mid-flight (${SECONDS} s into the test)"
[[ $crashed -ge $((kills * 3 / 4)) ]] || { echo "FAIL: too few runs were actually killed"; exit 1; }
compare ref/out crash/out "kill -9 x${kills}"

# 3. batch sizes and checkpoint intervals.
for variant in "1 5" "7 200" "65536 100000"; do
  read -r batch interval <<< "$variant"
  d="v_${batch}_${interval}"
  "$sw" run "${common[@]}" --set state.dir="$d/state" --set sinks.file.dir="$d/out" \
    --set pipeline.batch_size="$batch" --set state.checkpoint_interval_ms="$interval" >/dev/null 2>&1
  compare ref/out "$d/out" "batch ${batch}, checkpoint ${interval} ms"
  echo "batch ${batch}, checkpoint ${interval} ms: identical (${SECONDS} s into the test)"
done
echo "PASS: outputs byte-identical across ${kills} kills and 3 batch/checkpoint variants"
