#!/usr/bin/env bash
# Kafka end to end, through the real binary, `shelfwatch broker` (librdkafka's mock cluster,
# over TCP) and kcat:
#   equivalence  Kafka in / Kafka out gives the same outputs as the file pipeline on the same
#                input (same set, same order per key); malformed records reach the DLQ topic
#                with their topic/partition/offset.
#   kill         kill -9 at 10 random instants with restarts: the output topics equal those of
#                an uninterrupted run, record for record (nothing lost, nothing duplicated).
#   faults       fetch errors, produce errors and a broker down for 3 s during a run: same
#                output topics as the uninterrupted run.
# Exits 77 (skipped) when the binary was built without the Kafka connectors wired in.
set -euo pipefail
sw=${1:?usage: kafka_e2e.sh path/to/shelfwatch equivalence|kill|faults}
part=${2:?usage: kafka_e2e.sh path/to/shelfwatch equivalence|kill|faults}
command -v kcat > /dev/null || { echo "SKIP: kcat not installed"; exit 77; }
work=$(mktemp -d)
broker_pid=
cleanup() {
  [[ -n $broker_pid ]] && kill "$broker_pid" 2> /dev/null && wait "$broker_pid" 2> /dev/null
  [[ -n ${KEEP:-} ]] || rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
echo "work dir: $work"

streams=(alerts forecasts price-triggers replenishment dlq late scores)
topics="in"
for run in ref crash fault kafka; do
  for s in "${streams[@]}"; do topics+=",$run.$s"; done
done

# The broker reads fault commands from a FIFO kept open on fd 7.
mkfifo control
"$sw" broker --port 0 --partitions 4 --topics "$topics" --control < control > broker.out 2> broker.log &
broker_pid=$!
exec 7> control
for _ in $(seq 100); do [[ -s broker.out ]] && break; sleep 0.05; done
bs=$(head -1 broker.out)
[[ -n $bs ]] || { echo "FAIL: broker did not start"; cat broker.log; exit 1; }
echo "broker: $bs"

"$sw" gen --stores 12 --skus 50 --days 30 --seed 5 --bad-rate 0.002 --quiet --out events.jsonl
# Everything into partition 0 in file order (partitions 1-3 stay empty), so the Kafka run sees
# exactly the file's order.
kcat -P -b "$bs" -t in -p 0 -X enable.idempotence=true -l events.jsonl
kcat -C -b "$bs" -t in -e -q -f '%p\t%o\t%s\n' > input.tsv
echo "input: $(wc -l < events.jsonl) lines, $(wc -l < input.tsv) messages"

config() {  # config <run name> <state dir>
  cat << YAML
source:
  kind: kafka
  kafka:
    topics: [in]
    mode: assign
    stop_at_end: true
    properties: {fetch.wait.max.ms: 5}
kafka:
  brokers: "$bs"
  properties: {reconnect.backoff.max.ms: 500}
sinks:
  file: {dir: ""}
  kafka:
    enabled: true
    topics:
YAML
  for s in "${streams[@]}"; do echo "      $s: $1.$s"; done
  cat << YAML
state:
  dir: $2
operators:
  low_stock: {enabled: true}
YAML
}

if "$sw" validate --config <(config probe probe) 2>&1 | grep -q "not built into this binary"; then
  echo "SKIP: this shelfwatch binary has no Kafka source/sink wired in"
  exit 77
fi

dump() {  # dump <run name> <dir>: one file per stream, "partition TAB offset TAB key TAB value"
  mkdir -p "$2"
  for s in "${streams[@]}"; do
    kcat -C -b "$bs" -t "$1.$s" -e -q -f '%p\t%o\t%k\t%s\n' > "$2/$s.tsv" 2> /dev/null || true
  done
}

same_topics() {  # same_topics <dir a> <dir b> <label>: identical per-partition sequences
  python3 - "$1" "$2" "$3" << 'PY'
import json, re, sys, collections
a, b, label = sys.argv[1:4]
streams = ["alerts", "forecasts", "price-triggers", "replenishment", "dlq", "late", "scores"]
total = 0
for s in streams:
    def load(d):
        parts = collections.defaultdict(list)
        for line in open(f"{d}/{s}.tsv", encoding="utf-8", errors="replace"):
            p, o, k, v = line.rstrip("\n").split("\t", 3)
            if s == "dlq":
                v = re.sub(r'"ingest_time":"[^"]*",', "", v)
            parts[p].append((k, v))
        return parts
    pa, pb = load(a), load(b)
    for p in sorted(set(pa) | set(pb)):
        if pa.get(p, []) != pb.get(p, []):
            x, y = pa.get(p, []), pb.get(p, [])
            i = next((i for i in range(min(len(x), len(y))) if x[i] != y[i]), min(len(x), len(y)))
            print(f"FAIL ({label}): {s} partition {p}: {len(x)} vs {len(y)} records, first difference at {i}")
            print("  ref:", x[i] if i < len(x) else None)
            print("  got:", y[i] if i < len(y) else None)
            sys.exit(1)
        total += len(pa.get(p, []))
print(f"{label}: {total} output records identical, partition by partition")
PY
}

run_ref() {
  config ref ref/state > ref.yaml
  local start=$(date +%s%N)
  "$sw" run --config ref.yaml --quiet > ref.log 2>&1 || { cat ref.log; echo "FAIL: reference run"; exit 1; }
  ref_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  dump ref ref/out
  local alerts=$(wc -l < ref/out/alerts.tsv)
  echo "reference Kafka run: ${ref_ms} ms, ${alerts} alerts, $(wc -l < ref/out/dlq.tsv) dead letters"
  [[ $alerts -gt 0 ]] || { echo "FAIL: reference run produced no alerts"; exit 1; }
}

case $part in
equivalence)
  run_ref
  "$sw" run --quiet --set source.file.path=events.jsonl --set state.dir=file/state \
    --set sinks.file.dir=file/out --set operators.low_stock.enabled=true > file.log 2>&1 \
    || { cat file.log; echo "FAIL: file run"; exit 1; }
  python3 - ref/out file/out input.tsv << 'PY'
import json, sys, collections
kdir, fdir, input_tsv = sys.argv[1:4]
names = {"alerts": "alerts", "forecasts": "forecasts", "price-triggers": "price-triggers",
         "replenishment": "replenishment"}
for s in names:
    try:
        file_lines = [l.rstrip("\n") for l in open(f"{fdir}/{s}.jsonl", encoding="utf-8")]
    except FileNotFoundError:
        file_lines = []
    recs = [l.rstrip("\n").split("\t", 3) for l in open(f"{kdir}/{s}.tsv", encoding="utf-8")]
    kafka_values = [r[3] for r in recs]
    if collections.Counter(kafka_values) != collections.Counter(file_lines):
        print(f"FAIL: {s}: Kafka has {len(kafka_values)} records, the file {len(file_lines)}; sets differ")
        sys.exit(1)
    # Per key, the Kafka order (one key lives on one partition) must follow the file order.
    where = collections.defaultdict(collections.deque)
    for i, v in enumerate(file_lines):
        where[v].append(i)
    by_key = collections.defaultdict(list)
    for p, o, k, v in sorted(recs, key=lambda r: (int(r[0]), int(r[1]))):
        by_key[k].append(where[v].popleft())
    for k, idx in by_key.items():
        if idx != sorted(idx):
            print(f"FAIL: {s}: key {k} is out of order on Kafka")
            sys.exit(1)
    print(f"{s}: {len(kafka_values)} records, same set and per-key order as the file pipeline ({len(by_key)} keys)")
# Dead letters: every malformed input message is on the DLQ topic with its position.
inputs = {}
for line in open(input_tsv, encoding="utf-8", errors="surrogateescape"):
    p, o, v = line.rstrip("\n").split("\t", 2)
    inputs[(int(p), int(o))] = v
file_dlq = [json.loads(l) for l in open(f"{fdir}/dlq.jsonl", encoding="utf-8")]
kafka_dlq = [json.loads(l.rstrip("\n").split("\t", 3)[3]) for l in open(f"{kdir}/dlq.tsv", encoding="utf-8")]
if len(kafka_dlq) != len(file_dlq) or not kafka_dlq:
    print(f"FAIL: dlq: Kafka {len(kafka_dlq)} vs file {len(file_dlq)} dead letters")
    sys.exit(1)
for d in kafka_dlq:
    if d["source"] != "in" or (d["partition"], d["offset"]) not in inputs:
        print("FAIL: dlq record without a valid position:", d)
        sys.exit(1)
    if inputs[(d["partition"], d["offset"])] != d["payload"]:
        print("FAIL: dlq payload differs from the input message at its offset:", d)
        sys.exit(1)
if sorted((d["error"], d["payload"]) for d in kafka_dlq) != sorted((d["error"], d["payload"]) for d in file_dlq):
    print("FAIL: dlq error codes/payloads differ from the file pipeline's")
    sys.exit(1)
print(f"dlq: {len(kafka_dlq)} dead letters, each with topic/partition/offset of its input message")
PY
  echo "PASS: Kafka in/out equals the file pipeline"
  ;;
kill)
  run_ref
  RANDOM=${SEED:-3131}
  kills=10 crashed=0
  for ((i = 1; i <= kills; i++)); do
    delay_ms=$(( 50 + RANDOM % (2 * ref_ms / kills + 1) ))
    config crash crash/state > crash.yaml
    set +e
    ( timeout -s KILL "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))" \
      "$sw" run --config crash.yaml --quiet --set state.checkpoint_interval_ms=50 \
      > crash.log 2>&1 ) 2> /dev/null
    rc=$?
    set -e
    if [[ $rc -eq 137 ]]; then crashed=$((crashed + 1)); fi
    if [[ $rc -ne 0 && $rc -ne 137 ]]; then cat crash.log; echo "FAIL: run exited $rc"; exit 1; fi
    [[ $rc -eq 0 ]] && break  # finished before the kill: nothing left to interrupt
  done
  if [[ $rc -ne 0 ]]; then
    "$sw" run --config crash.yaml --quiet --set state.checkpoint_interval_ms=50 > crash.log 2>&1 \
      || { cat crash.log; echo "FAIL: final run"; exit 1; }
  fi
  echo "killed ${crashed} runs with kill -9 mid-flight"
  [[ $crashed -ge 8 ]] || { echo "FAIL: too few runs were actually killed"; exit 1; }
  dump crash crash/out
  same_topics ref/out crash/out "kill -9 x${crashed}"
  echo "PASS: no output lost or duplicated across ${crashed} kills"
  ;;
faults)
  run_ref
  config fault fault/state > fault.yaml
  echo "errors fetch 6" >&7
  echo "errors produce 6" >&7
  "$sw" run --config fault.yaml --quiet > fault.log 2>&1 &
  run_pid=$!
  sleep 0.3
  echo "down 1" >&7
  sleep 3
  echo "up 1" >&7
  wait $run_pid || { cat fault.log; echo "FAIL: run under faults exited non-zero"; exit 1; }
  grep -c "next 6" broker.log > /dev/null || { echo "FAIL: faults were not injected"; exit 1; }
  dump fault fault/out
  same_topics ref/out fault/out "broker faults"
  echo "PASS: fetch/produce errors and a 3 s broker outage: nothing lost or duplicated"
  ;;
*)
  echo "unknown part $part"
  exit 2
  ;;
esac
