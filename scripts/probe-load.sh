#!/usr/bin/env bash
# A stop-gap system measurement until `callplane bench` exists: one release
# callplane (1 shard) pinned to core 0, sipp pinned to core 1, 100 concurrent
# calls that each press a digit; prints callplane's CPU seconds over the run,
# the CDR count and the shard's datagram and syscall counters.
#   usage: scripts/probe-load.sh uring|epoll [SIP_PORT]
# Run both backends back to back: the machines are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
io=${1:?uring or epoll}
port=${2:-5800}
bin=target/release/callplane
[ -x "$bin" ] || cargo build --release
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf 'SEQUENTIAL\n' > "$dir/inj.csv"
for i in $(seq 1 100); do echo $(( (i % 2) + 1 )) >> "$dir/inj.csv"; done
taskset -c 0 "$bin" serve --listen "127.0.0.1:$port" --rtp-ports 40000-40999 --shards 1 \
    --io "$io" --data-dir "$dir/data" > "$dir/log" 2>&1 &
pid=$!
sleep 1
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
t0=$(ticks); s0=$(date +%s.%N)
taskset -c 1 sipp "127.0.0.1:$port" -sf tests/sipp/uac_dtmf_load.xml -s 1000 -inf "$dir/inj.csv" \
    -key dtmf_pcap_1 /usr/share/sip-tester/dtmf_2833_1.pcap \
    -key dtmf_pcap_2 /usr/share/sip-tester/dtmf_2833_2.pcap \
    -set dtmf_delay_ms 3000 -mp 41000 -p $((port + 1)) -l 100 -m 100 -r 50 \
    -timeout 60s -timeout_error -bg > /dev/null 2>&1 || true  # -bg: sipp forks; its exit says nothing
for _ in $(seq 1 120); do
    [ "$(wc -l < "$dir/data/cdr.jsonl" 2>/dev/null || echo 0)" -ge 100 ] && break
    sleep 0.5
done
t1=$(ticks); s1=$(date +%s.%N)
kill "$pid"; wait "$pid" 2>/dev/null || true
hz=$(getconf CLK_TCK)
awk -v io="$io" -v t0="$t0" -v t1="$t1" -v hz="$hz" -v s0="$s0" -v s1="$s1" \
    -v cdrs="$(wc -l < "$dir/data/cdr.jsonl")" \
    'BEGIN { printf "io=%s cdrs=%d wall_s=%.1f cpu_s=%.2f\n", io, cdrs, s1 - s0, (t1 - t0) / hz }'
grep -o "datagrams in [0-9]* out [0-9]*, syscalls [0-9]*" "$dir/log" || true
