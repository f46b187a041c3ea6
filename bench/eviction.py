#!/usr/bin/env python3
"""Eviction at the memory limit: reddish against redis-server (issue 20's targets).

Two measurements, each on fresh servers started side by side with the same
settings (`--save '' --appendonly no` plus the limit and policy):

1. The cache workload at its limit: `maxmemory 256mb`, `allkeys-lru`, then
   `redis-benchmark -t set -r 10000000 -d 100 -P 16 -c 50 -n N`. Reports
   SETs per second and the server's peak and final RSS (VmRSS sampled every
   50 ms) against maxmemory. Target: throughput >= 1.0x Redis's, RSS within
   1.1x of maxmemory.
2. Hit rate on a Zipf-distributed cache workload: `maxmemory 8mb`, each
   policy in turn (`allkeys-lru`, `allkeys-lfu`); a client GETs keys drawn
   from a Zipf distribution (s = 1.0 over 1,000,000 keys, fixed seed, so
   both servers see the same sequence) and SETs a 200-byte value on each
   miss, as a cache-aside application does. Reports hits / GETs after a
   warm-up. Target: >= Redis's hit rate.

Usage: bench/eviction.py [--reddish PATH] [--requests N] [--ops N] [--only cache|hitrate]
                         [--base-port P]
"""

import argparse
import bisect
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memory import cli, rss_kb, start  # noqa: E402

MB = 1024 * 1024


def peak_rss_while(pid, work):
    """Runs work(); returns (its result, peak VmRSS in KB seen meanwhile)."""
    peak = [rss_kb(pid)]
    done = threading.Event()

    def sample():
        while not done.wait(0.05):
            peak[0] = max(peak[0], rss_kb(pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = work()
    finally:
        done.set()
        sampler.join()
    return result, max(peak[0], rss_kb(pid))


def cache_at_limit(binaries, requests, base_port):
    print("## cache workload at its limit: maxmemory 256mb, allkeys-lru, "
          f"redis-benchmark -t set -r 10000000 -d 100 -P 16 -c 50 -n {requests:,}\n")
    print("| server | SET/s | peak RSS | RSS after | peak / maxmemory | evicted_keys |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    rates = {}
    for kind, binary in binaries.items():
        with tempfile.TemporaryDirectory(prefix=f"eviction-{kind}-") as tmp:
            proc, port = start(binary, base_port, tmp, ["--maxmemory", "256mb",
                                                "--maxmemory-policy", "allkeys-lru"])
            try:
                def run():
                    out = subprocess.run(
                        ["redis-benchmark", "-p", str(port), "-t", "set", "-r", "10000000",
                         "-d", "100", "-P", "16", "-c", "50", "-n", str(requests), "--csv"],
                        capture_output=True, check=True, text=True).stdout
                    return float(out.strip().splitlines()[-1].split(",")[1].strip('"'))

                rps, peak = peak_rss_while(proc.pid, run)
                after = rss_kb(proc.pid)
                evicted = [line.split(":")[1] for line in cli(port, "INFO", "stats").splitlines()
                           if line.startswith("evicted_keys:")][0]
                rates[kind] = rps
                print(f"| {kind} | {rps:,.0f} | {peak / 1024:.0f} MB | {after / 1024:.0f} MB "
                      f"| {peak * 1024 / (256 * MB):.2f}x | {evicted} |", flush=True)
            finally:
                proc.terminate()
                proc.wait()
    print(f"\nthroughput ratio reddish/redis = {rates['reddish'] / rates['redis']:.2f}\n")


class Client:
    """A pipelining RESP client for GET and SET, enough for the hit-rate run."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    def send(self, commands):
        out = []
        for args in commands:
            out.append(b"*%d\r\n" % len(args))
            for a in args:
                out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def read(self):
        """One reply: bytes for a bulk, None for a null, the line otherwise."""
        line = self.file.readline()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            return self.file.read(n + 2)[:-2]
        if line[:1] == b"-":
            raise RuntimeError(line.decode())
        return line


def zipf_sampler(n, s, seed):
    weights = [1 / (k ** s) for k in range(1, n + 1)]
    total = sum(weights)
    cdf, acc = [], 0.0
    for w in weights:
        acc += w / total
        cdf.append(acc)
    rng = random.Random(seed)
    # Key ranks are shuffled so that popular keys are not neighbours.
    names = list(range(n))
    rng.shuffle(names)
    return lambda: names[min(bisect.bisect_left(cdf, rng.random()), n - 1)]


def info_field(port, section, name):
    for line in cli(port, "INFO", section).splitlines():
        if line.startswith(name + ":"):
            return int(line.split(":")[1])
    raise RuntimeError(f"no INFO {name}")


def hit_rate(binary, policy, ops, warmup, base_port, batch=100):
    """Hits / GETs after the warm-up, and used_memory / DBSIZE at the end."""
    value = b"x" * 200
    with tempfile.TemporaryDirectory(prefix="eviction-hits-") as tmp:
        proc, port = start(binary, base_port, tmp, ["--maxmemory", "8mb",
                                                    "--maxmemory-policy", policy])
        try:
            client = Client(port)
            draw = zipf_sampler(1_000_000, 1.0, seed=7)
            hits = gets = 0
            for done in range(0, ops, batch):
                keys = [b"key:%d" % draw() for _ in range(batch)]
                client.send([[b"GET", k] for k in keys])
                missed = [k for k in keys if client.read() is None]
                if missed:
                    client.send([[b"SET", k, value] for k in missed])
                    for _ in missed:
                        client.read()
                if done >= warmup:
                    gets += batch
                    hits += batch - len(missed)
            keys = int(cli(port, "DBSIZE"))
            return hits / gets, info_field(port, "memory", "used_memory") / keys, keys
        finally:
            proc.terminate()
            proc.wait()


def hit_rates(binaries, ops, base_port):
    warmup = ops // 5
    print(f"## hit rate: Zipf s=1.0 over 1M keys, GET then SET on a miss (200-byte values), "
          f"maxmemory 8mb, {ops:,} GETs ({warmup:,} of warm-up not counted)\n")
    print("| policy | redis | reddish | ratio | keys at the end (redis / reddish) "
          "| used_memory per key (redis / reddish) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for policy in ("allkeys-lru", "allkeys-lfu"):
        runs = {kind: hit_rate(binary, policy, ops, warmup, base_port)
                for kind, binary in binaries.items()}
        (redis, redis_per_key, redis_keys), (ours, our_per_key, our_keys) = (
            runs["redis"], runs["reddish"])
        print(f"| {policy} | {redis:.4f} | {ours:.4f} | {ours / redis:.3f} "
              f"| {redis_keys:,} / {our_keys:,} | {redis_per_key:.0f} / {our_per_key:.0f} |",
              flush=True)
    print()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "..", "target"))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reddish", default=os.path.join(target, "release", "reddish-server"))
    p.add_argument("--requests", type=int, default=5_000_000, help="SETs of the cache workload")
    p.add_argument("--ops", type=int, default=500_000, help="GETs of each hit-rate run")
    p.add_argument("--only", choices=["cache", "hitrate"])
    p.add_argument("--base-port", type=int, default=0,
                   help="servers listen on the first free port from here (default: any)")
    opts = p.parse_args()
    binaries = {"reddish": opts.reddish, "redis": "redis-server"}
    with open("/proc/loadavg") as f:
        print(f"load average before: {f.read().split()[:3]}\n")
    if opts.only in (None, "cache"):
        cache_at_limit(binaries, opts.requests, opts.base_port)
    if opts.only in (None, "hitrate"):
        hit_rates(binaries, opts.ops, opts.base_port)
    with open("/proc/loadavg") as f:
        print(f"load average after: {f.read().split()[:3]}")


if __name__ == "__main__":
    main()
