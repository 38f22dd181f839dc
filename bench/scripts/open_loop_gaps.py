#!/usr/bin/env python3
"""Is an open-loop tail a few stalls or spread over the run? (bench/RESULTS.md,
ceiling section, eighth look.)

Reads the timeline the ceiling scenario writes
(`DIR/ceiling-open-loop-gateway.csv`: each request's intended send time after
the measured window began and its latency, in µs) and prints the percentiles,
then every gap of more than GAP ms in which no answer arrived at all, with the
time since the previous gap. Gaps at a steady period point at something
periodic in the gateway (its checkpointer runs every 100 ms plus the
checkpoint's own time); a tail without gaps is queueing.

With --heartbeat (the CSV of `heartbeat.py`, run beside the load driver),
each gap is shown with the heartbeat's late wakes that overlap it: a gap in
which the heartbeat was late too, with the CPUs idle or stolen, was the
machine's (the hypervisor), not the gateway's. The gaps are placed on the
monotonic clock by `gateway_open_loop.window_start_monotonic_ns` of the
run's `ceiling.json`, beside the CSV.

    python3 bench/scripts/open_loop_gaps.py DIR/ceiling-open-loop-gateway.csv [GAP] [--heartbeat HB.csv]
"""
import argparse
import csv
import json
import os
import sys


def heartbeat_rows(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        due, late = int(r.pop("due_monotonic_ns")), int(r.pop("late_us"))
        cpus = sorted({k.split("_")[0] for k in r})
        detail = ", ".join(f"{c} idle {r[c + '_idle_ticks']} steal {r[c + '_steal_ticks']}" for c in cpus)
        out.append((due, due + late * 1000, late, detail))
    return out


def main(path, gap_ms, heartbeat=None):
    with open(path) as f:
        rows = [(int(r["intended_us"]), int(r["latency_us"])) for r in csv.DictReader(f)]
    latencies = sorted(latency for _, latency in rows)
    n = len(latencies)
    if n == 0:
        sys.exit("no requests in the timeline")
    pick = lambda q: latencies[min(n - 1, int(n * q))] / 1000
    print(f"{n} requests: p50 {pick(0.5):.2f} ms, p99 {pick(0.99):.2f} ms, p999 {pick(0.999):.2f} ms")
    done = sorted(at + latency for at, latency in rows)
    gaps = [(done[i - 1], done[i] - done[i - 1]) for i in range(1, n)
            if done[i] - done[i - 1] > gap_ms * 1000]
    print(f"{len(gaps)} gaps of more than {gap_ms} ms without an answer")
    beats, origin = [], None
    if heartbeat:
        beats = heartbeat_rows(heartbeat)
        with open(os.path.join(os.path.dirname(path), "ceiling.json")) as f:
            origin = json.load(f)["gateway_open_loop"].get("window_start_monotonic_ns")
        if origin is None:
            sys.exit("ceiling.json has no window_start_monotonic_ns (a load driver from before it)")
        print(f"heartbeat: {len(beats)} late wakes in {heartbeat}")
    previous = None
    matched = 0
    for at, length in gaps:
        since = f", {(at - previous) / 1000:.0f} ms after the previous" if previous else ""
        print(f"  at {at / 1e6:.3f} s: {length / 1000:.1f} ms{since}")
        previous = at
        if origin is not None:
            # The gap runs from the answer before it to the answer after it.
            start, end = origin + at * 1000, origin + (at + length) * 1000
            near = [b for b in beats if b[0] < end + 5_000_000 and b[1] > start - 5_000_000]
            matched += bool(near)
            for _, _, late, detail in near:
                print(f"      heartbeat {late / 1000:.1f} ms late ({detail} ticks)")
            if not near:
                print("      heartbeat punctual")
    if origin is not None:
        print(f"{matched} of {len(gaps)} gaps overlap a late heartbeat")


if __name__ == "__main__":
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("csv")
    a.add_argument("gap", nargs="?", type=float, default=4.0)
    a.add_argument("--heartbeat")
    args = a.parse_args()
    main(args.csv, args.gap, args.heartbeat)
