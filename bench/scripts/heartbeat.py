#!/usr/bin/env python3
"""Was the machine itself stalled? (bench/RESULTS.md, ceiling section,
thirteenth look.)

Wakes every PERIOD ms (default 2) on the monotonic clock until killed or for
SECONDS, and after every wake more than LATE ms (default 5) past its time,
writes one CSV row to OUT: when the wake was due (CLOCK_MONOTONIC, ns, the
clock of Rust's `Instant` and of the load driver's
`window_start_monotonic_ns`), how late it was (µs), and the steal time
(ticks of 1/USER_HZ s that the hypervisor ran something else on a vCPU) and
idle time each CPU gained since the previous wake. A wake delayed while the
CPUs were idle or stolen is the machine, not a busy process; a gateway
stall with punctual heartbeats is the gateway's own.

    python3 bench/scripts/heartbeat.py OUT.csv [SECONDS] [--period MS] [--late MS]

`open_loop_gaps.py DIR/ceiling-open-loop-gateway.csv --heartbeat OUT.csv`
puts each open-loop gap beside the late wakes it overlaps.
"""
import argparse
import os
import signal
import sys
import time


def cpu_times():
    """{cpu: (idle, steal)} in ticks, per CPU, from /proc/stat."""
    times = {}
    with open("/proc/stat") as f:
        for line in f:
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            name, *fields = line.split()
            # user nice system idle iowait irq softirq steal ...
            times[name] = (int(fields[3]) + int(fields[4]), int(fields[7]))
    return times


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("seconds", nargs="?", type=float, default=None)
    p.add_argument("--period", type=float, default=2.0)
    p.add_argument("--late", type=float, default=5.0)
    a = p.parse_args()
    period = int(a.period * 1e6)
    late_ns = int(a.late * 1e6)
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    signal.signal(signal.SIGINT, lambda *_: stop.__setitem__(0, True))
    cpus = sorted(cpu_times())
    with open(a.out, "w", buffering=1) as out:
        out.write("due_monotonic_ns,late_us," + ",".join(f"{c}_idle_ticks,{c}_steal_ticks" for c in cpus) + "\n")
        before = cpu_times()
        due = time.monotonic_ns() + period
        end = None if a.seconds is None else due + int(a.seconds * 1e9)
        wakes = lates = 0
        while not stop[0] and (end is None or due < end):
            delay = due - time.monotonic_ns()
            if delay > 0:
                time.sleep(delay / 1e9)
            now = time.monotonic_ns()
            wakes += 1
            if now - due > late_ns:
                lates += 1
                after = cpu_times()
                deltas = ",".join(
                    f"{after[c][0] - before[c][0]},{after[c][1] - before[c][1]}" for c in cpus
                )
                out.write(f"{due},{(now - due) // 1000},{deltas}\n")
                before = after
                # Start again from now: one stall is one row.
                due = now
            elif wakes % 5 == 0:
                before = cpu_times()
            due += period
    print(f"heartbeat: {wakes} wakes, {lates} more than {a.late} ms late", file=sys.stderr)


if __name__ == "__main__":
    main()
