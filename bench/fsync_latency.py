#!/usr/bin/env python3
"""fsync_latency.py - the floor under durable capture's added latency.

    python3 bench/fsync_latency.py [DIR] [N] [--journal]   (default: bench/out, 2000)

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

pos = [a for a in sys.argv[1:] if not a.startswith("--")]
d = pos[0] if pos else os.path.join(os.path.dirname(__file__), "out")
n = int(pos[1]) if len(pos) > 1 else 2000
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


# ---- the journal's write, alone and next to a store's commits -------------------
# `airi proxy --journal` makes each reply wait for one 4 KiB O_DIRECT|O_DSYNC pwrite into a
# zero-filled ring. With `--journal` this measures that write's latency (i) alone and (ii)
# while another thread does what the store's writer does meanwhile: append 256 KiB to a
# second file and fdatasync it, every 5 ms. On a disk without FUA (see
# /sys/block/*/queue/fua) an O_DSYNC write is a write and a whole-cache flush, so it also
# waits for the other file's writes: (ii) is the floor for a proxy whose store is on the same
# disk.
if "--journal" in sys.argv:
    import mmap
    import threading

    ring = 4096 * 1024
    jpath = os.path.join(d, "journal-latency.tmp")
    spath = os.path.join(d, "store-latency.tmp")
    fd = os.open(jpath, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
    os.write(fd, b"\0" * ring)
    os.fsync(fd)
    os.close(fd)
    try:
        jfd = os.open(jpath, os.O_RDWR | os.O_DSYNC | os.O_DIRECT)
        how = "O_DIRECT|O_DSYNC"
    except OSError:
        jfd = os.open(jpath, os.O_RDWR | os.O_DSYNC)
        how = "O_DSYNC"
    buf = mmap.mmap(-1, 4096)  # page-aligned, as O_DIRECT wants
    buf.write(b"j" * 4096)

    def journal_writes(count):
        out = []
        for i in range(count):
            t = time.perf_counter()
            os.pwrite(jfd, buf, (i * 4096) % ring)
            out.append(time.perf_counter() - t)
            time.sleep(0.0005)  # 2,000 writes/s at most
        out.sort()
        return out

    def show(what, v):
        def p(x):
            return v[min(len(v) - 1, int(x * len(v)))] * 1e3
        print("journal write (4 KiB %s) %s, %d samples: p50 %.3f ms, p90 %.3f ms, "
              "p99 %.3f ms, max %.3f ms" % (how, what, len(v), p(0.5), p(0.9), p(0.99),
                                             v[-1] * 1e3))

    try:
        show("alone", journal_writes(n))
        stop = threading.Event()

        def store():
            sfd = os.open(spath, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
            chunk = b"s" * (256 * 1024)
            k = 0
            while not stop.is_set():
                os.write(sfd, chunk)
                os.fdatasync(sfd)
                k += 1
                if k % 64 == 0:
                    os.lseek(sfd, 0, os.SEEK_SET)
                time.sleep(0.005)
            os.close(sfd)

        th = threading.Thread(target=store)
        th.start()
        try:
            show("with a store committing 256 KiB every 5 ms", journal_writes(n))
        finally:
            stop.set()
            th.join()
    finally:
        os.close(jfd)
        for f in (jpath, spath):
            if os.path.exists(f):
                os.unlink(f)
