#!/usr/bin/env python3
"""What one fdatasync costs on this disk (issue 15's `appendfsync always`).

Times fdatasync alone, after appends that grow the file (each fsync then
also commits the new size, as an AOF's always does), after rewrites of the
same bytes (no size change), after writes into blocks written earlier, and
with nothing dirty; fsync beside fdatasync. Only the sync call is timed.

    python3 bench/fsync_probe.py [--dir DIR] [--count N] [--bytes B]
    python3 bench/fsync_probe.py --concurrent [--dir DIR]

`--concurrent`: whether the disk takes several fsyncs at once. One thread
appends to the file all along while 1, 2, 4 and 8 threads each fdatasync
it back to back for 3 s: fsyncs a second and their mean time.
"""
import argparse
import os
import statistics
import threading
import time


def timed(fd, sync):
    start = time.perf_counter_ns()
    sync(fd)
    return (time.perf_counter_ns() - start) / 1000


def row(name, samples):
    samples = sorted(samples)
    n = len(samples)
    print(f"| {name} | {statistics.mean(samples):,.0f} | {samples[n // 10]:,.0f} | "
          f"{samples[n // 2]:,.0f} | {samples[n * 9 // 10]:,.0f} | {samples[n * 99 // 100]:,.0f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=".", help="where the probe file goes (the AOF's disk)")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--bytes", type=int, default=2250,
                        help="bytes per write (2,250: 50 SETs of redis-benchmark)")
    parser.add_argument("--concurrent", action="store_true",
                        help="fsyncs from several threads at once (see above)")
    args = parser.parse_args()
    if args.concurrent:
        concurrent(args.dir)
        return
    path = os.path.join(args.dir, f"fsync-probe-{os.getpid()}.dat")
    data = b"x" * args.bytes
    n = args.count
    print("| µs per sync call | mean | p10 | p50 | p90 | p99 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    try:
        samples = []
        for _ in range(n):
            os.write(fd, data)
            samples.append(timed(fd, os.fdatasync))
        row("append, fdatasync (the file grows)", samples)
        samples = []
        for _ in range(n):
            os.write(fd, data)
            samples.append(timed(fd, os.fsync))
        row("append, fsync (the file grows)", samples)
        samples = []
        for _ in range(n):
            os.pwrite(fd, data, 0)
            samples.append(timed(fd, os.fdatasync))
        row("rewrite the same bytes, fdatasync (no size change)", samples)
        samples = []
        for i in range(n):
            os.pwrite(fd, data, i * args.bytes)
            samples.append(timed(fd, os.fdatasync))
        row("write into blocks written before, fdatasync", samples)
        samples = [timed(fd, os.fdatasync) for _ in range(n)]
        row("fdatasync with nothing dirty", samples)
    finally:
        os.close(fd)
        os.unlink(path)


def concurrent(directory):
    path = os.path.join(directory, f"fsync-probe-{os.getpid()}.dat")
    print("| fsync threads | fsyncs a second | mean µs |")
    print("| ---: | ---: | ---: |")
    for threads in (1, 2, 4, 8):
        fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
        stop = threading.Event()
        times = []

        def append():
            while not stop.is_set():
                os.write(fd, b"x" * 450)
                time.sleep(0.00002)

        def sync():
            while not stop.is_set():
                times.append(timed(fd, os.fdatasync))

        workers = [threading.Thread(target=append)]
        workers += [threading.Thread(target=sync) for _ in range(threads)]
        for w in workers:
            w.start()
        time.sleep(3)
        stop.set()
        for w in workers:
            w.join()
        os.close(fd)
        print(f"| {threads} | {len(times) / 3:,.0f} | {statistics.mean(times):,.0f} |")
    os.unlink(path)


if __name__ == "__main__":
    main()
