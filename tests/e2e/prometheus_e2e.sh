#!/usr/bin/env bash
# End-to-end: a real Prometheus scrapes a process serving shelfwatch's /metrics; every query of
# every dashboard panel (variables substituted) must return data through Prometheus's HTTP API;
# promtool checks the exposition and the alerting rules and runs the rules' unit tests.
# Usage: prometheus_e2e.sh <delivery_e2e_tool> <source dir>
# Needs /usr/bin/prometheus and promtool (SHELFWATCH_E2E_DEPS=1 scripts/install-deps.sh).
set -euo pipefail
tool=$1
src=$2
for b in prometheus promtool curl python3; do
  command -v "$b" >/dev/null || { echo "SKIP: $b not installed"; exit 77; }
done

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_workdir

mport=$(free_port)
pport=$(free_port)

# The process under test (stands in for `shelfwatch run` until run serves metrics.listen).
"$tool" serve --listen "127.0.0.1:$mport" --seconds 120 >"$work/tool.log" 2>&1 &
pids+=($!)

cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $src/dashboards/rules/shelfwatch.rules.yml
scrape_configs:
  - job_name: shelfwatch
    static_configs:
      - targets: ['127.0.0.1:$mport']
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$pport" >"$work/prometheus.log" 2>&1 &
pids+=($!)

wait_for 30 curl -fs "http://127.0.0.1:$mport/healthz" || { cat "$work/tool.log"; echo "FAIL: metrics endpoint never came up"; exit 1; }
wait_for 30 curl -fs "http://127.0.0.1:$pport/-/ready" || { tail -20 "$work/prometheus.log"; echo "FAIL: prometheus not ready"; exit 1; }

# The HTTP endpoints beside /metrics.
# Readiness may follow liveness (the process marks itself ready once set up): wait for it.
wait_for 30 curl -fs "http://127.0.0.1:$mport/readyz" || { echo "FAIL: /readyz never ready"; exit 1; }
test "$(curl -fs "http://127.0.0.1:$mport/readyz")" = ready || { echo "FAIL: /readyz body"; exit 1; }
test "$(curl -fs "http://127.0.0.1:$mport/state/S0001/SKU-1")" = \
  '{"store":"S0001","sku":"SKU-1","on_hand":3}' || { echo "FAIL: /state of a known key"; exit 1; }
test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/state/S0001/SKU-404")" = \
  404 || { echo "FAIL: /state of an unknown key is not 404"; exit 1; }
curl -fs "http://127.0.0.1:$mport/alerts" | python3 -c 'import json,sys; assert isinstance(json.load(sys.stdin), list)'

# promtool lints the exposition (names, units, _total, HELP).
curl -fs "http://127.0.0.1:$mport/metrics" >"$work/metrics.txt"
promtool check metrics <"$work/metrics.txt"
echo "promtool check metrics: OK ($(grep -c '^shelfwatch_' "$work/metrics.txt") samples)"

# Let Prometheus collect enough samples for rate() windows, then query every panel.
query_ok() {
  curl -fs "http://127.0.0.1:$pport/api/v1/query" --data-urlencode 'query=up{job="shelfwatch"} == 1' |
    python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["data"]["result"] else 1)'
}
wait_for 30 query_ok || { echo "FAIL: target never up"; exit 1; }
sleep 20

python3 - "$src" "$pport" <<'PY'
import json, sys, urllib.parse, urllib.request, glob
src, port = sys.argv[1], sys.argv[2]
subst = {"$__rate_interval": "15s", "$__interval": "1s", "$__range": "5m", "$job": "shelfwatch",
         "$endpoint": ".*"}
failures, checked = [], 0
for path in sorted(glob.glob(src + "/dashboards/*.json")):
    d = json.load(open(path))
    assert d["schemaVersion"] >= 36, path
    names = [v["name"] for v in d["templating"]["list"]]
    assert names[0] == "DS_PROMETHEUS" and d["templating"]["list"][0]["type"] == "datasource", path
    for p in d["panels"]:
        assert p["datasource"]["uid"] == "${DS_PROMETHEUS}", (path, p["title"])
        for t in p["targets"]:
            expr = t["expr"]
            for k in sorted(subst, key=len, reverse=True):
                expr = expr.replace(k, subst[k])
            assert "$" not in expr, ("unsubstituted variable", expr)
            url = "http://127.0.0.1:%s/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": expr}))
            r = json.load(urllib.request.urlopen(url))
            checked += 1
            if r["status"] != "success" or not r["data"]["result"]:
                failures.append("%s / %s: %s -> %s" % (path.split("/")[-1], p["title"], expr, r.get("data", r)))
print("dashboard queries checked: %d, empty or failed: %d" % (checked, len(failures)))
for f in failures:
    print("EMPTY:", f)
sys.exit(1 if failures else 0)
PY

# Rules load into the real Prometheus, and pass promtool's checks and unit tests.
curl -fs "http://127.0.0.1:$pport/api/v1/rules" |
  python3 -c 'import json,sys; g=json.load(sys.stdin)["data"]["groups"]; n=sum(len(x["rules"]) for x in g); print("rules loaded:", n); sys.exit(0 if n >= 9 else 1)'
promtool check rules "$src/dashboards/rules/shelfwatch.rules.yml"
(cd "$src/dashboards/rules" && promtool test rules shelfwatch.rules.test.yml)
echo "prometheus e2e: PASS"
