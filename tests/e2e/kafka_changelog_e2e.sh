#!/usr/bin/env bash
# State changelog (issue 17, docs/changelog.md), through the real binary, `shelfwatch broker`
# (librdkafka's mock cluster over TCP) and kcat. One generated stream, keyed by store|sku onto
# a 4-partition topic, consumed with `mode: assign`, `stop_at_end`, `start_from: committed`
# (so that a run whose state directory is gone and that does not restore resumes from the
# group's committed offsets with empty state: the silent reset the changelog prevents).
# Reference: one uninterrupted run. Every other run is killed (SIGKILL, through the test hook
# SHELFWATCH_CHANGELOG_TEST_KILL=<commit>:after|mid, which fires inside the n-th state commit:
# after its changelog marker, or mid-way through producing its records), then restarted.
#   deleted   killed after checkpoint 3, state directory deleted, restarted: the log says it
#             restored from the changelog; the output files equal the reference byte for byte.
#             `inspect` shows the changelog's last complete checkpoint = the local one, no lag;
#             deleted again and restarted live: while it restores (held by the test hook
#             SHELFWATCH_CHANGELOG_TEST_RESTORE_PAUSE_MS) /healthz is 200, /readyz 503 "restoring
#             state from the changelog" and /metrics has the live restore progress; then /readyz
#             200, /metrics exports the restore figures and the 4 owned input partitions.
#             Control: the same with the changelog switched off on the restart
#             (--reset-outputs, as the file sink requires) resumes from the group's committed
#             offsets with empty state and must differ from the reference.
#   kill      killed mid-checkpoint 3 (a partial checkpoint in the changelog), restarted on the
#             intact state directory (the log says it republished the state), killed again
#             mid-checkpoint 2, state directory deleted, restarted (restored; the partial
#             checkpoint's keys republished): output files equal the reference byte for byte.
#   sink      Kafka sink (exactly-once) instead of files: killed after checkpoint 3, state
#             deleted, killed mid-checkpoint 3 of the restored run, deleted again, restarted:
#             every output topic partition holds the reference run's records, in order, once.
set -euo pipefail
sw=${1:?usage: kafka_changelog_e2e.sh path/to/shelfwatch deleted|kill|sink}
part=${2:?usage: kafka_changelog_e2e.sh path/to/shelfwatch deleted|kill|sink}
command -v kcat > /dev/null || { echo "SKIP: kcat not installed"; exit 77; }
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
work=$(mktemp -d)
broker=""
cleanup() {
  [[ -n $broker ]] && kill "$broker" 2> /dev/null && wait "$broker" 2> /dev/null
  [[ -n ${KEEP:-} ]] || rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
echo "work dir: $work"

"$sw" broker --port 0 --partitions 4 --topics events > broker.out 2> broker.log &
broker=$!
for _ in $(seq 400); do [[ -s broker.out ]] && break; sleep 0.05; done
bs=$(head -1 broker.out)
[[ -n $bs ]] || { echo "FAIL: broker did not start"; cat broker.log; exit 1; }

"$sw" gen --stores "${STORES:-8}" --skus "${SKUS:-30}" --days "${DAYS:-20}" --seed 17 \
  --bad-rate 0.001 --quiet --out events.jsonl
python3 - << 'PY'
import json
with open("events.jsonl", encoding="utf-8", errors="surrogateescape") as f, \
     open("keyed.tsv", "w", encoding="utf-8", errors="surrogateescape") as k:
    for line in f:
        line = line.rstrip("\n")
        try:
            d = json.loads(line)
            key = f'{d.get("store") or d.get("series") or ""}|{d.get("sku") or ""}'
        except Exception:
            key = "bad|"
        if "\t" in key or "\t" in line:
            key = "bad|"
        k.write(f"{key}\t{line}\n")
PY
kcat -P -b "$bs" -t events -K $'\t' -X batch.num.messages=200 -X linger.ms=5 -l keyed.tsv
echo "input: $(wc -l < events.jsonl) events on 4 partitions"

config() {  # config <name> [kafka]: state in <name>/state, group and app <name>; outputs in
  # <name>/out, or with `kafka` in topics <name>.<stream> (Kafka sink, exactly-once)
  cat << YAML
source:
  kind: kafka
  kafka:
    topics: [events]
    mode: assign
    stop_at_end: true
    start_from: committed
    group_id: "$1"
    properties: {fetch.wait.max.ms: 5}
kafka:
  brokers: "$bs"
state:
  dir: $1/state
  checkpoint_interval_ms: 20
  changelog:
    enabled: true
    application: "$1"
metrics:
  listen: "off"
operators:
  anomaly: {emit_scores: true}
YAML
  if [[ ${2:-} == kafka ]]; then
    printf 'sinks:\n  file: {dir: ""}\n  kafka:\n    enabled: true\n    topics:\n'
    for s in alerts forecasts price-triggers replenishment scores dlq late; do echo "      $s: $1.$s"; done
  else
    printf 'sinks:\n  file: {dir: "%s/out"}\n' "$1"
  fi
}

run() {  # run <name> <expected exit> [args...]: log appended to <name>.log
  local name=$1 want=$2 rc=0
  shift 2
  [[ -f $name.yaml ]] || config "$name" > "$name.yaml"
  echo "--- run $*" >> "$name.log"
  "$sw" run --config "$name.yaml" --quiet "$@" >> "$name.log" 2>&1 || rc=$?
  if [[ $rc != "$want" ]]; then
    cat "$name.log"
    echo "FAIL: run $name exited $rc, expected $want"
    exit 1
  fi
}

same() {  # same <dir a> <dir b>: every output file byte-identical (dead letters and late
  # records without their ingest_time, the wall clock at which the record was read)
  local f g bad=0
  for f in "$1"/*.jsonl; do
    g=$2/$(basename "$f")
    if [[ $f == */dlq.jsonl || $f == */late.jsonl ]]; then
      cmp -s <(sed 's/"ingest_time":"[^"]*"//' "$f") <(sed 's/"ingest_time":"[^"]*"//' "$g")
    else
      cmp -s "$f" "$g"
    fi || { echo "  differs: $(basename "$f") ($(wc -l < "$f") vs $(wc -l < "$g") lines)"; bad=1; }
  done
  return $bad
}

expect_log() {  # expect_log <name> <pattern>
  grep -q "$2" "$1.log" || { cat "$1.log"; echo "FAIL: $1: log lacks '$2'"; exit 1; }
}

run ref 0 --set state.changelog.enabled=false
echo "reference: $(wc -l < ref/out/alerts.jsonl) alerts, $(wc -l < ref/out/forecasts.jsonl) forecasts"

case $part in
  deleted)
    SHELFWATCH_CHANGELOG_TEST_KILL=3:after run a 137
    same a/out ref/out > /dev/null && { echo "FAIL: the kill landed after the end of the outputs"; exit 1; }
    rm -rf a/state
    run a 0
    expect_log a "restored from the changelog"
    same a/out ref/out || { echo "FAIL: state deleted, restored from the changelog: outputs differ"; exit 1; }
    echo "deleted: restored from the changelog, outputs equal the reference"
    # inspect: the changelog's last complete checkpoint is the local one, nothing after it.
    "$sw" inspect --state a/state --config a.yaml 2> /dev/null > inspect.json
    python3 - << 'PY' || { cat inspect.json; echo "FAIL: inspect"; exit 1; }
import json
c = json.load(open("inspect.json"))["changelog"]
assert c["last_complete_checkpoint"] == c["local_checkpoint"]["id"], c
assert not c["local_checkpoint"]["dirty"] and c["lag_records"] == 0, c
assert any(t["namespace"] == "sink/file" and t["records"] > 0 for t in c["topics"]), c
assert c["output_high_water_marks"]["alerts.jsonl"] > 0, c
PY
    # Control: without the restore, the same loss is a silent reset (outputs differ).
    # (Killed later than a: the source commits its group offsets asynchronously after each
    # checkpoint, and the control must resume from them.)
    SHELFWATCH_CHANGELOG_TEST_KILL=6:after run b 137
    rm -rf b/state
    run b 0 --set state.changelog.enabled=false --reset-outputs
    read_b=$(grep -o 'events read [0-9]*' b.log | tail -1 | grep -o '[0-9]*')
    ((read_b < $(wc -l < events.jsonl))) || { cat b.log; echo "FAIL: control did not resume from the committed offsets"; exit 1; }
    if same b/out ref/out > /dev/null; then
      echo "FAIL: control: without the changelog the deleted-state run equals the reference"
      exit 1
    fi
    echo "control: without the changelog the deleted-state run differs from the reference"
    # /metrics while live (last: it adds events to the topic): state deleted again, a live
    # run (no stop_at_end) restores; its restore figures are exported and /readyz turns 200. During the restore (held 1.5 s by
    # the test hook SHELFWATCH_CHANGELOG_TEST_RESTORE_PAUSE_MS, after reading the changelog)
    # the server already answers: /healthz 200, /readyz 503 "restoring state from the
    # changelog" with progress, /metrics the live restore gauges. Polled every 50 ms: 503
    # seen at least once before the first 200.
    rm -rf a/state
    port=$(free_port)
    SHELFWATCH_CHANGELOG_TEST_RESTORE_PAUSE_MS=1500 \
      "$sw" run --config a.yaml --quiet --set source.kafka.stop_at_end=false \
      --set metrics.listen=127.0.0.1:$port >> a.log 2>&1 &
    live=$!
    restoring=0
    for _ in $(seq 1200); do
      code=$(curl -s -o readyz.txt -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)
      [[ $code == 200 ]] && break
      if [[ $code == 503 ]] && grep -q "restoring state from the changelog" readyz.txt; then
        if ((restoring == 0)); then
          restoring=1
          cp readyz.txt readyz-restoring.txt
          curl -s -o healthz.txt -w '%{http_code}\n' "http://127.0.0.1:$port/healthz" > healthz.code || true
        fi
        # The first 503 can come before the first records are applied (progress moves every
        # 1024 records): keep scraping until a scrape taken while restoring shows progress.
        if ! grep -qE '^shelfwatch_changelog_restore_records [1-9]' metrics-restoring.txt 2> /dev/null; then
          curl -sf "http://127.0.0.1:$port/metrics" > metrics-restoring.txt || true
        fi
      fi
      sleep 0.05
    done
    [[ $code == 200 ]] || { kill $live; cat a.log; echo "FAIL: never ready"; exit 1; }
    ((restoring == 1)) || { kill $live; cat a.log; echo "FAIL: /readyz never answered 503 'restoring state from the changelog' before 200"; exit 1; }
    echo "during the restore: /readyz $(cat readyz-restoring.txt)"
    [[ $(cat healthz.code) == 200 ]] || { kill $live; echo "FAIL: /healthz answered $(cat healthz.code) during the restore"; exit 1; }
    grep -E '^shelfwatch_changelog_restoring 1' metrics-restoring.txt > /dev/null &&
      grep -E '^shelfwatch_changelog_restore_records [1-9]' metrics-restoring.txt > /dev/null ||
      { kill $live; grep changelog metrics-restoring.txt || true; echo "FAIL: /metrics lacks the live restore progress"; exit 1; }
    # Ready: the partitions it owns (mode assign: all 4 of the topic), exported with the
    # source's probe at the next processed batch (a few more events).
    tail -50 keyed.tsv | kcat -P -b "$bs" -t events -K $'\t'
    wait_for 30 bash -c "curl -sf http://127.0.0.1:$port/metrics | grep -c '^shelfwatch_source_partition_owned{.*} 1' | grep -qx 4" ||
      { kill $live; curl -s "http://127.0.0.1:$port/metrics" | grep partition_owned || true; echo "FAIL: /metrics does not show the 4 owned partitions"; exit 1; }
    curl -sf "http://127.0.0.1:$port/metrics" > metrics.txt
    kill -TERM $live
    wait $live || true
    grep -E '^shelfwatch_changelog_restoring 0' metrics.txt > /dev/null ||
      { grep changelog metrics.txt || true; echo "FAIL: still restoring once ready"; exit 1; }
    grep -E '^shelfwatch_changelog_restore_records [1-9]' metrics.txt > /dev/null &&
      grep -E '^shelfwatch_changelog_restore_bytes [1-9]' metrics.txt > /dev/null &&
      grep -E '^shelfwatch_changelog_restore_seconds ' metrics.txt > /dev/null &&
      grep -E '^shelfwatch_changelog_lag_records ' metrics.txt > /dev/null &&
      grep -E '^shelfwatch_changelog_starts_total\{how="restored"\} 1' metrics.txt > /dev/null ||
      { grep changelog metrics.txt; echo "FAIL: /metrics lacks the restore figures"; exit 1; }
    echo "inspect and /metrics show the changelog and the restore"
    ;;
  kill)
    SHELFWATCH_CHANGELOG_TEST_KILL=3:mid run c 137
    expect_log c "killed mid-checkpoint"
    SHELFWATCH_CHANGELOG_TEST_KILL=2:mid run c 137
    expect_log c "records republished"
    rm -rf c/state
    run c 0
    expect_log c "restored from the changelog"
    grep "restored from the changelog" c.log
    same c/out ref/out || { echo "FAIL: kill -9 mid-checkpoint, state deleted: outputs differ"; exit 1; }
    echo "kill: killed mid-checkpoint twice, state deleted, restored: outputs equal the reference"
    ;;
  sink)
    # Kafka sink, exactly-once: its outbox and fences are state too, restored with the rest.
    dumpk() {  # dumpk <name>: every output record per topic and partition, in offset order
      local s
      for s in alerts forecasts price-triggers replenishment scores dlq; do
        kcat -C -b "$bs" -t "$1.$s" -e -q -f "$s %p %s\n" 2> /dev/null |
          sed 's/"ingest_time":"[^"]*"//' | sort -s -k1,2
      done
    }
    # Without anomaly scores: with them and their CloudEvents headers a 4-partition output
    # topic outgrows the development broker's ~5 MB per partition (it drops the oldest).
    config kref kafka | sed 's/emit_scores: true/emit_scores: false/' > kref.yaml
    run kref 0 --set state.changelog.enabled=false
    dumpk kref > kref.txt
    [[ -s kref.txt ]] || { echo "FAIL: the reference run delivered nothing"; exit 1; }
    config k kafka | sed 's/emit_scores: true/emit_scores: false/' > k.yaml
    SHELFWATCH_CHANGELOG_TEST_KILL=3:after run k 137
    dumpk k > k-killed.txt
    (($(wc -l < k-killed.txt) < $(wc -l < kref.txt))) || { echo "FAIL: the kill landed after the end of the outputs"; exit 1; }
    rm -rf k/state
    SHELFWATCH_CHANGELOG_TEST_KILL=3:mid run k 137
    expect_log k "restored from the changelog"
    rm -rf k/state
    run k 0
    dumpk k > k.txt
    cmp -s kref.txt k.txt || { diff kref.txt k.txt | head -5; echo "FAIL: Kafka sink outputs differ after restores"; exit 1; }
    echo "sink: Kafka sink outputs equal the reference (per topic partition, in order): $(wc -l < k.txt) records"
    ;;
  *)
    echo "unknown part $part"
    exit 2
    ;;
esac
echo PASS
