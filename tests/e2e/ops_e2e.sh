#!/usr/bin/env bash
# Issue 20, running it in production, with the real binary over real HTTP (curl, python3):
#   endpoints  the bearer token (from a file) guards /state, /alerts, /admin/*; /metrics,
#              /healthz, /readyz stay open; oversized requests and too many headers are
#              refused; 300 idle connections stop neither /healthz nor the task
#   reload     SIGHUP and POST /admin/reload apply a changed low_stock threshold live (an
#              alert type that only fires under the new threshold appears after the reload,
#              forecasts stay byte-identical to a run without reload: state kept, nothing
#              re-read); an invalid config and a changed state.dir are refused, the process
#              keeps running
#   reload_models  a reload changes the anomaly thresholds and the forecast emission live
#              (no anomaly alert fires after it, forecasts stop; the other alerts and the
#              forecasts before it equal a run without reload); model-shaping keys
#              (operators.forecast.horizon, operators.anomaly.bucket) and sinks.file.dir are
#              refused by name, the process keeps running
#   lifecycle  SIGTERM: /readyz 503, exit 0, restart = uninterrupted outputs; a second
#              SIGTERM during a long delivery drain exits at once (143), restart = the same
# Usage: ops_e2e.sh <shelfwatch> <endpoints|reload|reload_models|lifecycle>
set -euo pipefail
sw=$1
part=$2
for b in curl python3; do
  command -v "$b" >/dev/null || { echo "SKIP: $b not installed"; exit 77; }
done
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_workdir
cd "$work"
port=$(free_port)
url="http://127.0.0.1:$port"

fail() {
  echo "FAIL: $*"
  for f in run*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done
  exit 1
}
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
# events_read_total of the running process (0 while not answering).
events_read() {
  curl -fs --max-time 5 "$url/metrics" 2>/dev/null |
    awk '/^shelfwatch_events_read_total/ {printf "%d\n", $2; found=1} END {if (!found) print 0}'
}
wait_read() {  # wait_read N SECONDS: until the process read N records
  local n=$1 deadline=$((SECONDS + $2))
  until (($(events_read) >= n)); do
    ((SECONDS < deadline)) || fail "read $(events_read) of $n records within $2 s"
    sleep 0.2
  done
}
# The reload parts' second half: append the rest of all.jsonl to the followed live.jsonl, wait
# until the run ($pid, log run.log) read all $total records, SIGTERM it; it must exit 0 without
# having restarted its task. Uses the caller's $half, $total and $pid.
finish_live_run() {
  tail -n +$((half + 1)) all.jsonl >> live.jsonl
  wait_read "$total" 60
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || fail "exit $rc after SIGTERM"
  if grep -q "restor" run.log; then fail "the task restarted"; fi
}

# sha256 of every output file (dlq.jsonl without its wall-clock ingest_time).
outputs_sha() {
  for f in "$1"/*.jsonl; do
    printf '%s ' "$(basename "$f")"
    sed 's/"ingest_time":"[^"]*",//' "$f" | sha256sum | cut -c1-16
  done
}

case "$part" in
endpoints)
  "$sw" gen --stores 3 --skus 20 --days 40 --seed 5 --quiet --out all.jsonl
  total=$(wc -l < all.jsonl)
  head -n 5000 all.jsonl > live.jsonl
  printf 'tok-%s\n' "$RANDOM$RANDOM" > token
  chmod 600 token
  token=$(head -n1 token)
  cat > cfg.yaml <<YAML
source: {kind: file, file: {path: live.jsonl, follow: true}}
state: {dir: state, checkpoint_interval_ms: 200}
sinks: {file: {dir: out}}
metrics:
  listen: 127.0.0.1:$port
  auth: {token_file: token}
YAML
  # The token is never written in the config itself.
  "$sw" validate --config cfg.yaml --set metrics.auth.token=abc > validate.log 2>&1 && fail "a clear-text token was accepted"
  grep -q "metrics.auth.token" validate.log || fail "the clear-text token key was not named"
  "$sw" validate --config cfg.yaml > validate.log || fail "validate"
  grep -q "metrics.auth.token_file: <redacted>" validate.log || fail "validate output"
  grep -q "$token" validate.log && fail "validate printed the token"
  "$sw" run --config cfg.yaml --quiet > run.log 2>&1 &
  pid=$!
  pids+=($pid)
  wait_for 30 curl -fs "$url/healthz" || fail "not serving"
  wait_read 5000 60
  auth="Authorization: Bearer $token"
  for p in /metrics /healthz /readyz; do
    [ "$(code "$url$p")" = 200 ] || fail "$p is not open"
  done
  for p in /alerts /state/S0001/SKU-000001; do
    [ "$(code "$url$p")" = 401 ] || fail "$p without a token"
    [ "$(code -H "Authorization: Bearer wrong-$token" "$url$p")" = 401 ] || fail "$p, wrong token"
    [ "$(code -H "$auth" "$url$p")" = 200 ] || fail "$p with the token"
  done
  curl -fs -H "$auth" "$url/state/S0001/SKU-000001" | grep '"low_stock"' > /dev/null || fail "/state body"
  [ "$(code -X POST "$url/admin/reload")" = 401 ] || fail "/admin/reload without a token"
  [ "$(code -X POST -H "$auth" "$url/admin/reload")" = 200 ] || fail "/admin/reload"
  [ "$(code -H "$auth" "$url/admin/reload")" = 405 ] || fail "GET /admin/reload"
  big=$(head -c 20000 /dev/zero | tr '\0' a)
  c=$(code -H "X-Fill: $big" "$url/healthz")
  [[ "$c" =~ ^(400|413|431|000)$ ]] || fail "a 20 KB request was answered $c"
  headers=()
  for i in $(seq 1 100); do headers+=(-H "X-H$i: v"); done
  [ "$(code "${headers[@]}" "$url/healthz")" = 431 ] || fail "100 header lines"
  # 300 idle connections held for 8 s while the rest of the input is fed.
  python3 - "$port" > flood.log 2>&1 <<'PY' &
import socket, sys, time
socks = []
for _ in range(300):
    try:
        socks.append(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2))
    except OSError:
        pass
print("idle connections:", len(socks), flush=True)
time.sleep(8)
PY
  flood=$!
  sleep 1
  tail -n +5001 all.jsonl >> live.jsonl
  worst=0
  for i in 1 2 3 4 5; do
    t0=$(date +%s%N)
    [ "$(code "$url/healthz")" = 200 ] || fail "/healthz under the flood"
    ms=$((($(date +%s%N) - t0) / 1000000))
    ((ms > worst)) && worst=$ms
  done
  read_during=$(events_read)
  wait "$flood"
  cat flood.log
  echo "under the flood: /healthz worst ${worst} ms; records read ${read_during} of $total"
  ((read_during == total)) || wait_read "$total" 30
  kill -TERM "$pid"
  rc=0
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || fail "exit $rc after SIGTERM"
  grep -q "$token" run.log && fail "the token appears in the log"
  ;;

reload)
  "$sw" gen --stores 3 --skus 20 --days 40 --seed 5 --quiet --out all.jsonl
  total=$(wc -l < all.jsonl)
  half=$((total / 2))
  cut_ts=$(sed -n "${half}p" all.jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["ts"])')
  write_cfg() {  # write_cfg OVERSTOCK_DAYS STATE_DIR PATH
    cat > "$3" <<YAML
source: {kind: file, file: {path: live.jsonl, follow: true}}
state: {dir: $2, checkpoint_interval_ms: 200}
sinks: {file: {dir: out}}
metrics: {listen: 127.0.0.1:$port}
operators:
  low_stock:
    overstock_days: $1
YAML
  }
  # Reference: the same input, no reload.
  mkdir ref
  (
    cd ref
    cp ../all.jsonl live.jsonl
    write_cfg 90 state cfg.yaml
    "$sw" run --config cfg.yaml --quiet > ../run-ref.log 2>&1 &
    echo $! > pid
  )
  wait_read "$total" 120
  kill -TERM "$(cat ref/pid)"
  while kill -0 "$(cat ref/pid)" 2>/dev/null; do sleep 0.1; done

  head -n "$half" all.jsonl > live.jsonl
  write_cfg 90 state cfg.yaml
  "$sw" run --config cfg.yaml --quiet > run.log 2>&1 &
  pid=$!
  pids+=($pid)
  wait_for 30 curl -fs "$url/healthz" || fail "not serving"
  wait_read "$half" 60
  # Invalid: the old configuration stays, the process keeps running.
  echo "operators: {low_stock: {overstock_days: -1}}" > cfg.yaml
  kill -HUP "$pid"
  wait_for 10 grep -q "reload rejected.*overstock_days" run.log || fail "invalid config not rejected"
  printf 'source: [unclosed\n' > cfg.yaml
  body=$(curl -s -X POST "$url/admin/reload")
  [[ "$body" == *'"applied":false'* ]] || fail "broken YAML: $body"
  # A key that cannot change live is refused by name.
  write_cfg 3 state2 cfg.yaml
  body=$(curl -s -X POST "$url/admin/reload")
  [[ "$body" == *"state.dir cannot change while running; restart to apply"* ]] || fail "state.dir: $body"
  [ "$(code "$url/healthz")" = 200 ] || fail "not serving after rejected reloads"
  # The real change, by SIGHUP.
  write_cfg 3 state cfg.yaml
  kill -HUP "$pid"
  wait_for 10 grep -q "reload applied: changed operators.low_stock.overstock_days" run.log ||
    fail "reload not applied"
  curl -fs "$url/metrics" | grep 'shelfwatch_config_reloads_total{result="rejected"} 3' > /dev/null ||
    fail "reload counter: $(curl -fs "$url/metrics" | grep reloads)"
  finish_live_run
  python3 - "$cut_ts" <<'PY' || fail "outputs"
import json, sys
cut = sys.argv[1]
def overstock(path):
    out = []
    for line in open(path):
        r = json.loads(line)
        if r.get("type") == "overstock" and r.get("status") == "firing":
            out.append(r)
    return out
ref, new = overstock("ref/out/alerts.jsonl"), overstock("out/alerts.jsonl")
ts = lambda r: r.get("ts") or r.get("time") or ""
# Events are applied in event-time order (pipeline.event_time_order): at the reload, the
# events of the last out_of_orderness (5 min) before the newest one read were still held and
# met the new threshold. Everything older than that (6 min: margin for the 1 s release
# rounding) was applied under the old one.
from datetime import datetime, timedelta
def parse(t):
    return datetime.fromisoformat(t.replace("Z", "+00:00"))
applied_before = (parse(cut) - timedelta(minutes=6)).isoformat().replace("+00:00", "Z")
before_ref = [r["id"] for r in ref if parse(ts(r)) < parse(applied_before)]
before_new = [r["id"] for r in new if parse(ts(r)) < parse(applied_before)]
after_ref = [r for r in ref if ts(r) >= cut]
after_new = [r for r in new if ts(r) >= cut]
print("overstock firings before/after the reload: reference %d/%d, reloaded %d/%d"
      % (len(before_ref), len(after_ref), len(before_new), len(after_new)))
assert before_new == before_ref, "the old threshold was not in force before the reload"
assert len(after_new) > len(after_ref), "the new threshold is not in effect"
# Forecast state does not depend on low_stock thresholds: identical (but for the stamp's
# config_version, which the reload changed) = state kept, no re-read.
import re
version = re.compile(r'"config_version":"([0-9a-f]+)"')
ref_lines = open("ref/out/forecasts.jsonl").read().splitlines()
new_lines = open("out/forecasts.jsonl").read().splitlines()
assert [version.sub("", l) for l in ref_lines] == [version.sub("", l) for l in new_lines], \
    "forecasts differ: state was lost or input re-read"
ref_versions = {version.search(l).group(1) for l in ref_lines}
seq = [version.search(l).group(1) for l in new_lines]
switches = [i for i in range(1, len(seq)) if seq[i] != seq[i - 1]]
print("config_version: reference %s; reloaded run %s, switching once at record %s of %d"
      % (sorted(ref_versions), sorted(set(seq)), switches, len(seq)))
assert len(ref_versions) == 1 and seq[0] in ref_versions, "records before the reload"
assert len(switches) == 1, "records after the reload must carry the new config_version"
PY
  ;;

reload_models)
  "$sw" gen --stores 3 --skus 20 --days 40 --seed 5 --quiet --out gen.jsonl
  # Plus a metric series every 10 minutes with one burst at 80 % of the span (after the
  # reload), merged in time order: the anomaly the new thresholds must keep quiet.
  python3 - gen.jsonl all.jsonl <<'PY'
import datetime as dt, json, random, sys
lines = open(sys.argv[1]).read().splitlines()
def parse(s):
    if isinstance(s, (int, float)):
        return dt.datetime.fromtimestamp(s / 1000, dt.timezone.utc)
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
ts = [parse(json.loads(l)["ts"]) for l in lines]
t0, t1 = min(ts), max(ts)
burst = t0 + (t1 - t0) * 0.8
rng = random.Random(7)
metrics, t = [], t0
while t < t1:
    v = 50 + rng.uniform(-1, 1) + (500 if burst <= t < burst + dt.timedelta(minutes=30) else 0)
    metrics.append((t, json.dumps({"type": "metric", "ts": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                   "series": "pos.latency", "value": round(v, 3)})))
    t += dt.timedelta(minutes=10)
merged = sorted([(a, 0, i, l) for i, (a, l) in enumerate(zip(ts, lines))] +
                [(a, 1, i, l) for i, (a, l) in enumerate(metrics)])
open(sys.argv[2], "w").write("".join(m[3] + "\n" for m in merged))
PY
  total=$(wc -l < all.jsonl)
  half=$((total / 2))
  cut_ts=$(sed -n "${half}p" all.jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["ts"])')
  write_cfg() {  # write_cfg PATH [ANOMALY SETTINGS] [FORECAST SETTINGS] [OUT DIR]
    cat > "$1" <<YAML
source: {kind: file, file: {path: live.jsonl, follow: true}}
state: {dir: state, checkpoint_interval_ms: 200}
sinks: {file: {dir: ${4:-out}}}
metrics: {listen: 127.0.0.1:$port}
operators:
  anomaly: {enabled: true${2:+, $2}}
  forecast: {${3:-}}
YAML
  }
  mkdir ref
  (
    cd ref
    cp ../all.jsonl live.jsonl
    write_cfg cfg.yaml
    "$sw" run --config cfg.yaml --quiet > ../run-ref.log 2>&1 &
    echo $! > pid
  )
  wait_read "$total" 120
  kill -TERM "$(cat ref/pid)"
  while kill -0 "$(cat ref/pid)" 2>/dev/null; do sleep 0.1; done

  head -n "$half" all.jsonl > live.jsonl
  write_cfg cfg.yaml
  "$sw" run --config cfg.yaml --quiet > run.log 2>&1 &
  pid=$!
  pids+=($pid)
  wait_for 30 curl -fs "$url/healthz" || fail "not serving"
  wait_read "$half" 60
  # Keys that shape model state, and the file sink's directory, are refused by name.
  write_cfg cfg.yaml "" "horizon: 14"
  body=$(curl -s -X POST "$url/admin/reload")
  [[ "$body" == *"operators.forecast.horizon cannot change while running; restart to apply"* ]] ||
    fail "forecast.horizon: $body"
  write_cfg cfg.yaml "bucket: 2h"
  body=$(curl -s -X POST "$url/admin/reload")
  [[ "$body" == *"operators.anomaly.bucket cannot change while running; restart to apply"* ]] ||
    fail "anomaly.bucket: $body"
  write_cfg cfg.yaml "" "" out2
  body=$(curl -s -X POST "$url/admin/reload")
  [[ "$body" == *"sinks.file.dir cannot change while running; restart to apply"* ]] ||
    fail "sinks.file.dir: $body"
  [ "$(code "$url/healthz")" = 200 ] || fail "not serving after rejected reloads"
  # The real change, by SIGHUP: anomaly thresholds out of reach, no forecast records.
  write_cfg cfg.yaml "thresholds: {warning: 1, critical: 1, emergency: 1}" "emit: none"
  kill -HUP "$pid"
  wait_for 10 grep -q "reload applied: changed .*operators.anomaly.thresholds.warning" run.log ||
    fail "reload not applied"
  grep "reload applied" run.log | grep "operators.forecast.emit" > /dev/null || fail "forecast.emit not applied"
  finish_live_run
  python3 - "$cut_ts" <<'PY' || fail "outputs"
import json, re, sys
cut = sys.argv[1]
version = re.compile(r'"config_version":"[0-9a-f]+",?')
def lines(path):
    return [version.sub("", l) for l in open(path).read().splitlines()]
def recs(path):
    return [json.loads(l) for l in lines(path)]
ts = lambda r: r.get("ts") or r.get("time") or ""
ref, new = recs("ref/out/alerts.jsonl"), recs("out/alerts.jsonl")
anom = lambda rs, f: [r for r in rs if r.get("type") == "anomaly" and r.get("status") == "firing"
                      and f(ts(r))]
# Events of the last out_of_orderness (5 min) before the newest one read were still held
# (event-time order) at the reload and met the new thresholds: 'before' is older than that.
from datetime import datetime, timedelta
before = (datetime.fromisoformat(cut.replace("Z", "+00:00")) - timedelta(minutes=6)).strftime(
    "%Y-%m-%dT%H:%M:%S")
ref_before, new_before = anom(ref, lambda t: t < before), anom(new, lambda t: t < before)
ref_after, new_after = anom(ref, lambda t: t >= cut), anom(new, lambda t: t >= cut)
print("anomaly firings before/after the reload: reference %d/%d, reloaded %d/%d"
      % (len(ref_before), len(ref_after), len(new_before), len(new_after)))
assert [r["id"] for r in new_before] == [r["id"] for r in ref_before], "old thresholds before"
assert ref_after, "the input has no anomaly after the cut: the check would prove nothing"
assert not new_after, "the new anomaly thresholds are not in effect"
# Other operators' alerts do not depend on anomaly alerts or forecast records: identical.
other = lambda rs: [json.dumps(r, sort_keys=True) for r in rs
                    if r.get("type") in ("low_stock", "stockout", "overstock", "expiry",
                                         "transfer", "receipt_overdue", "forecast_drift")]
assert other(new) == other(ref), "low_stock/forecast_drift alerts differ: state lost or input re-read"
rf, nf = lines("ref/out/forecasts.jsonl"), lines("out/forecasts.jsonl")
last_new = json.loads(nf[-1])["time"] if nf else ""
print("forecast records: reference %d, reloaded %d (last at %s, cut %s)"
      % (len(rf), len(nf), last_new, cut))
assert nf == rf[:len(nf)], "forecasts before the reload differ"
assert len(nf) < len(rf) and last_new <= cut, "forecast emit: none is not in effect"
PY
  ;;

lifecycle)
  "$sw" gen --stores 10 --skus 100 --days 60 --seed 5 --bad-rate 0.001 --quiet --out all.jsonl
  cat > cfg.yaml <<YAML
source: {kind: file, file: {path: all.jsonl}}
state: {dir: state, checkpoint_interval_ms: 300}
sinks: {file: {dir: out}}
metrics: {listen: 127.0.0.1:$port}
pipeline: {shutdown_timeout: 20s}
YAML
  "$sw" run --config cfg.yaml --quiet --set state.dir=ref-state --set sinks.file.dir=ref-out \
    --set metrics.listen=off > run-ref.log 2>&1 || fail "reference run"
  want=$(outputs_sha ref-out)

  # One SIGTERM: not ready at once, exit 0, the restart completes the same outputs.
  "$sw" run --config cfg.yaml --quiet > run1.log 2>&1 &
  pid=$!
  pids+=($pid)
  wait_read 20000 60
  kill -TERM "$pid"
  ready=200
  for _ in 1 2 3 4 5 6 7 8 9 10; do  # the signal thread acts within milliseconds
    ready=$(code "$url/readyz")
    [ "$ready" != 200 ] && break
    sleep 0.05
  done
  rc=0
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || fail "exit $rc after one SIGTERM"
  [[ "$ready" =~ ^(503|000)$ ]] || fail "/readyz answered $ready while draining"
  grep -q "SIGTERM: draining" run1.log || fail "no drain message"
  "$sw" run --config cfg.yaml --quiet > run1b.log 2>&1 || fail "restart after SIGTERM"
  [ "$(outputs_sha out)" = "$want" ] || fail "outputs after SIGTERM + restart differ"
  echo "SIGTERM (readyz $ready during the drain), exit 0, restart: outputs identical"

  # A second SIGTERM during the drain: the delivery endpoint is unreachable, so the drain
  # waits for sinks.delivery.drain_timeout (8 s); the second signal ends it at once.
  rm -rf state out
  cat >> cfg.yaml <<YAML
sinks:
  file: {dir: out}
  delivery:
    drain_timeout: 8s
    endpoints:
      pd: {kind: pagerduty, routing_key_env: SW_OPS_KEY, url: "http://127.0.0.1:9/x", backoff_initial: 5s}
YAML
  sed -i '/^sinks: {file: {dir: out}}$/d' cfg.yaml
  export SW_OPS_KEY=k
  "$sw" run --config cfg.yaml --quiet > run2.log 2>&1 &
  pid=$!
  pids+=($pid)
  wait_read 40000 60
  kill -TERM "$pid"
  sleep 2
  kill -0 "$pid" 2>/dev/null || fail "the drain did not wait for the delivery outbox"
  [[ "$(code "$url/readyz")" =~ ^(503|000)$ ]] || fail "/readyz while draining"
  t0=$(date +%s%N)
  kill -TERM "$pid"
  rc=0
  wait "$pid" || rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  [ "$rc" = 143 ] || fail "exit $rc after the second SIGTERM"
  ((ms < 2000)) || fail "the second SIGTERM took $ms ms"
  grep -q "second SIGTERM: exiting now" run2.log || fail "no second-signal message"
  "$sw" run --config cfg.yaml --quiet > run2b.log 2>&1 || fail "restart after the second SIGTERM"
  [ "$(outputs_sha out)" = "$want" ] || fail "outputs after a second SIGTERM + restart differ"
  echo "second SIGTERM mid-drain: exit 143 after $ms ms, restart: outputs identical"
  ;;
*)
  echo "unknown part $part"
  exit 2
  ;;
esac
echo "ops e2e $part: PASS"
