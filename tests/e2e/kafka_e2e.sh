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
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
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
for _ in $(seq 400); do [[ -s broker.out ]] && break; sleep 0.05; done
bs=$(head -1 broker.out)
[[ -n $bs ]] || { echo "FAIL: broker did not start"; cat broker.log; exit 1; }
echo "broker: $bs"

"$sw" gen --stores 8 --skus 40 --days 25 --seed 5 --bad-rate 0.002 --quiet --out events.jsonl
# Everything into partition 0 in file order (partitions 1-3 stay empty), so the Kafka run sees
# exactly the file's order.
# Batches of 20 messages let the kill test fetch the input in small steps (see below).
kcat -P -b "$bs" -t in -p 0 -X enable.idempotence=true -X batch.num.messages=20 -X linger.ms=5 \
  -l events.jsonl
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
metrics:
  listen: "off"
operators:
  low_stock: {enabled: true}
YAML
}

if "$sw" validate --config <(config probe probe) 2>&1 | grep "not built into this binary" > /dev/null; then
  echo "SKIP: this shelfwatch binary has no Kafka source/sink wired in"
  exit 77
fi

dump() {  # dump <run name> <dir>: per stream, "partition TAB offset TAB key TAB headers TAB value"
  mkdir -p "$2"
  for s in "${streams[@]}"; do
    kcat -C -b "$bs" -t "$1.$s" -e -q -f '%p\t%o\t%k\t%h\t%s\n' > "$2/$s.tsv" 2> /dev/null || true
  done
}

same_topics() {  # same_topics <dir a> <dir b> <label>
  # Every output record once: per partition, the same sequence of record identities (key,
  # ce_id, sw_origin, sw_seq, ce_type, ce_time) as the reference. Values are compared too; a
  # value-only difference is reported (it means an operator's restored state is not
  # bit-identical, not a lost or duplicated record) and fails only with STRICT_VALUES=1.
  python3 - "$1" "$2" "$3" << 'PY'
import os, re, sys, collections
a, b, label = sys.argv[1:4]
streams = ["alerts", "forecasts", "price-triggers", "replenishment", "dlq", "late", "scores"]
total, value_diffs, first = 0, 0, None
for s in streams:
    def load(d):
        parts = collections.defaultdict(list)
        for line in open(f"{d}/{s}.tsv", encoding="utf-8", errors="replace"):
            p, o, k, h, v = line.rstrip("\n").split("\t", 4)
            hd = dict(kv.split("=", 1) for kv in h.split(",") if "=" in kv)
            ident = (k, hd.get("ce_id"), hd.get("sw_origin"), hd.get("sw_seq"), hd.get("ce_type"),
                     hd.get("ce_time") if s != "dlq" else "")  # a dead letter's time is its ingest time
            if s == "dlq":
                v = re.sub(r'"ingest_time":"[^"]*",', "", v)
            parts[p].append((ident, v))
        return parts
    pa, pb = load(a), load(b)
    for p in sorted(set(pa) | set(pb)):
        x, y = pa.get(p, []), pb.get(p, [])
        xi, yi = [r[0] for r in x], [r[0] for r in y]
        if xi != yi:
            i = next((i for i in range(min(len(xi), len(yi))) if xi[i] != yi[i]), min(len(xi), len(yi)))
            print(f"FAIL ({label}): {s} partition {p}: {len(x)} vs {len(y)} records, first difference at {i}")
            print("  ref:", xi[i] if i < len(xi) else None)
            print("  got:", yi[i] if i < len(yi) else None)
            sys.exit(1)
        for r, q in zip(x, y):
            if r[1] != q[1]:
                value_diffs += 1
                first = first or (s, p, r, q)
        total += len(x)
print(f"{label}: {total} output records, each exactly once, same order per partition")
if value_diffs:
    s, p, r, q = first
    print(f"WARNING ({label}): {value_diffs} records differ in value only (operator state after restore);"
          f" first: {s} partition {p} key {r[0][0]} id {r[0][1]}")
    for i, (c1, c2) in enumerate(zip(r[1], q[1])):
        if c1 != c2:
            print("  ref: ..." + r[1][max(0, i - 60):i + 40])
            print("  got: ..." + q[1][max(0, i - 60):i + 40])
            break
    if os.environ.get("STRICT_VALUES") == "1":
        sys.exit(1)
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
    --set sinks.file.dir=file/out --set operators.low_stock.enabled=true --set metrics.listen=off \
    > file.log 2>&1 \
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
    recs = [l.rstrip("\n").split("\t", 4) for l in open(f"{kdir}/{s}.tsv", encoding="utf-8")]
    kafka_values = [r[4] for r in recs]
    if collections.Counter(kafka_values) != collections.Counter(file_lines):
        print(f"FAIL: {s}: Kafka has {len(kafka_values)} records, the file {len(file_lines)}; sets differ")
        sys.exit(1)
    # Per key, the Kafka order (one key lives on one partition) must follow the file order.
    where = collections.defaultdict(collections.deque)
    for i, v in enumerate(file_lines):
        where[v].append(i)
    by_key = collections.defaultdict(list)
    for p, o, k, h, v in sorted(recs, key=lambda r: (int(r[0]), int(r[1]))):
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
kafka_dlq = [json.loads(l.rstrip("\n").split("\t", 4)[4]) for l in open(f"{kdir}/dlq.tsv", encoding="utf-8")]
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
  # From here on the broker answers every request 3 ms late and each fetch returns one
  # 20-message input batch, so a run spends seconds fetching, processing, checkpointing
  # (every ~1 ms: synced RocksDB commit, outbox) and producing, and random kills land in all
  # of it. None of this may change any output (checked first, uninterrupted).
  echo "rtt 1 3" >&7
  slow=(--quiet --set state.checkpoint_interval_ms=1 --set pipeline.batch_size=${KILL_BATCH:-32}
        --set source.kafka.properties.max.partition.fetch.bytes=1)
  config kafka slow/state > slow.yaml
  start=$(date +%s%N)
  "$sw" run --config slow.yaml "${slow[@]}" > slow.log 2>&1 || { cat slow.log; echo "FAIL: slow run"; exit 1; }
  slow_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  dump kafka slow/out
  same_topics ref/out slow/out "3 ms broker RTT, 1 input batch per fetch, 1 ms checkpoints (${slow_ms} ms)"
  # Ten kill -9 at random instants, restarting after each: each run is killed after a random
  # share of a tenth of the uninterrupted run's duration (so the ten together cover about half
  # of it on average and all ten land even when a loaded machine makes the restarts faster
  # or slower than the reference run), landing in start-up, recovery (outbox read-back),
  # processing, checkpoints and deliveries. A run that finishes before its kill is simply restarted (restarting a
  # finished pipeline emits nothing).
  RANDOM=${SEED:-3131}
  kills=10 crashed=0 attempts=0 mid=0 progress=""
  final=$(wc -l < ref/out/alerts.tsv)
  config crash crash/state > crash.yaml
  while [[ $crashed -lt $kills && $attempts -lt 30 ]]; do
    attempts=$((attempts + 1))
    delay_ms=$(( 100 + RANDOM % (slow_ms / 10 + 1) ))
    set +e
    ( exec 2> /dev/null; kill_after "$delay_ms" \
      "$sw" run --config crash.yaml "${slow[@]}" > crash.log 2>&1 ) 2> /dev/null
    rc=$?
    set -e
    if [[ $rc -ne 0 && $rc -ne 137 ]]; then cat crash.log; echo "FAIL: run exited $rc"; exit 1; fi
    [[ $rc -eq 137 ]] || continue
    crashed=$((crashed + 1))
    delivered=$(kcat -C -b "$bs" -t crash.alerts -e -q -f '%o\n' 2> /dev/null | wc -l)
    [[ $delivered -lt $final ]] && mid=$((mid + 1))
    progress+=" $delivered"
  done
  "$sw" run --config crash.yaml "${slow[@]}" > crash.log 2>&1 || { cat crash.log; echo "FAIL: final run"; exit 1; }
  echo "killed ${crashed} runs with kill -9 (${mid} before all output was out); alerts delivered after each kill:${progress}"
  [[ $crashed -eq $kills ]] || { echo "FAIL: only ${crashed} kills in ${attempts} runs"; exit 1; }
  [[ $mid -ge 5 ]] || { echo "FAIL: too few kills landed before the output was complete"; exit 1; }
  dump crash crash/out
  same_topics ref/out crash/out "kill -9 x${crashed}"
  echo "PASS: no output lost or duplicated across ${crashed} kills"
  ;;
faults)
  run_ref
  config fault fault/state > fault.yaml
  # The next 6 fetch and 6 produce requests fail; then broker 1 (the only one) goes down for
  # 3 s in the middle of the run. A 3 ms broker RTT with one input batch per fetch and
  # frequent checkpoints keep the run busy (fetching and producing, ~5 s) when the outage
  # starts; the run must wait it out and finish.
  echo "rtt 1 3" >&7
  fetch_errors=${FETCH_ERRORS:-6} produce_errors=${PRODUCE_ERRORS:-6} outage=${OUTAGE:-1}
  [[ $fetch_errors -gt 0 ]] && echo "errors fetch $fetch_errors" >&7
  [[ $produce_errors -gt 0 ]] && echo "errors produce $produce_errors" >&7
  start=$(date +%s%N)
  "$sw" run --config fault.yaml --quiet --set state.checkpoint_interval_ms=1 \
    --set pipeline.batch_size=32 --set source.kafka.properties.max.partition.fetch.bytes=1 \
    > fault.log 2>&1 &
  run_pid=$!
  if [[ $outage -eq 1 ]]; then
    sleep 1
    echo "down 1" >&7
    sleep 3
    echo "up 1" >&7
  fi
  wait $run_pid || { cat fault.log; echo "FAIL: run under faults exited non-zero"; exit 1; }
  run_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  { [[ $fetch_errors -eq 0 ]] || grep -q "fetch requests fail" broker.log; } &&
    { [[ $produce_errors -eq 0 ]] || grep -q "produce requests fail" broker.log; } &&
    { [[ $outage -eq 0 ]] || grep -q "broker 1 down" broker.log; } ||
    { cat broker.log; echo "FAIL: faults were not injected"; exit 1; }
  echo "run under faults: ${run_ms} ms, $(grep -c 'Connection refused' fault.log || true) refused connections logged"
  [[ $outage -eq 0 || $run_ms -ge 4000 ]] || { echo "FAIL: the run ended before the outage ended; it did not exercise it"; exit 1; }
  dump fault fault/out
  same_topics ref/out fault/out "broker faults"
  echo "PASS: fetch/produce errors and a 3 s broker outage: nothing lost or duplicated"
  ;;
*)
  echo "unknown part $part"
  exit 2
  ;;
esac
