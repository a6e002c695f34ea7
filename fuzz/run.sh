#!/usr/bin/env bash
# Runs the libFuzzer targets (built by `make fuzz` in BUILD/fuzz/).
#   fuzz/run.sh BUILD SECONDS [TARGET...]   every target (or those named) for SECONDS each
#   fuzz/run.sh BUILD merge [TARGET...]     minimises what the runs found into fuzz/corpus
# A run first replays fuzz/regressions/<target>-* (inputs that once crashed), then fuzzes
# from the corpus kept in the repository, fuzz/corpus/<target>/ (read only: new inputs go to
# the scratch directory fuzz-corpus-<target>/, which `merge` folds back with -merge=1).
# Prints libFuzzer's final execution count per target; exits non-zero on any crash, leak,
# timeout or out-of-memory (the input is saved as fuzz-artifacts/<kind>-<sha1>).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
secs=${2:-60}
shift $(($# < 2 ? $# : 2))
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(decoder config timestamp csv http_path)
# UBSan is built in recover mode; halt so that libFuzzer sees undefined behaviour as a crash.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
mkdir -p fuzz-artifacts
status=0
total=0
for t in "${targets[@]}"; do
  bin=$build/fuzz/fuzz_$t
  corpus=fuzz/corpus/$t
  scratch=fuzz-corpus-$t
  mkdir -p "$scratch"
  dict=()
  [[ -f fuzz/dicts/$t.dict ]] && dict=(-dict="fuzz/dicts/$t.dict")
  # Bounded memory per input: an allocation above 64 MB or a process above 1 GB is a crash.
  limits=(-max_len=4096 -rss_limit_mb=1024 -malloc_limit_mb=64 -timeout=10)
  if [[ $secs == merge ]]; then
    rm -rf "$corpus.new" && mkdir -p "$corpus.new"
    "$bin" -merge=1 "${limits[@]}" "$corpus.new" "$corpus" "$scratch" > "fuzz-artifacts/$t.merge.log" 2>&1
    rm -rf "$corpus" && mv "$corpus.new" "$corpus"
    echo "fuzz_$t: corpus minimised to $(ls "$corpus" | wc -l) files, $(du -sk "$corpus" | cut -f1) KB"
    continue
  fi
  regressions=(fuzz/regressions/$t-*)
  if [[ -e ${regressions[0]} ]]; then
    if ! "$bin" "${limits[@]}" "${regressions[@]}" > "fuzz-artifacts/$t.regressions.log" 2>&1; then
      echo "fuzz_$t: a regression input fails again:" >&2
      tail -30 "fuzz-artifacts/$t.regressions.log" >&2
      status=1
      continue
    fi
  fi
  log=fuzz-artifacts/$t.log
  rc=0
  "$bin" -max_total_time="$secs" -print_final_stats=1 "${limits[@]}" "${dict[@]}" \
    -artifact_prefix=fuzz-artifacts/ "$scratch" "$corpus" > "$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  echo "fuzz_$t: ${execs:-?} executions in ${secs}s, peak RSS ${rss:-?} MB, corpus $(ls "$corpus" | wc -l) + $(ls "$scratch" | wc -l) new"
  total=$((total + ${execs:-0}))
  if [[ $rc -ne 0 ]]; then
    echo "fuzz_$t: FAILED (exit $rc):" >&2
    grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" >&2 || tail -30 "$log" >&2
    status=1
  fi
done
[[ $secs == merge ]] || echo "fuzz: $total executions in total"
exit $status
