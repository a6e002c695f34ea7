#!/usr/bin/env bash
# End-to-end: deliveries to a PagerDuty-like receiver that refuses connections at first, then
# answers slowly (past the client timeout), 500 and 429 with Retry-After; the delivering
# process is killed with SIGKILL mid-delivery and restarted on the same RocksDB state.
# Afterwards every alert has exactly one incident per dedup key (a 202-accepted trigger), every
# resolve was accepted, no unknown key appears, and the outbox is empty.
# Usage: delivery_restart_e2e.sh <delivery_e2e_tool>
set -euo pipefail
tool=$1
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')

# PagerDuty-like receiver: the first requests get faults, the rest 202. Records every request.
cat >"$work/pd.py" <<'PY'
import http.server, json, sys, time, threading
port, out = int(sys.argv[1]), sys.argv[2]
faults = ["slow", "500", "429", "ok", "ok", "500", "ok", "ok", "slow", "ok", "429"]
lock = threading.Lock()
n = [0]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        with lock:
            i = n[0]; n[0] += 1
        fault = faults[i] if i < len(faults) else "ok"
        if fault == "slow":
            time.sleep(1.5)          # the client gives up after 1 s; we still accept it
        code = {"500": 500, "429": 429}.get(fault, 202)
        with lock, open(out, "a") as f:
            f.write(json.dumps({"key": body["dedup_key"], "action": body["event_action"],
                                "code": code}) + "\n")
        try:
            self.send_response(code)
            if code == 429:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
        except (BrokenPipeError, ConnectionResetError):
            pass                     # the client timed out on a slow answer
    def log_message(self, *a): pass
class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
S(("127.0.0.1", port), H).serve_forever()
PY

export SW_E2E_PD_KEY=e2e-routing-key
cat >"$work/sink.yaml" <<YAML
sinks:
  delivery:
    endpoints:
      oncall:
        kind: pagerduty
        url: http://127.0.0.1:$port/v2/enqueue
        routing_key_env: SW_E2E_PD_KEY
        timeout: 1s
        backoff_initial: 100ms
        backoff_max: 400ms
        breaker_failures: 1000
        rate_per_min: 300
YAML
python3 - >"$work/alerts.jsonl" <<'PY'
import json
for i in range(30):
    print(json.dumps({"id": "k%02d" % i, "type": "low_stock", "status": "firing", "severity": "critical",
                      "store": "S%04d" % (i % 5), "sku": "SKU-%06d" % i, "time": "2026-11-25T10:00:00Z",
                      "summary": "low stock %d" % i, "details": {"on_hand": i}}))
for i in range(0, 30, 3):
    print(json.dumps({"id": "k%02d" % i, "type": "low_stock", "status": "resolved", "severity": "critical",
                      "store": "S%04d" % (i % 5), "sku": "SKU-%06d" % i, "time": "2026-11-25T11:00:00Z",
                      "summary": "resolved %d" % i, "details": {}}))
PY

# Run 1: the receiver is down (connection refused); it comes up 1.5 s later and goes through
# its faults; kill -9 once it has accepted 5 posts (of 40), so the kill lands mid-delivery
# however slow this machine is (a fixed delay was flaky under ASan on a loaded machine).
"$tool" deliver --config "$work/sink.yaml" --alerts "$work/alerts.jsonl" --state "$work/state" \
  >"$work/run1.log" 2>&1 &
run1=$!
pids+=($run1)
sleep 1.5
python3 "$work/pd.py" "$port" "$work/requests.jsonl" &
pids+=($!)
accepted() {  # 0 before the receiver has written its log
  local n
  n=$(grep -c '"code": 202' "$work/requests.jsonl" 2>/dev/null) || true
  echo "${n:-0}"
}
deadline=$((SECONDS + 120))
until (( $(accepted) >= 5 )); do
  ((SECONDS < deadline)) || { echo "FAIL: the receiver accepted fewer than 5 posts in 120 s"; exit 1; }
  kill -0 "$run1" 2>/dev/null || { echo "FAIL: run 1 ended before the kill"; cat "$work/run1.log"; exit 1; }
  sleep 0.02
done
kill -9 "$run1"
wait "$run1" 2>/dev/null || true
accepted_before=$(grep -c '"code": 202' "$work/requests.jsonl" || true)
echo "killed run 1 after ${accepted_before} accepted requests"

# Run 2: same state, no new alerts: recover the outbox and drain it.
: >"$work/empty.jsonl"
"$tool" deliver --config "$work/sink.yaml" --alerts "$work/empty.jsonl" --state "$work/state" | tee "$work/run2.log"
grep -q 'outbox_left=0' "$work/run2.log"
recovered=$(sed -n 's/^recovered=//p' "$work/run2.log")
echo "run 2 recovered ${recovered} pending deliveries"
test "$recovered" -gt 0 || { echo "FAIL: the kill did not happen mid-delivery (nothing pending)"; exit 1; }
test "$recovered" -lt 40 || { echo "FAIL: run 1 finished no delivery before the kill"; exit 1; }

python3 - "$work/requests.jsonl" <<'PY'
import json, sys, collections
reqs = [json.loads(l) for l in open(sys.argv[1])]
accepted = collections.Counter((r["key"], r["action"]) for r in reqs if r["code"] == 202)
triggers = {k for (k, a) in accepted if a == "trigger"}
resolves = {k for (k, a) in accepted if a == "resolve"}
want_t = {"k%02d" % i for i in range(30)}
want_r = {"k%02d" % i for i in range(0, 30, 3)}
dups = sum(c - 1 for c in accepted.values())
print("requests: %d, accepted: %d, incidents: %d, resolves: %d, duplicate accepted posts "
      "(same dedup key, absorbed by the receiver): %d" % (len(reqs), sum(accepted.values()),
      len(triggers), len(resolves), dups))
assert triggers == want_t, sorted(want_t ^ triggers)
assert resolves == want_r, sorted(want_r ^ resolves)
# Per dedup key, a resolve is never accepted before the key's first trigger.
first = {}
for i, r in enumerate(reqs):
    if r["code"] == 202:
        first.setdefault((r["key"], r["action"]), i)
for k in want_r:
    assert first[(k, "trigger")] < first[(k, "resolve")], k
print("delivery restart e2e: PASS")
PY
