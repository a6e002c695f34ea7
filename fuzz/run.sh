#!/usr/bin/env bash
# Runs every fuzz target for N seconds from a seed corpus (examples + generated lines).
set -euo pipefail
build=${1:-build-fuzz}
secs=${2:-60}
for t in fuzz_decoder fuzz_config; do
  corpus=fuzz-corpus-$t
  mkdir -p "$corpus"
  if [[ $t == fuzz_decoder && -z "$(ls -A "$corpus")" ]]; then
    i=0
    while IFS= read -r line && (( i < 200 )); do
      printf '%s' "$line" > "$corpus/seed$i"; i=$((i+1))
    done < <(grep -h '' fuzz/seeds/events.jsonl)
  fi
  if [[ $t == fuzz_config && -z "$(ls -A "$corpus")" ]]; then
    cp examples/*.yaml "$corpus/"
  fi
  echo "fuzzing $t for ${secs}s"
  dict=()
  [[ -f fuzz/dicts/${t#fuzz_}.dict ]] && dict=(-dict="fuzz/dicts/${t#fuzz_}.dict")
  # Bounded memory per input: an allocation above 64 MB or a process above 1 GB is a crash.
  "$build/fuzz/$t" -max_total_time="$secs" -max_len=4096 -print_final_stats=1 \
    -rss_limit_mb=1024 -malloc_limit_mb=64 "${dict[@]}" "$corpus" 2>&1 |
    grep -E "stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY" || true
done
