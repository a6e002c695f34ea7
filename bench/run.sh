#!/usr/bin/env bash
# `make bench`: generates the benchmark input once (5 M events, ~1 M keys), then runs every
# benchmark in this one run and prints one JSON object per line (plus ratios).
set -euo pipefail
build=${1:-build}
data=${BENCH_DIR:-bench-data}
mkdir -p "$data"
sw="$build/cli/shelfwatch"
input="$data/bench-5m.jsonl"
if [[ ! -s $input ]]; then
  "$sw" gen --stores 100 --skus 10000 --days 1 --seed 1 --events-per-key-day 4 \
    --metric-interval-min 0 --quiet --out "$input"
fi
cat "$input" > /dev/null  # page cache, as in MEASURED.md
results=$(mktemp)
"$build/bench/pipeline_bench" read_split "$input" | tee -a "$results"
"$build/bench/pipeline_bench" decode "$input" | tee -a "$results"
"$build/bench/pipeline_bench" pipeline "$input" "$data/pipeline" | tee -a "$results"
# price: the same pipeline with the price operator on beside low_stock (issue 14).
"$build/bench/pipeline_bench" price "$input" "$data/price" | tee -a "$results"
for extra in "$build"/bench/*_bench; do
  name=$(basename "$extra")
  [[ $name == pipeline_bench ]] && continue
  "$extra" | tee -a "$results" || echo "{\"bench\":\"$name\",\"error\":\"exit $?\"}"
done
if [[ -x bench/kafka_bench.sh ]]; then bash bench/kafka_bench.sh "$build" | tee -a "$results" || true; fi
python3 - "$results" <<'PY'
import json, sys
r = {}
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)
        r[o["bench"]] = o
    except Exception:
        pass
if "pipeline" in r and "price" in r:
    print(json.dumps({"bench": "ratio_price_to_pipeline",
                      "value": round(r["price"]["events_per_s"] / r["pipeline"]["events_per_s"], 3)}))
if "pipeline" in r and "decode" in r:
    print(json.dumps({"bench": "ratio_pipeline_to_decode",
                      "value": round(r["pipeline"]["events_per_s"] / r["decode"]["events_per_s"], 3)}))
    # Same ratio on CPU time (task thread vs decode thread): robust to other load on the machine.
    if "events_per_task_cpu_s" in r["pipeline"] and "events_per_cpu_s" in r["decode"]:
        print(json.dumps({"bench": "ratio_pipeline_to_decode_cpu",
                          "value": round(r["pipeline"]["events_per_task_cpu_s"] /
                                         r["decode"]["events_per_cpu_s"], 3)}))
PY
rm -f "$results"
