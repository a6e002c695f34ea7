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
#               order: only the per-key order is an output contract, DESIGN.md §3.)
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
for run in ref crash; do
  for s in "${streams[@]}" dlq late; do out_topics+=",$run.$s"; done
done

start_broker() {  # start_broker <partitions> <topics>: sets $bs
  rm -f "broker$1.out"
  "$sw" broker --port 0 --partitions "$1" --topics "$2" > "broker$1.out" 2> "broker$1.log" &
  brokers+=($!)
  for _ in $(seq 400); do [[ -s broker$1.out ]] && break; sleep 0.05; done
  bs=$(head -1 "broker$1.out")
  [[ -n $bs ]] || { echo "FAIL: broker did not start"; cat "broker$1.log"; exit 1; }
}

"$sw" gen --stores "${STORES:-10}" --skus "${SKUS:-100}" --days "${DAYS:-20}" --seed 11 \
  --bad-rate 0.001 --quiet --out events.jsonl
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
YAML
}

file_run() {
  "$sw" run --quiet --set source.file.path=events.jsonl --set state.dir=file/state \
    --set sinks.file.dir=file/out --set metrics.listen=off > file.log 2>&1 \
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
*)
  echo "unknown part $part"
  exit 2
  ;;
esac
