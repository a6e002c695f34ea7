#!/usr/bin/env bash
# CLI behaviour end to end: help, validate errors naming key and fix, run from a file and
# from stdin giving the same outputs, the accounting line, inspect, follow mode + SIGTERM,
# backtest scored against the generator's ground truth.
set -euo pipefail
sw=${1:?usage: cli_test.sh path/to/shelfwatch}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

"$sw" --help | grep "usage: shelfwatch" > /dev/null || fail "--help"
for c in run validate inspect gen backtest score-csv broker; do
  "$sw" "$c" --help | grep "example" > /dev/null || fail "$c --help has no examples"
done

cat > bad.yaml <<'Y'
source:
  kind: file
  file: {path: events.jsonl}
state:
  checkpoint_intervl_ms: 5
Y
set +e
msg=$("$sw" validate --config bad.yaml 2>&1); rc=$?
set -e
[[ $rc -eq 2 ]] || fail "validate rc $rc"
grep -q "state.checkpoint_intervl_ms" <<< "$msg" || fail "validate does not name the key: $msg"
grep -q "did you mean 'state.checkpoint_interval_ms'" <<< "$msg" || fail "no fix suggested: $msg"
set +e
msg=$("$sw" validate --config bad.yaml --set state.checkpoint_intervl_ms= --set delivery=twice 2>&1); rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q "exactly_once, at_least_once" <<< "$msg" || fail "enum error: $msg"

# Kafka, delivery and operator settings are parsed in phase 1 (validate included): a bad
# librdkafka property, an unknown source.kafka key, a bad group id, an unknown operator
# exit 2 naming the key at start-up, not as a runtime error on the first poll.
cat > kafka.yaml <<'Y'
source:
  kind: kafka
  kafka: {topics: [events], stop_at_end: true}
state: {dir: ks}
sinks: {file: {dir: ko}}
metrics: {listen: "off"}
Y
expect_exit2() {  # expect_exit2 <key named in the error> <shelfwatch args...>
  local key=$1; shift
  set +e
  msg=$(timeout 20 "$sw" "$@" 2>&1); rc=$?
  set -e
  [[ $rc -eq 2 ]] || fail "$* exited $rc, not 2: $msg"
  grep -qF "$key" <<< "$msg" || fail "$* does not name $key: $msg"
}
for cmd in validate run; do
  expect_exit2 kafka.properties.bogus.prop $cmd --config kafka.yaml --set kafka.properties.bogus.prop=1
  expect_exit2 source.kafka.properties.fetch.wait.max.ms $cmd --config kafka.yaml \
    --set source.kafka.properties.fetch.wait.max.ms=soon
  expect_exit2 source.kafka.topicz $cmd --config kafka.yaml --set source.kafka.topicz=[x]
  expect_exit2 sinks.kafka.properties.linger.ms $cmd --config kafka.yaml --set sinks.kafka.enabled=true \
    --set sinks.kafka.properties.linger.ms=soon
  expect_exit2 sinks.kafka.topicz $cmd --config kafka.yaml --set sinks.kafka.enabled=true \
    --set sinks.kafka.topicz.alerts=x
  expect_exit2 sinks.delivery.endpoints.pd.routing_key_env $cmd --config kafka.yaml \
    --set sinks.delivery.endpoints.pd.kind=pagerduty \
    --set sinks.delivery.endpoints.pd.routing_key_env=SW_CLI_TEST_UNSET_VARIABLE
  expect_exit2 "available operators: forecast, low_stock, anomaly" $cmd --config kafka.yaml \
    --set operators.pricing.enabled=true
done
[[ ! -e ks && ! -e ko ]] || fail "a config error left state or output directories behind"
"$sw" validate --config kafka.yaml --set sinks.kafka.enabled=true \
  --set kafka.properties.security.protocol=plaintext > /dev/null || fail "valid kafka config rejected"

"$sw" gen --stores 3 --skus 20 --days 10 --seed 5 --bad-rate 0.01 --quiet --out events.jsonl
out=$("$sw" run --set metrics.listen=off --set source.file.path=events.jsonl --set state.dir=s1 --set sinks.file.dir=o1)
grep -q "\[balanced\]" <<< "$out" || fail "summary not balanced: $out"
grep -q "dead-lettered by reason: not_json=" <<< "$out" || fail "no DLQ breakdown: $out"
lines=$(grep -c . events.jsonl)
grep -q "events read $lines " <<< "$out" || fail "read count != $lines lines"
[[ $(wc -l < o1/dlq.jsonl) -gt 0 ]] || fail "no dead letters written"

# stdin gives the same alerts.
"$sw" run --set metrics.listen=off --set source.file.path=- --set state.dir=s2 --set sinks.file.dir=o2 --quiet < events.jsonl 2>/dev/null
cmp -s o1/alerts.jsonl o2/alerts.jsonl || fail "stdin run differs from file run"

# inspect
"$sw" inspect --state s1 --store S0001 --sku SKU-000001 > inspect.json
python3 - <<'PY' || fail "inspect output"
import json
d = json.load(open("inspect.json"))
assert d["checkpoint_found"] and d["keys"] > 0, d
assert d["watermark"] == "end-of-input", d
a = d["accounting"]
assert a["read"] == a["applied"] + a["duplicates"] + a["dead_lettered"] + a["late"], a
assert d["key"]["found"] and "low_stock" in d["key"], d["key"]
PY

# follow mode: keeps running at end of file, picks up appended lines, exits 0 on SIGTERM.
head -n 200 events.jsonl > live.jsonl
"$sw" run --set metrics.listen=off --set source.file.path=live.jsonl --set source.file.follow=true --set state.dir=s3 \
  --set sinks.file.dir=o3 --set state.checkpoint_interval_ms=100 --quiet 2>/dev/null &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 1
kill -0 "$pid" || fail "follow mode exited at end of file"
sed -n '201,500p' events.jsonl >> live.jsonl
sleep 1.5
kill -TERM "$pid"
wait "$pid" || fail "SIGTERM exit status $?"
"$sw" inspect --state s3 | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['accounting']['read']==500, d['accounting']" \
  || fail "follow mode did not read the appended lines"
# backtest: JSON with every horizon step, shelfwatch and seasonal naive; on generated data
# with known true demand the forecast beats seasonal naive (MASE) and lies closer to the
# true mean than to the noisy actuals.
"$sw" gen --stores 2 --skus 10 --days 120 --seed 5 --quiet --out hist.jsonl --truth truth.jsonl
cat > bt.yaml <<'Y'
metrics: {listen: "off"}
Y
"$sw" backtest --config bt.yaml --input hist.jsonl --horizon 7 --truth truth.jsonl --json > bt.json \
  || fail "backtest exit status"
python3 - <<'PY' || fail "backtest output"
import json
d = json.load(open("bt.json"))
assert d["horizon"] == 7 and len(d["steps"]) == 7, d.keys()
for s in d["steps"]:
    assert s["shelfwatch"]["n"] > 0 and 0 <= s["shelfwatch"]["coverage"] <= 1, s
o = d["overall"]
assert o["shelfwatch"]["mase"] < o["seasonal_naive"]["mase"], o
t = d["truth"]
assert t["shelfwatch_vs_true_mean"]["wape"] < t["shelfwatch"]["wape"], t
assert t["true_mean"]["n"] > 0, t
print("backtest: MASE %.3f vs seasonal naive %.3f, 90%% coverage %.3f" % (
    o["shelfwatch"]["mase"], o["seasonal_naive"]["mase"], o["shelfwatch"]["coverage"]))
PY
echo "PASS: cli"
exit 0
