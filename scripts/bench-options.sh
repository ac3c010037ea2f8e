#!/bin/bash
# Usage: scripts/bench-options.sh RATE COUNT [epoll|uring] (after cargo build --release).
# OPTIONS transactions one pinned shard handles: server on core 0 (1 shard, epoll),
# sipp on core 1 sending OPTIONS at RATE for N; CPU time of the server from /proc.
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/callplane}
RATE=${1:-4000}; N=${2:-40000}; IO=${3:-epoll}
D=$(mktemp -d)
taskset -c 0 $BIN serve --listen 127.0.0.1:15060 --shards 1 --io $IO --data-dir $D --rtp-ports 30000-30999 > $D/server.log 2>&1 &
PID=$!
sleep 1
t0=$(awk '{print $14+$15}' /proc/$PID/stat)
rcvbuf0=$(awk '/^Udp:/ && $2 ~ /^[0-9]+$/ {print $6}' /proc/net/snmp)
s0=$(date +%s.%N)
taskset -c 1 sipp -sf tests/sipp/uac_options.xml -i 127.0.0.1 -p 15070 -r $RATE -m $N -l 2000 -buff_size 4194304 -timeout 60s -nostdin -trace_stat -stf $D/stats.csv 127.0.0.1:15060 > $D/sipp.out 2>&1
s1=$(date +%s.%N)
t1=$(awk '{print $14+$15}' /proc/$PID/stat)
rcvbuf1=$(awk '/^Udp:/ && $2 ~ /^[0-9]+$/ {print $6}' /proc/net/snmp)
kill -TERM $PID; wait $PID 2>/dev/null
tck=$(getconf CLK_TCK)
# Cumulative columns of sipp's -trace_stat: SuccessfulCall(C) and FailedCall(C).
ok=$(tail -1 $D/stats.csv | awk -F';' '{print $16}')
fail=$(tail -1 $D/stats.csv | awk -F';' '{print $18}')
python3 - <<PY
cpu=($t1-$t0)/$tck; wall=$s1-$s0
print(f"rate={$RATE}/s n={$N} io=$IO wall={wall:.2f}s server_cpu={cpu:.2f}s cpu_share={cpu/wall*100:.1f}%  per_cpu_second={$N/cpu if cpu>0 else 0:.0f} OPTIONS/s")
PY
grep -o "Successful call[^|]*|[^|]*" $D/sipp.out | tail -1
echo "succ=$ok fail=$fail kernel_udp_rcvbuf_drops=$((rcvbuf1-rcvbuf0)) dir=$D"
