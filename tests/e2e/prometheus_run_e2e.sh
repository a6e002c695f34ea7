#!/usr/bin/env bash
# End-to-end with the real binary: `shelfwatch run` (file source in follow mode, fed while
# it runs) serves /metrics, /healthz, /readyz, /state and /alerts; a real Prometheus scrapes
# it; every query of the three dashboards returns data, except the panels listed in
# NEEDS_OTHER (series only a Kafka source produces). Alerts are
# delivered to a local webhook receiver through PagerDuty and Alertmanager endpoints.
# Usage: prometheus_run_e2e.sh <shelfwatch> <source dir>
set -euo pipefail
sw=$1
src=$2
for b in prometheus curl python3; do
  command -v "$b" >/dev/null || { echo "SKIP: $b not installed"; exit 77; }
done
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_workdir
cd "$work"
mport=$(free_port)
pport=$(free_port)
rport=$(free_port)

# A webhook receiver for the delivery endpoints: answers 400 to every 7th request, 500 to
# every 3rd, and accepts the rest, so every delivery outcome happens.
cat > receiver.py <<'PY'
import http.server, sys
n = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global n
        n += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        code = 400 if n % 7 == 0 else 500 if n % 3 == 0 else 202
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 receiver.py "$rport" &
pids+=($!)
cat > delivery.yaml <<YAML
sinks:
  delivery:
    endpoints:
      pd:
        kind: pagerduty
        routing_key_env: SW_TEST_PD_KEY
        url: http://127.0.0.1:$rport/v2/enqueue
        backoff_initial: 100ms
        backoff_max: 1s
        rate_per_min: 6000
      am:
        kind: alertmanager
        urls: [http://127.0.0.1:$rport]
        resend_interval: 2s
        backoff_initial: 100ms
        backoff_max: 1s
YAML
export SW_TEST_PD_KEY=test-routing-key

"$sw" gen --stores 5 --skus 40 --days 30 --seed 3 --bad-rate 0.01 --quiet --out all.jsonl
total=$(wc -l < all.jsonl)
head -n $((total / 3)) all.jsonl > live.jsonl
"$sw" run --set source.file.path=live.jsonl --set source.file.follow=true --set state.dir=state \
  --set sinks.file.dir=out --set metrics.listen="127.0.0.1:$mport" --set state.checkpoint_interval_ms=200 \
  --config delivery.yaml --quiet > run.log 2>&1 &
pids+=($!)
# Keep feeding the rest while Prometheus scrapes, so rates are non-zero.
( tail -n +$((total / 3 + 1)) all.jsonl | split -l 2000 - chunk.
  for c in chunk.*; do cat "$c" >> live.jsonl; sleep 1; done ) &
pids+=($!)

cat > prometheus.yml <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [$src/dashboards/rules/shelfwatch.rules.yml]
scrape_configs:
  - job_name: shelfwatch
    static_configs: [{targets: ['127.0.0.1:$mport']}]
YAML
prometheus --config.file=prometheus.yml --storage.tsdb.path=tsdb --web.listen-address="127.0.0.1:$pport" \
  > prometheus.log 2>&1 &
pids+=($!)

wait_for 30 curl -fs "http://127.0.0.1:$mport/readyz" || { cat run.log; echo "FAIL: shelfwatch not ready"; exit 1; }
wait_for 30 curl -fs "http://127.0.0.1:$pport/-/ready" || { echo "FAIL: prometheus not ready"; exit 1; }

# Queryable state from the live operators, and open alerts.
curl -fs "http://127.0.0.1:$mport/state/S0001/SKU-000001" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["store"] == "S0001" and "low_stock" in d and "forecast" in d, d
assert "on_hand" in d["low_stock"], d["low_stock"]'
test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/state/S0001/NO-SUCH-SKU")" = 404
sleep 3
curl -fs "http://127.0.0.1:$mport/alerts" | python3 -c '
import json, sys
a = json.load(sys.stdin)
assert isinstance(a, list) and a and all(x["status"] == "firing" for x in a), a[:2]
print("open alerts served:", len(a))'
curl -fs "http://127.0.0.1:$mport/metrics" > metrics.txt
promtool check metrics < metrics.txt
sleep 20

python3 - "$src" "$pport" <<'PY'
import json, sys, urllib.parse, urllib.request
src, port = sys.argv[1], sys.argv[2]
subst = {"$__rate_interval": "15s", "$__interval": "1s", "$__range": "5m", "$job": "shelfwatch",
         "$endpoint": ".*", "$store": ".*"}
# Series a file-source pipeline cannot produce.
NEEDS_OTHER = ("consumer_lag",)
checked, skipped, failures = 0, 0, []
for name in ("overview", "retail", "delivery"):
    d = json.load(open("%s/dashboards/shelfwatch-%s.json" % (src, name)))
    for p in d["panels"]:
        for t in p.get("targets", []):
            expr = t["expr"]
            for k in sorted(subst, key=len, reverse=True):
                expr = expr.replace(k, subst[k])
            if any(n in expr for n in NEEDS_OTHER):
                skipped += 1
                continue
            url = "http://127.0.0.1:%s/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": expr}))
            r = json.load(urllib.request.urlopen(url))
            checked += 1
            if r["status"] != "success" or not r["data"]["result"]:
                failures.append("%s / %s: %s" % (name, p["title"], expr))
print("panel queries against shelfwatch run: %d checked, %d need Kafka, %d empty" %
      (checked, skipped, len(failures)))
for f in failures:
    print("EMPTY:", f)
sys.exit(1 if failures or checked < 10 else 0)
PY
echo "prometheus run e2e: PASS"
