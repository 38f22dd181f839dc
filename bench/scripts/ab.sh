#!/bin/bash
# One ceiling run against one gateway build, and its line for an A/B table:
# the closed loop's peak, the ratio to bare axum, and in the open loop p50,
# p99, the dispatcher's lag and the gateway's CPU per start (from
# /proc/<pid>/stat over 4 s, starting 2 s into the open loop).
#
#   bench/scripts/ab.sh NAME GATEWAY_BINARY OUT_DIR [load flags, e.g. --rate 8000]
#
# Run from the repository root, with a release build of the load driver
# (cargo build --release -p resetgate-bench), nothing else busy, and builds
# alternating. Linux only. The CPU window needs an open loop of 7 s or more
# (the --duration here, 8; a later --duration overrides it).
#
# With HEARTBEAT=1, bench/scripts/heartbeat.py runs beside it and writes
# OUT_DIR.heartbeat.csv, for `open_loop_gaps.py --heartbeat` (was a stall
# the machine's?).
set -euo pipefail
name=$1 bin=$2 out=$3
shift 3
beat=""
if [ "${HEARTBEAT:-}" = 1 ]; then
    python3 "$(dirname "$0")/heartbeat.py" "$out.heartbeat.csv" 2> /dev/null &
    beat=$!
fi
target/release/load --scenario ceiling --bin "$bin" --users 1000 --duration 8 --warmup 1 \
    --out "$out" "$@" > "$out.log" 2>&1 &
load=$!
trap 'kill "$load" $beat 2> /dev/null || true' EXIT
for _ in $(seq 1 600); do
    grep -q "gateway, open loop" "$out.log" 2>/dev/null && break
    sleep 0.2
done
if ! grep -q "gateway, open loop" "$out.log"; then
    echo "ab.sh: no open loop within 120 s; see $out.log" >&2
    exit 1
fi
sleep 2
# The gateway the driver started: the newest process of the binary's name
# (as the kernel keeps it, 15 characters at most).
pid=$(pgrep -x -n "$(basename "$bin" | cut -c1-15)")
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(ticks)
sleep 4
after=$(ticks)
wait "$load"
[ -z "$beat" ] || kill "$beat"
python3 - "$out" "$name" "$before" "$after" "$(getconf CLK_TCK)" <<'PY'
import json, sys
out, name, before, after, hz = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
j = json.load(open(f"{out}/ceiling.json"))
o = j["gateway_open_loop"]
rate = o["offered_per_s"]
cores = (after - before) / hz / 4
print(f'{name}: closed {j["gateway_closed_loop"]["throughput_per_s"]:.0f}/s'
      f' ratio {j["ratio_gateway_to_bare"] * 100:.1f}%'
      f' open@{rate:.0f} p50 {o["result"]["p50_us"]}us p99 {j["open_loop_p99_us"]}us'
      f' lag {o["max_dispatch_lag_us"]}us cores {cores:.2f} us/start {cores * 1e6 / rate:.0f}')
PY
