#!/usr/bin/env python3
"""Where the gateway's CPU goes: a `perf` profile split into the parts of a
reset start (bench/RESULTS.md, ceiling section, eighth look).

Record the gateway during the ceiling scenario's closed loop, then:

    perf record -F 499 --call-graph dwarf,16384 -p <gateway pid> -o perf.data -- sleep 6
    perf script -i perf.data --no-inline -F comm,tid,ip,sym > perf.txt
    python3 bench/scripts/perf_parts.py perf.txt

Each sample goes to one part. First by where it ran: under the attempt's
read transaction, on the checkpointer thread, or in the audit commit (the
writer task and the blocking thread that commits); otherwise to the first
part that names one of its frames, innermost frame first (the signals, the
velocity windows, the evaluation…, and only then hyper, axum and tokio, so a
sample in the handler counts for the handler). Stacks that `perf` cut short
(16 KiB of stack copied) are counted by the frames they have.
"""
import collections
import re
import sys

# (part, a sample with any frame matching belongs to it)
WHERE = [
    ("read: the attempt's read transaction", r"Durable>::attempt"),
    ("checkpointer thread", r"direct::checkpointer"),
    ("audit commit (writer task + blocking thread)",
     r"audit::writer|Direct::session|Direct::write|sqlite::audit::"),
]
# (part, the innermost frame matching decides)
WHAT = [
    ("windows (memory store)", r"MemoryStore as .*Ephemeral>::windows|MemoryStore::window"),
    ("flow state (memory store put/get/swap)", r"MemoryStore as .*Ephemeral>::|MemoryStore::insert"),
    ("audit event build", r"AuditEvent::new|AuditLog::record"),
    ("flow serialize", r"Serialize for resetgate::flow::Flow"),
    ("per-address limiter", r"limits::per_address|governor"),
    ("tracing", r"tracing_subscriber|tracing_core|tracing::span|tower_http::trace::"),
    ("metrics", r"metrics_util|metrics::|resetgate::metrics"),
    ("anomaly model", r"models::"),
    ("audit record data (signals and reasons to JSON)", r"Serialize for risk::"),
    ("risk evaluation", r"risk::"),
    ("signals", r"resetgate::signals"),
    ("client, cookies, extractors", r"http::client|client_addr|pages::cookie|json::Body"),
    ("the rest of flow::service::start", r"flow::service::start"),
    ("reset handler and response", r"resetgate::http::reset"),
    ("request id", r"ulid|MakeUlid|request_id"),
    ("hyper, axum, tower (outside the handler)", r"hyper::|axum::|tower|http::"),
    ("tokio (scheduling, I/O driver, kernel under it)", r"tokio::"),
]


def main(path):
    where = [(n, re.compile(p)) for n, p in WHERE]
    what = [(n, re.compile(p)) for n, p in WHAT]
    counts = collections.Counter()
    total = 0

    def place(stack):
        for name, pattern in where:
            if any(pattern.search(f) for f in stack):
                return name
        for frame in stack:
            for name, pattern in what:
                if pattern.search(frame):
                    return name
        return "other"

    stack, in_sample = [], False
    with open(path) as lines:
        for line in lines:
            if not line.strip():
                if in_sample:
                    total += 1
                    counts[place(stack)] += 1
                stack, in_sample = [], False
            elif not line[0].isspace():
                stack, in_sample = [], True
            else:
                parts = line.strip().split(None, 1)
                stack.append(parts[1] if len(parts) > 1 else "?")
    if in_sample:
        total += 1
        counts[place(stack)] += 1
    print(f"{total} samples")
    for name, n in counts.most_common():
        print(f"{100 * n / total:5.1f} %  {name}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
