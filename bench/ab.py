#!/usr/bin/env python3
"""A/B of reddish builds against each other and redis-server on one workload.

For changes whose effect is smaller than the machine's drift over a few
minutes (cache-bound workloads on a shared host swing by a third): every
binary and redis-server run side by side, populated once, then many short
rounds interleaved (A, B, ..., redis, A, B, ...); each round's CPU per request
(utime+stime from /proc) and requests/s are divided by redis-server's in the
same round, and the medians of those ratios are printed.

A binary spec is `name=path`, or `name=path,thp` to run it with jemalloc's
transparent huge pages through the environment (`_RJEM_MALLOC_CONF`).

Usage: bench/ab.py [--rounds 20] [-n 200000] [--args "-c 50 -P 16 -r 1000000"]
                   [--tests get,set] [--populate 1000000] name=path[,thp] ...
"""

import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import bench, cpu_seconds  # noqa: E402
from memory import start  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("binaries", nargs="+", help="name=path[,thp]")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("-n", type=int, default=200_000, help="requests per test and round")
    p.add_argument("--args", default="-c 50 -P 16 -r 1000000")
    p.add_argument("--tests", default="get,set")
    p.add_argument("--populate", type=int, default=1_000_000,
                   help="SETs (same -r) before the rounds; 0 for none")
    opts = p.parse_args()
    extra = opts.args.split()
    servers = {}
    try:
        for spec in opts.binaries:
            name, rest = spec.split("=", 1)
            path, *flags = rest.split(",")
            saved = dict(os.environ)
            if "thp" in flags:
                os.environ["_RJEM_MALLOC_CONF"] = "thp:always"
            servers[name] = start("reddish", path)
            os.environ.clear()
            os.environ.update(saved)
        servers["redis"] = start("redis", None)
        if opts.populate:
            for _, port in servers.values():
                bench(port, ["-t", "set", *extra], opts.populate)
        samples = {}
        for _ in range(opts.rounds):
            for test in opts.tests.split(","):
                for name, (proc, port) in servers.items():
                    before = cpu_seconds(proc.pid)
                    rows = bench(port, ["-t", test, *extra], opts.n)
                    cpu_us = (cpu_seconds(proc.pid) - before) * 1e6 / opts.n
                    for t, (rps, _, _) in rows.items():
                        samples.setdefault((t, name), []).append((rps, cpu_us))
        print("| test | server | rps | CPU µs/req | CPU ratio to redis | rps ratio to redis |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for (test, name), runs in samples.items():
            ref = samples[(test, "redis")]
            cpu = statistics.median(a[1] / b[1] for a, b in zip(runs, ref))
            rps = statistics.median(a[0] / b[0] for a, b in zip(runs, ref))
            print(f"| {test} | {name} | {statistics.median(r[0] for r in runs):,.0f} "
                  f"| {statistics.median(r[1] for r in runs):.2f} | {cpu:.2f} | {rps:.2f} |")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
