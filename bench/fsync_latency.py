#!/usr/bin/env python3
"""fsync_latency.py - the floor under durable capture's added latency.

    python3 bench/fsync_latency.py [DIR] [N]     (default: bench/out, 2000)

A proxy that answers only after the call's run is durably committed adds
at least one fdatasync of the store's write-ahead log to every call (group
commit shares it between the calls in flight, it does not remove it). This
appends N records of the size of one group commit (16 KiB: a few runs'
worth of WAL pages) to a file in DIR, as SQLite's WAL does, and prints
the latency of each fdatasync: p50, p90, p99, max. Run it on the disk the
store is on; compare its p99 with the proxy's added p99.
"""
import os
import sys
import time

d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "out")
n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
os.makedirs(d, exist_ok=True)
path = os.path.join(d, "fsync-latency.tmp")
fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
rec = b"x" * 16384
lat = []
try:
    for i in range(n):
        os.write(fd, rec)
        t = time.perf_counter()
        os.fdatasync(fd)
        lat.append(time.perf_counter() - t)
        if i % 256 == 255:  # keep the file small, like a WAL that restarts
            os.lseek(fd, 0, os.SEEK_SET)
finally:
    os.close(fd)
    os.unlink(path)
lat.sort()


def q(p):
    return lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3


print("fdatasync of 16 KiB appends in %s, %d samples: p50 %.3f ms, p90 %.3f ms, "
      "p99 %.3f ms, max %.3f ms" % (d, n, q(0.50), q(0.90), q(0.99), lat[-1] * 1e3))
