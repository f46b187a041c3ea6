#!/usr/bin/env python3
"""The keyspace's cost per key, and what comes back when most keys go.

For each server (reddish, then redis-server): a fresh server, `--keys`
`SET key:N <value>` loaded through `redis-cli --pipe`, INFO `used_memory`
and VmRSS growth per key `--settle` seconds later; then every key but one
in ten deleted (`DEL key:N` for N % 10 != 0) and, after `--settle` seconds
more, the growth that is left, in MB. `used_memory` is the allocator's
count (what `maxmemory` compares), RSS what the machine pays; a server
whose freed memory stays fragmented keeps its RSS after the deletes.

Usage: bench/keyspace_memory.py [--keys N] [--value-size B] [--settle S]
                                [--reddish PATH] [--base-port P] [--no-redis]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memory import cli, resp, rss_kb, start  # noqa: E402

MB = 1024 * 1024


def used_memory(port):
    for line in cli(port, "INFO", "memory").splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise RuntimeError("no used_memory in INFO")


def pipe(port, payload):
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=payload,
                   capture_output=True, check=True)


def measure(binary, opts):
    value = "x" * opts.value_size
    load = b"".join(resp("SET", f"key:{i}", value) for i in range(opts.keys))
    deletes = b"".join(resp("DEL", f"key:{i}") for i in range(opts.keys) if i % 10)
    with tempfile.TemporaryDirectory(prefix="keyspace-memory-") as tmp:
        proc, port = start(binary, opts.base_port, tmp, [])
        try:
            rss0, used0 = rss_kb(proc.pid) * 1024, used_memory(port)
            pipe(port, load)
            time.sleep(opts.settle)
            rss1, used1 = rss_kb(proc.pid) * 1024, used_memory(port)
            pipe(port, deletes)
            time.sleep(opts.settle)
            rss2, used2 = rss_kb(proc.pid) * 1024, used_memory(port)
            left = int(cli(port, "DBSIZE"))
        finally:
            proc.terminate()
            proc.wait()
    return ((used1 - used0) / opts.keys, (rss1 - rss0) / opts.keys,
            (used2 - used0) / MB, (rss2 - rss0) / MB, left)


def main():
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    p = argparse.ArgumentParser()
    p.add_argument("--keys", type=int, default=1_000_000)
    p.add_argument("--value-size", type=int, default=32)
    p.add_argument("--settle", type=float, default=15)
    p.add_argument("--reddish", default=os.path.join(target, "release", "reddish-server"))
    p.add_argument("--base-port", type=int, default=0)
    p.add_argument("--no-redis", action="store_true")
    opts = p.parse_args()
    print(f"{opts.keys:,} `SET key:N <{opts.value_size} bytes>`, then 90% deleted\n")
    print("| server | used_memory per key | RSS per key | used_memory after the deletes "
          "| RSS after the deletes |")
    print("| --- | ---: | ---: | ---: | ---: |")
    servers = [("reddish", opts.reddish)] + ([] if opts.no_redis else [("redis", "redis-server")])
    for name, binary in servers:
        used, rss, used_left, rss_left, left = measure(binary, opts)
        print(f"| {name} | {used:.1f} B | {rss:.1f} B | {used_left:.1f} MB ({left:,} keys) "
              f"| {rss_left:.1f} MB |", flush=True)


if __name__ == "__main__":
    main()
