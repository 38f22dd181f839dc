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

    python3 bench/scripts/open_loop_gaps.py DIR/ceiling-open-loop-gateway.csv [GAP]
"""
import csv
import sys


def main(path, gap_ms):
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
    previous = None
    for at, length in gaps:
        since = f", {(at - previous) / 1000:.0f} ms after the previous" if previous else ""
        print(f"  at {at / 1e6:.3f} s: {length / 1000:.1f} ms{since}")
        previous = at


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) == 3 else 4.0)
