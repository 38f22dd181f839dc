#!/usr/bin/env python3
"""How long a SQLite WAL commit waits while a checkpointer works beside it.

A diagnostic for the audit log's commits (bench/RESULTS.md, ceiling section,
seventh look), outside the gateway: one thread commits a small two-row
transaction at RATE per second (the audit writer at a 3,500 starts/s open
loop), another runs the gateway's checkpointer loop: `PASSIVE` every EVERY
seconds and, once the log is past FRAMES frames, `RESTART` while holding the
writer's lock (the gateway's "writers' turn"). It prints the commit latency
percentiles, the number of commits over 5 ms, and each such stall with the
start of the checkpoints it overlapped.

    python3 bench/scripts/wal_stall.py [--every 0.1] [--frames 4096]
        [--limit BYTES|-1] [--seconds 20] [--rate 2600] [--dir /tmp]

`--limit` is `PRAGMA journal_size_limit` on both connections (-1: none, the
gateway's setting since the seventh look; 4194304 before). Python's sqlite3
module links the system's SQLite (Debian's syncs with fdatasync), not the
gateway's bundled one.
"""
import argparse
import os
import sqlite3
import tempfile
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("--every", type=float, default=0.1)
p.add_argument("--frames", type=int, default=4096)
p.add_argument("--limit", type=int, default=-1)
p.add_argument("--seconds", type=float, default=20)
p.add_argument("--rate", type=float, default=2600)
p.add_argument("--dir", default=tempfile.gettempdir())
a = p.parse_args()

tmp = tempfile.TemporaryDirectory(dir=a.dir)
path = os.path.join(tmp.name, "stall.db")
w = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "wal_autocheckpoint=0",
               f"journal_size_limit={a.limit}"):
    w.execute(f"PRAGMA {pragma}")
w.execute("CREATE TABLE audit (seq INTEGER PRIMARY KEY, at TEXT, kind TEXT,"
          " subject TEXT, data TEXT, prev TEXT, hash TEXT)")

turn = threading.Lock()
stop = threading.Event()
checkpoints = []  # (start, end)


def checkpointer():
    c = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    c.execute("PRAGMA busy_timeout=20")
    c.execute(f"PRAGMA journal_size_limit={a.limit}")
    while not stop.wait(a.every):
        t = time.perf_counter()
        log = c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
        if log >= a.frames:
            with turn:
                c.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        checkpoints.append((t, time.perf_counter()))


th = threading.Thread(target=checkpointer)
th.start()
latencies, stalls = [], []
data = "x" * 600
start = time.perf_counter()
seq = 0
for i in range(int(a.seconds * a.rate)):
    wait = start + i / a.rate - time.perf_counter()
    if wait > 0:
        time.sleep(wait)
    t = time.perf_counter()
    with turn:
        w.execute("BEGIN IMMEDIATE")
        for _ in range(2):
            seq += 1
            w.execute("INSERT INTO audit VALUES (?,?,?,?,?,?,?)",
                      (seq, "2026-12-07T00:00:00Z", "reset.start", "alice", data,
                       "p" * 64, "h" * 64))
        w.execute("COMMIT")
    took = time.perf_counter() - t
    latencies.append(took)
    if took > 0.005:
        stalls.append((t, took))
stop.set()
th.join()

latencies.sort()


def ms(q):
    return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000


print(f"every={a.every}s frames={a.frames} limit={a.limit} commits={len(latencies)} "
      f"p50={ms(.5):.3f}ms p99={ms(.99):.3f}ms p999={ms(.999):.3f}ms "
      f"max={latencies[-1] * 1000:.1f}ms over_5ms={len(stalls)}")
for t, took in stalls:
    near = [f"{(s - t) * 1000:+.1f}" for s, e in checkpoints if s <= t + took and e >= t]
    print(f"  stall at {t - start:7.3f} s: {took * 1000:5.1f} ms; checkpoints begun (ms): {near}")
