#!/usr/bin/env bash
# End-to-end: shelfwatch's Alertmanager sink posts alerts to a real Alertmanager, which
# notifies a local webhook receiver: each alert must arrive firing, then resolved, exactly once
# each (Alertmanager deduplicates shelfwatch's periodic re-sends).
# Usage: alertmanager_e2e.sh <delivery_e2e_tool>
# Needs /usr/bin/prometheus-alertmanager (SHELFWATCH_E2E_DEPS=1 scripts/install-deps.sh).
set -euo pipefail
tool=$1
for b in prometheus-alertmanager curl python3; do
  command -v "$b" >/dev/null || { echo "SKIP: $b not installed"; exit 77; }
done

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_workdir

aport=$(free_port)
wport=$(free_port)

# Webhook receiver: appends each notification body as one JSON line.
cat >"$work/receiver.py" <<'PY'
import http.server, json, sys
out = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "a") as f:
            f.write(json.dumps(json.loads(body)) + "\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$work/receiver.py" "$wport" "$work/notifications.jsonl" &
pids+=($!)

cat >"$work/alertmanager.yml" <<YAML
route:
  receiver: webhook
  group_by: [alertname, store, sku, series]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: http://127.0.0.1:$wport/hook
        send_resolved: true
YAML
prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$work/am" \
  --web.listen-address="127.0.0.1:$aport" --cluster.listen-address= >"$work/am.log" 2>&1 &
pids+=($!)

deadline=$((SECONDS + 30))
until curl -fs "http://127.0.0.1:$aport/-/ready" >/dev/null 2>&1; do
  ((SECONDS < deadline)) || { tail -20 "$work/am.log"; echo "FAIL: alertmanager not ready"; exit 1; }
  sleep 0.5
done

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
alert() {  # alert <id> <status> <type> <store> <sku> <severity>
  printf '{"id":"%s","type":"%s","status":"%s","severity":"%s","store":"%s","sku":"%s","time":"%s","summary":"%s %s at %s","details":{"on_hand":2},"schema_version":1}\n' \
    "$1" "$3" "$2" "$6" "$4" "$5" "$now" "$3" "$5" "$4"
}
{
  alert e2e-a firing low_stock S0001 SKU-000001 critical
  alert e2e-b firing stockout S0002 SKU-000002 emergency
  echo "#sleep 5000"   # firing phase: several 1 s re-sends reach Alertmanager
  alert e2e-a resolved low_stock S0001 SKU-000001 critical
  alert e2e-b resolved stockout S0002 SKU-000002 emergency
} >"$work/alerts.jsonl"

cat >"$work/sink.yaml" <<YAML
sinks:
  delivery:
    endpoints:
      am:
        kind: alertmanager
        urls: [http://127.0.0.1:$aport]
        resend_interval: 1s
YAML
"$tool" deliver --config "$work/sink.yaml" --alerts "$work/alerts.jsonl"

# Wait for both resolved notifications, then a little longer to catch late duplicates.
python3 - "$work/notifications.jsonl" <<'PY'
import json, sys, time, collections
path = sys.argv[1]
def load():
    try:
        return [json.loads(l) for l in open(path)]
    except FileNotFoundError:
        return []
deadline = time.time() + 30
while time.time() < deadline:
    seen = collections.Counter()
    for n in load():
        for a in n["alerts"]:
            seen[(a["annotations"].get("alert_id"), a["status"])] += 1
    if seen[("e2e-a", "resolved")] and seen[("e2e-b", "resolved")]:
        break
    time.sleep(0.5)
time.sleep(4)
notes = load()
events = collections.Counter()
order = collections.defaultdict(list)
for n in notes:
    for a in n["alerts"]:
        key = a["annotations"].get("alert_id")
        events[(key, a["status"])] += 1
        order[key].append(a["status"])
        assert a["labels"]["source"] == "shelfwatch", a
print("notifications:", len(notes), dict(events))
expect = {("e2e-a", "firing"): 1, ("e2e-a", "resolved"): 1, ("e2e-b", "firing"): 1, ("e2e-b", "resolved"): 1}
assert dict(events) == expect, "want exactly one firing and one resolved per alert, got %s" % dict(events)
for k in ("e2e-a", "e2e-b"):
    assert order[k] == ["firing", "resolved"], (k, order[k])
labels = {a["annotations"]["alert_id"]: a["labels"] for n in notes for a in n["alerts"]}
assert labels["e2e-a"]["alertname"] == "low_stock" and labels["e2e-a"]["store"] == "S0001", labels
assert labels["e2e-b"]["severity"] == "emergency" and labels["e2e-b"]["sku"] == "SKU-000002", labels
print("alertmanager e2e: PASS")
PY
