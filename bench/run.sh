#!/usr/bin/env bash
# `make bench`: generates the benchmark inputs once (5 M events, ~1 M keys, one day; and the
# 14-day 100 k-key stream of pipeline_full), then runs every benchmark in this one run and
# prints one JSON object per line (plus ratios).
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
# pipeline_full (issue 18): the default job on a multi-day stream, generated once and cached
# (~830 MB, 6.0 M events, 100 k keys). BENCH_FULL_GEN overrides the generator arguments (the
# cache file is named after them); BENCH_FULL=0 skips the figure and the `price` and
# `inventory_full` entries, which run the same job on the same stream.
full_gen=${BENCH_FULL_GEN:-"--stores 50 --skus 2000 --days 14 --seed 1 --events-per-key-day 4"}
full_input="$data/full-$(echo "$full_gen" | tr -d ' -').jsonl"
if [[ ${BENCH_FULL:-1} != 0 && ! -s $full_input ]]; then
  # shellcheck disable=SC2086
  "$sw" gen $full_gen --quiet --out "$full_input.tmp" && mv "$full_input.tmp" "$full_input"
fi
cat "$input" > /dev/null  # page cache, as in MEASURED.md
results=$(mktemp)
"$build/bench/pipeline_bench" read_split "$input" | tee -a "$results"
"$build/bench/pipeline_bench" decode "$input" | tee -a "$results"
"$build/bench/pipeline_bench" pipeline "$input" "$data/pipeline" | tee -a "$results"
if [[ ${BENCH_FULL:-1} != 0 ]]; then
  cat "$full_input" > /dev/null
  "$build/bench/pipeline_bench" decode_full "$full_input" | tee -a "$results"
  full_run() {  # NAME [env...]: the default job on the full stream, reported as NAME
    local name=$1
    shift
    env PIPELINE_BENCH_NAME="$name" PIPELINE_BENCH_INPUT="shelfwatch gen $full_gen" "$@" \
      "$build/bench/pipeline_bench" pipeline_full "$full_input" "$data/$name" | tee -a "$results"
  }
  full_run pipeline_full
  # price (issue 14): the default job has the price operator on, so pipeline_full is the
  # "price on" run (the identical job is not run twice); "price off" is the same job with
  # operators.price.enabled=false, next to it.
  full_run price_off PIPELINE_BENCH_SET=operators.price.enabled=false
  # inventory_full (issue 15): every inventory feature on vs off, the default job on the same
  # stream. The generator's stream carries purchase orders (order / receipt with po_id) and
  # lots (expires, perishable items); "on" adds its regions of 5 consecutive stores (transfer
  # proposals) to the default job (recommendations on); "off" has no regions and
  # recommendations off. Orders and lots are applied in both: they come with the input and no
  # setting turns their accounting off.
  full_stores=$(sed -n 's/.*--stores \([0-9]*\).*/\1/p' <<<"$full_gen")
  full_run inventory_full_off PIPELINE_BENCH_SET=operators.low_stock.recommendations=false
  full_run inventory_full_on PIPELINE_BENCH_REGIONS="${full_stores:-50}/5"
fi
# Bytes per forecast record under each emit / horizon_encoding choice: the forecast operator
# alone on a 10 k-key slice of the same kind of stream (cached like the others).
records_gen="--stores 50 --skus 200 --days 14 --seed 1 --events-per-key-day 4"
records_input="$data/full-$(echo "$records_gen" | tr -d ' -').jsonl"
if [[ ! -s $records_input ]]; then
  # shellcheck disable=SC2086
  "$sw" gen $records_gen --quiet --out "$records_input.tmp" && mv "$records_input.tmp" "$records_input"
fi
PIPELINE_BENCH_INPUT="shelfwatch gen $records_gen" \
  "$build/bench/pipeline_bench" forecast_records "$records_input" "$data/forecast_records" |
  tee -a "$results"
# price_lowstock_1day: the `pipeline` job (1-day input) with the price operator on beside
# low_stock; `make bench`'s `price` figure before it moved to the full stream (above).
"$build/bench/pipeline_bench" price_lowstock_1day "$input" "$data/price" | tee -a "$results"
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
if "pipeline" in r and "price_lowstock_1day" in r:
    print(json.dumps({"bench": "ratio_price_lowstock_1day_to_pipeline",
                      "value": round(r["price_lowstock_1day"]["events_per_s"] /
                                     r["pipeline"]["events_per_s"], 3)}))


def on_off(bench, ratio, on, off):
    """One line comparing two runs of the same job in this run: events/s, events per task
    CPU-second (robust to other load on the machine), their ratios, each run's config."""
    if on not in r or off not in r:
        return
    a, b = r[on], r[off]
    print(json.dumps({
        "bench": bench, "runs": {"on": on, "off": off},
        "events": a["events"],
        "events_per_s_on": a["events_per_s"], "events_per_s_off": b["events_per_s"],
        "events_per_task_cpu_s_on": a["events_per_task_cpu_s"],
        "events_per_task_cpu_s_off": b["events_per_task_cpu_s"],
        ratio: round(a["events_per_s"] / b["events_per_s"], 3),
        ratio + "_cpu": round(a["events_per_task_cpu_s"] / b["events_per_task_cpu_s"], 3),
        "seconds_on": a["seconds"], "seconds_off": b["seconds"],
        "checkpoint_seconds_on": a["checkpoint_seconds"],
        "checkpoint_seconds_off": b["checkpoint_seconds"],
        "config": {"on": a.get("config"), "off": b.get("config")}}))


on_off("price", "ratio_price_on_to_off", "pipeline_full", "price_off")
on_off("inventory_full", "ratio_inventory_on_to_off", "inventory_full_on", "inventory_full_off")
if "pipeline_full" in r and "decode_full" in r:
    print(json.dumps({"bench": "ratio_pipeline_full_to_decode",
                      "value": round(r["pipeline_full"]["events_per_s"] /
                                     r["decode_full"]["events_per_s"], 4)}))
    print(json.dumps({"bench": "ratio_pipeline_full_to_decode_cpu",
                      "value": round(r["pipeline_full"]["events_per_task_cpu_s"] /
                                     r["decode_full"]["events_per_cpu_s"], 4)}))
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
# restore (issue 17): seconds and MB/s to restore 1 M keys of state from the changelog into an
# empty RocksDB state directory (bench/changelog_restore.cpp states the configuration).
"$build/bench/changelog_restore" || echo '{"bench":"restore","error":"exit '$?'"}'
