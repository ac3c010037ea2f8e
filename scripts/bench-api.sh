#!/bin/bash
# Usage: scripts/bench-api.sh [CALLS] [SECONDS] (after cargo build; BIN= to choose the binary).
# API latency under call load, and the calls' RTP timing with and without API load.
# A server with the API runs a flow that answers and waits at a block action;
# `callplane bench call` holds CALLS concurrent calls for SECONDS and reports
# what the callers received (jitter, gaps between RTP packets). The same run is
# made twice: once alone, once while a client times flow creates
# (POST /v1/call-flows) and live-call interrupts (POST /v1/calls/{id}/actions,
# a talk) one after another; p50/p99 of each are printed with the two runs' RTP figures.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/debug/callplane}
CALLS=${1:-200}; SECS=${2:-20}
D=$(mktemp -d /tmp/callplane-bench-api-XXXXXX)
SIP=127.0.0.1:25761; API=127.0.0.1:28761; KEY=bench-api-key-0001; WS=benchws
cat > $D/callplane.toml <<TOML
[routing]
default_flow = ""
[api]
listen = "$API"
rate_per_second = 100000
rate_burst = 100000
[[api.keys]]
name = "bench"
key = "$KEY"
workspaces = ["$WS"]
TOML
$BIN serve --config $D/callplane.toml --listen $SIP --data-dir $D/data --rtp-ports 32000-33999 --metrics-listen 127.0.0.1:29761 > $D/server.log 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
sleep 2
python3 - "$API" "$KEY" "$WS" setup <<'PY'
import http.client, json, sys
api, key, ws = sys.argv[1:4]
host, port = api.split(":")
c = http.client.HTTPConnection(host, int(port), timeout=10)
h = {"x-api-key": key, "x-workspace-id": ws, "content-type": "application/json"}
def req(m, p, b=None):
    c.request(m, p, body=None if b is None else json.dumps(b), headers=h)
    r = c.getresponse(); t = r.read()
    assert r.status < 300, (m, p, r.status, t)
    return json.loads(t) if t else None
flow = req("POST", "/v1/call-flows", {"name": "held", "actions": [
    {"type": "answer"}, {"id": "wait", "type": "block"}, {"type": "hangup"}]})
req("POST", "/v1/numbers", {"number": "1000", "flowId": flow["_id"]})
req("POST", f"/v1/call-flows/{flow['_id']}/versions/1/publish")
PY
bench() {  # $1: report dir
  $BIN bench call $SIP --calls $CALLS --concurrent $CALLS --cps 100 --no-press --expect none \
    --hangup-after $SECS --max-call-time $((SECS + 10)) --out $1 > $1.out 2>&1 || true
}
mkdir -p $D/alone $D/loaded
bench $D/alone
bench $D/loaded &
BENCH=$!
sleep 4
python3 - "$API" "$KEY" "$WS" load $((SECS - 6)) <<'PY'
import http.client, json, sys, time
api, key, ws, _, secs = sys.argv[1:6]
host, port = api.split(":")
c = http.client.HTTPConnection(host, int(port), timeout=10)
h = {"x-api-key": key, "x-workspace-id": ws, "content-type": "application/json"}
def timed(m, p, b=None):
    t0 = time.perf_counter()
    c.request(m, p, body=None if b is None else json.dumps(b), headers=h)
    r = c.getresponse(); body = r.read()
    return (time.perf_counter() - t0) * 1000, r.status, body
calls = json.loads(timed("GET", "/v1/calls")[2])["data"]
ids = [x["id"] for x in calls]
creates, interrupts, bad = [], [], 0
end = time.time() + float(secs); i = 0
while time.time() < end:
    ms, st, _ = timed("POST", "/v1/call-flows", {"name": f"f{i}", "actions": [{"type": "answer"}, {"type": "hangup"}]})
    creates.append(ms); bad += st != 201
    if ids:
        ms, st, _ = timed("POST", f"/v1/calls/{ids[i % len(ids)]}/actions", {"type": "talk", "option": {"text": "Welcome to callplane."}})
        interrupts.append(ms); bad += st != 200
    i += 1
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")
print(f"calls listed by the API: {len(ids)}")
print(f"flow create: n={len(creates)} p50={pct(creates,.5):.2f} ms p99={pct(creates,.99):.2f} ms")
print(f"interrupt:   n={len(interrupts)} p50={pct(interrupts,.5):.2f} ms p99={pct(interrupts,.99):.2f} ms")
print(f"non-2xx answers: {bad}")
PY
wait $BENCH
for run in alone loaded; do
  python3 - $D/$run/report.json $run <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
def find(d, *keys):
    for k in keys:
        if isinstance(d, dict) and k in d: return d[k]
    return None
print(sys.argv[2], json.dumps({k: v for k, v in r.items() if not isinstance(v, list)}, sort_keys=True)[:1500])
PY
done
echo "dir=$D"
