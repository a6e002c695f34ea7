#!/usr/bin/env bash
# Determinism across input partitions (issue #16), through the real binary, `shelfwatch
# broker` (librdkafka's mock cluster over TCP) and kcat. One generated stream (the issue's:
# 10 stores x 100 SKUs x 20 days, seed 11, scaled by DAYS/SKUS) is produced onto topics of
# 1, 4 and 16 partitions, keyed by store|sku and unkeyed (round-robin), and consumed with
# `mode: assign`, `stop_at_end`, fresh state each run.
#   partitions  every run's alerts, forecasts, price triggers, replenishment and scores equal
#               the file pipeline's on the same input: the same multiset of byte-identical
#               JSON records, and per key (store|sku or series) the same order. (Records of
#               different keys that fall due at the same instant may come out in another
#               order: only the per-key order is an output contract, DESIGN.md §3.) The input
#               (10 stores x 40 SKUs x 20 days, so that it fits one mock partition) is
#               the generator's default, with 2 % of the events emitted late by up to 3 min
#               (duplicates and malformed records too): the task applies events in event-time
#               order (stream/event_order.h), so neither the file's disorder nor how the
#               partitions interleave it changes what the operators see.
#               Scores of the dead-letter series are left out: a record without an event time
#               counts at the stream time of its place, which depends on the partitioning.
#   fetch       two 16-partition runs with very different fetch sizes (the issue's repro:
#               before the ordered merge these differed in ~half of the alerts): identical
#               output files, line for line.
#   layouts     `mode: subscribe` (one group member), and the stream split over two topics
#               (events + a reference topic with item/price/competitor_price/promotion):
#               equal to the file pipeline as above.
#   kill        10 kill -9 at random instants (each landing before the output is complete)
#               on a 16-partition input, Kafka sink, exactly-once: the output topics read with
#               read_committed hold exactly the uninterrupted run's records (same identities
#               and values per output partition).
set -euo pipefail
sw=${1:?usage: kafka_determinism_e2e.sh path/to/shelfwatch partitions|fetch|layouts|kill}
part=${2:?usage: kafka_determinism_e2e.sh path/to/shelfwatch partitions|fetch|layouts|kill}
command -v kcat > /dev/null || { echo "SKIP: kcat not installed"; exit 77; }
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
work=$(mktemp -d)
brokers=()
cleanup() {
  for p in "${brokers[@]}"; do kill "$p" 2> /dev/null && wait "$p" 2> /dev/null; done
  [[ -n ${KEEP:-} ]] || rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
echo "work dir: $work"

streams=(alerts forecasts price-triggers replenishment scores)
out_topics=""
for run in ref slow crash; do
  for s in "${streams[@]}" dlq late; do out_topics+=",$run.$s"; done
done

start_broker() {  # start_broker <partitions> <topics>: sets $bs (fault commands: fd 7)
  rm -f "broker$1.out" "control$1"
  mkfifo "control$1"
  "$sw" broker --port 0 --partitions "$1" --topics "$2" --control < "control$1" \
    > "broker$1.out" 2> "broker$1.log" &
  brokers+=($!)
  exec 7> "control$1"
  for _ in $(seq 400); do [[ -s broker$1.out ]] && break; sleep 0.05; done
  bs=$(head -1 "broker$1.out")
  [[ -n $bs ]] || { echo "FAIL: broker did not start"; cat "broker$1.log"; exit 1; }
}

# The partitions part fits one partition of the mock cluster (~5 MB); see the header.
case $part in
  partitions) : "${SKUS:=40}" ;;
  kill) : "${SKUS:=30}" ;;
esac
"$sw" gen --stores "${STORES:-10}" --skus "${SKUS:-100}" --days "${DAYS:-20}" --seed 11 \
  --bad-rate 0.001 --disorder-rate "${DISORDER:-0.02}" --quiet --out events.jsonl
# key<TAB>value lines: keyed by store|sku (metrics by series, chain-wide records by |sku),
# as the README's walk-through produces them.
python3 - << 'PY'
import json
with open("events.jsonl", encoding="utf-8", errors="surrogateescape") as f, \
     open("keyed.tsv", "w", encoding="utf-8", errors="surrogateescape") as k, \
     open("events-only.jsonl", "w", encoding="utf-8", errors="surrogateescape") as e, \
     open("reference.tsv", "w", encoding="utf-8", errors="surrogateescape") as r:
    for line in f:
        line = line.rstrip("\n")
        try:
            d = json.loads(line)
            key = f'{d.get("store") or d.get("series") or ""}|{d.get("sku") or ""}'
            ref = isinstance(d, dict) and d.get("type") in ("item", "price", "competitor_price", "promotion") \
                and not d.get("store")
        except Exception:
            key, ref = "bad|", False
        if "\t" in key or "\t" in line:
            key = "bad|"
        k.write(f"{key}\t{line}\n")
        (r.write(f'{key}\t{line}\n') if ref else e.write(line + "\n"))
PY
echo "input: $(wc -l < events.jsonl) lines ($(wc -c < events.jsonl) bytes), $(wc -l < reference.tsv) chain-wide reference records"

produce() {  # produce <topic> keyed|unkeyed [file]: into the broker at $bs
  if [[ $2 == keyed ]]; then
    kcat -P -b "$bs" -t "$1" -K $'\t' -X batch.num.messages=200 -X linger.ms=5 -l "${3:-keyed.tsv}"
  else
    # Round-robin over the partitions, a few records at a time (kcat's default partitioner
    # would put every unkeyed message of a batch on one random partition).
    kcat -P -b "$bs" -t "$1" -X batch.num.messages=200 -X linger.ms=5 \
      -X topic.partitioner=random -l "${3:-events.jsonl}"
  fi
}

config() {  # config <topics yaml list> <state dir> <out dir>
  cat << YAML
source:
  kind: kafka
  kafka:
    topics: $1
    mode: assign
    stop_at_end: true
    properties: {fetch.wait.max.ms: 5}
kafka:
  brokers: "$bs"
sinks:
  file: {dir: "$3"}
state:
  dir: $2
metrics:
  listen: "off"
operators:
  anomaly: {emit_scores: true}
YAML
}

file_run() {
  "$sw" run --quiet --set source.file.path=events.jsonl --set state.dir=file/state \
    --set sinks.file.dir=file/out --set metrics.listen=off \
    --set operators.anomaly.emit_scores=true > file.log 2>&1 \
    || { cat file.log; echo "FAIL: file run"; exit 1; }
  echo "file pipeline: $(wc -l < file/out/alerts.jsonl) alerts, $(wc -l < file/out/forecasts.jsonl) forecasts"
}

kafka_run() {  # kafka_run <name> <topics> [--set ...]
  local name=$1 topics=$2
  shift 2
  config "$topics" "$name/state" "$name/out" > "$name.yaml"
  local start=$(date +%s%N)
  "$sw" run --config "$name.yaml" --quiet "$@" > "$name.log" 2>&1 \
    || { cat "$name.log"; echo "FAIL: run $name"; exit 1; }
  echo "run $name: $(( ($(date +%s%N) - start) / 1000000 )) ms, $(wc -l < "$name/out/alerts.jsonl") alerts"
}

same_as() {  # same_as <dir a> <dir b> <label> [exact]
  python3 - "$@" << 'PY'
import json, sys, collections
a, b, label = sys.argv[1:4]
exact = len(sys.argv) > 4
def key(v):
    try:
        d = json.loads(v)
    except Exception:
        return "?"
    return d.get("series") or f'{d.get("store", "")}|{d.get("sku", "")}'
bad = False
for s in ["alerts", "forecasts", "price-triggers", "replenishment", "scores"]:
    def load(d):
        try:
            return [l.rstrip("\n") for l in open(f"{d}/{s}.jsonl", encoding="utf-8")]
        except FileNotFoundError:
            return []
    x, y = load(a), load(b)
    if not exact and s == "scores":
        # A dead letter has no event time: it counts at the stream time of its place in the
        # applied sequence, right after its predecessor in its partition, so the anomaly
        # operator's dead-letter series depends on the partitioning (not on fetch timing).
        x = [v for v in x if '"series":"dead_letters"' not in v]
        y = [v for v in y if '"series":"dead_letters"' not in v]
    if exact:
        if x != y:
            i = next((i for i in range(min(len(x), len(y))) if x[i] != y[i]), min(len(x), len(y)))
            print(f"FAIL ({label}): {s}: {len(x)} vs {len(y)} records, first difference at line {i + 1}")
            bad = True
        continue
    cx, cy = collections.Counter(x), collections.Counter(y)
    if cx != cy:
        only_x, only_y = cx - cy, cy - cx
        print(f"FAIL ({label}): {s}: {len(x)} vs {len(y)} records, {sum(only_x.values())} only in the "
              f"first, {sum(only_y.values())} only in the second")
        for v in list(only_x)[:2]: print("  first only: ", v[:300])
        for v in list(only_y)[:2]: print("  second only:", v[:300])
        def flat(v, pre=""):
            d = json.loads(v)
            out = {}
            def walk(o, p):
                if isinstance(o, dict):
                    for k, w in o.items(): walk(w, p + "." + k)
                else:
                    out[p] = o
            walk(d, "")
            return out
        if len(only_x) == 1 and len(only_y) == 1:
            fx, fy = flat(list(only_x)[0]), flat(list(only_y)[0])
            print("  fields that differ:", {k: (fx.get(k), fy.get(k)) for k in set(fx) | set(fy)
                                             if fx.get(k) != fy.get(k)})
        bad = True
        continue
    px, py = collections.defaultdict(list), collections.defaultdict(list)
    for v in x: px[key(v)].append(v)
    for v in y: py[key(v)].append(v)
    wrong = [k for k in px if px[k] != py[k]]
    if wrong:
        print(f"FAIL ({label}): {s}: same records, but {len(wrong)} keys in another order (e.g. {wrong[0]})")
        bad = True
        continue
if bad:
    sys.exit(1)
print(f"{label}: identical" + (" line for line" if exact else " (same records, same order per key)"))
PY
}

# Kafka outputs (kill part): per stream, "partition TAB offset TAB key TAB headers TAB value".
dump() {  # dump <run name> <dir>
  mkdir -p "$2"
  for s in "${streams[@]}" dlq late; do
    kcat -C -b "$bs" -t "$1.$s" -e -q -X isolation.level=read_committed \
      -f '%p\t%o\t%k\t%h\t%s\n' > "$2/$s.tsv" 2> /dev/null || true
  done
}

same_topics() {  # same_topics <dir a> <dir b> <label>: every record once, same values
  python3 - "$1" "$2" "$3" << 'PY'
import re, sys, collections
a, b, label = sys.argv[1:4]
total = 0
for s in ["alerts", "forecasts", "price-triggers", "replenishment", "scores", "dlq", "late"]:
    def load(d):
        parts = collections.defaultdict(list)
        for line in open(f"{d}/{s}.tsv", encoding="utf-8", errors="replace"):
            p, o, k, h, v = line.rstrip("\n").split("\t", 4)
            hd = dict(kv.split("=", 1) for kv in h.split(",") if "=" in kv)
            if s == "dlq":
                v = re.sub(r'"ingest_time":"[^"]*",', "", v)
            parts[p].append((k, hd.get("ce_id"), hd.get("sw_origin"), hd.get("sw_seq"), v))
        return parts
    pa, pb = load(a), load(b)
    for p in sorted(set(pa) | set(pb)):
        x, y = pa.get(p, []), pb.get(p, [])
        if x != y:
            i = next((i for i in range(min(len(x), len(y))) if x[i] != y[i]), min(len(x), len(y)))
            print(f"FAIL ({label}): {s} partition {p}: {len(x)} vs {len(y)} records, first difference at {i}")
            print("  ref:", str(x[i] if i < len(x) else None)[:400])
            print("  got:", str(y[i] if i < len(y) else None)[:400])
            sys.exit(1)
        total += len(x)
print(f"{label}: {total} output records, each exactly once, same values, same order per partition")
PY
}

case $part in
partitions)
  file_run
  for n in 1 4 16; do
    start_broker "$n" "keyed,unkeyed"
    produce keyed keyed
    produce unkeyed unkeyed
    kafka_run "k$n" "[keyed]"
    same_as file/out "k$n/out" "$n partitions keyed by store|sku vs file pipeline"
    kafka_run "u$n" "[unkeyed]"
    same_as file/out "u$n/out" "$n partitions unkeyed vs file pipeline"
  done
  echo "PASS: 1, 4 and 16 partitions, keyed and unkeyed: the file pipeline's outputs"
  ;;
fetch)
  start_broker 16 "keyed"
  produce keyed keyed
  kafka_run a "[keyed]" --set source.kafka.properties.fetch.max.bytes=52428800 \
    --set source.kafka.properties.max.partition.fetch.bytes=1048576
  kafka_run b "[keyed]" --set source.kafka.properties.message.max.bytes=1000 \
    --set source.kafka.properties.fetch.max.bytes=1000 \
    --set source.kafka.properties.max.partition.fetch.bytes=1 --set pipeline.batch_size=7
  same_as a/out b/out "16 partitions, fetch.max.bytes 50 MB vs 1000 bytes" exact
  echo "PASS: fetch sizes do not change the outputs"
  ;;
layouts)
  file_run
  start_broker 16 "keyed,events,reference"
  produce keyed keyed
  # The same stream over two topics: chain-wide reference records (item, price,
  # competitor_price, promotion without a store) on `reference`, the rest on `events`.
  python3 - << 'PY'
ref = set(open("reference.tsv", encoding="utf-8", errors="surrogateescape"))
with open("events-keyed.tsv", "w", encoding="utf-8", errors="surrogateescape") as out:
    for line in open("keyed.tsv", encoding="utf-8", errors="surrogateescape"):
        if line not in ref:
            out.write(line)
PY
  produce events keyed events-keyed.tsv
  produce reference keyed reference.tsv
  kafka_run assign "[keyed]"
  config "[keyed]" sub/state sub/out > sub.yaml
  "$sw" run --config sub.yaml --quiet --set source.kafka.mode=subscribe \
    --set source.kafka.group_id="det-$$-$RANDOM" > sub.log 2>&1 \
    || { cat sub.log; echo "FAIL: subscribe run"; exit 1; }
  echo "run sub: $(wc -l < sub/out/alerts.jsonl) alerts"
  same_as assign/out sub/out "16 partitions, mode subscribe (one member) vs assign" exact
  same_as file/out sub/out "16 partitions, mode subscribe vs file pipeline"
  kafka_run two "[events, reference]"
  same_as file/out two/out "events and reference data on two 16-partition topics vs file pipeline"
  echo "PASS: subscribe mode and a separate reference topic"
  ;;
kill)
  start_broker 16 "keyed$out_topics"
  produce keyed keyed
  kconfig() {  # kconfig <run name> <state dir>: Kafka sink, exactly-once
    cat << YAML
source:
  kind: kafka
  kafka:
    topics: [keyed]
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
    for s in "${streams[@]}" dlq late; do echo "      $s: $1.$s"; done
    cat << YAML
state:
  dir: $2
metrics:
  listen: "off"
YAML
  }
  kconfig ref ref/state > ref.yaml
  start=$(date +%s%N)
  "$sw" run --config ref.yaml --quiet > ref.log 2>&1 || { cat ref.log; echo "FAIL: reference run"; exit 1; }
  dump ref ref/out
  final=$(wc -l < ref/out/alerts.tsv)
  echo "reference run: $(( ($(date +%s%N) - start) / 1000000 )) ms, ${final} alerts"
  [[ $final -gt 0 ]] || { echo "FAIL: reference run produced no alerts"; exit 1; }
  # From here on the broker answers 3 ms late and each fetch returns little, checkpoints
  # every 5 ms: the runs spend seconds fetching, merging, checkpointing and producing.
  echo "rtt 1 3" >&7
  slow=(--quiet --set state.checkpoint_interval_ms=5 --set pipeline.batch_size=32
        --set source.kafka.properties.max.partition.fetch.bytes=1)
  kconfig crash crash/state > crash.yaml
  start=$(date +%s%N)
  kconfig slow slow/state > slow.yaml
  "$sw" run --config slow.yaml "${slow[@]}" > slow.log 2>&1 \
    || { cat slow.log; echo "FAIL: slow run"; exit 1; }
  slow_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  dump slow slow/out
  same_topics ref/out slow/out "3 ms broker RTT, small fetches, 5 ms checkpoints (${slow_ms} ms)"
  # Ten kill -9, each 200 ms + a random share of a twelfth of the uninterrupted run's duration,
  # so all ten land before the input is done (checked: fewer alerts delivered than the
  # reference after each kill, and the run was killed, not finished).
  RANDOM=${SEED:-1616}
  kills=10 crashed=0 mid=0 progress=""
  while [[ $crashed -lt $kills ]]; do
    delay_ms=$(( 200 + RANDOM % (slow_ms / 12 + 1) ))
    set +e
    ( exec 2> /dev/null; kill_after "$delay_ms" "$sw" run --config crash.yaml "${slow[@]}" \
      > crash.log 2>&1 ) 2> /dev/null
    rc=$?
    set -e
    [[ $rc -eq 137 ]] || { cat crash.log; echo "FAIL: run $((crashed + 1)) was not killed mid-run (exit $rc)"; exit 1; }
    crashed=$((crashed + 1))
    delivered=$(kcat -C -b "$bs" -t crash.alerts -e -q -f '%o\n' 2> /dev/null | wc -l)
    [[ $delivered -lt $final ]] && mid=$((mid + 1))
    delivered+="+$(kcat -C -b "$bs" -t crash.forecasts -e -q -f '%o\n' 2> /dev/null | wc -l)"
    progress+=" ${delay_ms}ms:${delivered}"
  done
  "$sw" run --config crash.yaml "${slow[@]}" > crash.log 2>&1 || { cat crash.log; echo "FAIL: final run"; exit 1; }
  echo "killed ${crashed} runs with kill -9 (${mid} before the output was complete); delay:alerts+forecasts delivered after each kill:${progress}"
  [[ $mid -eq $kills ]] || { echo "FAIL: only ${mid} of ${kills} kills landed mid-run"; exit 1; }
  dump crash crash/out
  same_topics ref/out crash/out "16 partitions, kill -9 x${crashed}"
  echo "PASS: no output lost, duplicated or changed across ${crashed} kills on 16 partitions"
  ;;
*)
  echo "unknown part $part"
  exit 2
  ;;
esac
