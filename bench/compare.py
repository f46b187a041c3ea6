#!/usr/bin/env python3
"""Side-by-side throughput, latency and CPU cost: reddish against redis-server.

Builds the release reddish-server, starts it and `redis-server --save ''
--appendonly no` on free loopback ports, and runs each redis-benchmark
workload against both servers interleaved (reddish, redis, reddish, redis, ...)
for several rounds. Per run it records requests/s and p50/p99 (from
`redis-benchmark --csv`) and the server's CPU time (utime+stime from
/proc/<pid>/stat, before/after), and prints the medians as a markdown table
with reddish/redis ratios (each the median of the rounds' own ratios). A
memory workload loads 1,000,000 keys with 32-byte values into fresh servers
and compares RSS growth per key (helpers shared with bench/memory.py).

CPU per request is the figure to trust on a busy machine: requests/s move
with whatever else runs on the 2 cores, CPU time spent by the server much less.

Five rounds by default (the issue asks for medians of at least 5).

`--server-args "--appendonly yes --appendfsync always"` starts both servers
with those settings too (the AOF targets of issue 15); the scripting
workloads (`eval-P16`, `evalsha-P16`, `script100-P16`, issue 16's targets)
load their script into both servers first; the stream workloads (`xadd-P16`,
`xrange100-P16`, `xcycle`, issue 17's targets) fill their stream first
(`xcycle` runs bench/stream_cycle.rs, built as an example, over TCP even with `--tls`).

`--tls` runs the workloads over TLS (issue 19's target): both servers get a
TLS port with the same certificates (made by tools/gen-test-certs.sh in a
temporary directory) and redis-benchmark connects with `--tls` and a client
certificate (tls-auth-clients is yes by default); bench/tls.sh runs
`setget-P16` so.

Usage: bench/compare.py [--quick] [--rounds N] [--only NAME[,NAME]] [--no-build] [--no-memory]
                        [--server-args "..."] [--tls] [--requests N]
"""

import argparse
import csv
import hashlib
import io
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memory import cli, free_port, rss_kb, start  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")

# name -> (redis-benchmark arguments, requests in a full run, requests with --quick)
SET_SCRIPT = "return redis.call('SET',KEYS[1],ARGV[1])"
INCR100_SCRIPT = "for i=1,100 do redis.call('INCR',KEYS[1]) end"


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


WORKLOADS = {
    "setget-P16": (["-t", "set,get", "-c", "50", "-P", "16"], 1_000_000, 200_000),
    "setget-P1": (["-t", "set,get", "-c", "50"], 200_000, 50_000),
    "mixed-P16": (["-t", "incr,lpush,rpop,sadd,hset,zadd,lrange_100", "-c", "50", "-P", "16"],
                  200_000, 50_000),
    "set4k-P16": (["-t", "set", "-d", "4096", "-c", "50", "-P", "16"], 200_000, 50_000),
    "get-c1000": (["-t", "get", "-c", "1000"], 200_000, 50_000),
    "setget-P16-r1M": (["-t", "set,get", "-c", "50", "-P", "16", "-r", "1000000"],
                        1_000_000, 200_000),
    "setget-P16-resp3": (["-t", "set,get", "-c", "50", "-P", "16", "-3"], 1_000_000, 200_000),
    # SET with a TTL over 1M keys: a key's expiry time is kept apart from its
    # slot (issues 22 and 20), so this is the path that costs more
    "setex-P16-r1M": (["-c", "50", "-P", "16", "-r", "1000000", "SET", "key:__rand_int__",
                       "xxx", "EX", "100000"], 1_000_000, 200_000),
    "aof-P16": (["-t", "set,incr,lpush", "-c", "50", "-P", "16"], 1_000_000, 200_000),
    "set-c50": (["-t", "set", "-c", "50"], 200_000, 50_000),
    "eval-P16": (["-c", "50", "-P", "16", "EVAL", SET_SCRIPT, "1", "key:__rand_int__", "v"],
                 200_000, 50_000),
    "evalsha-P16": (["-c", "50", "-P", "16", "EVALSHA", sha1(SET_SCRIPT), "1",
                     "key:__rand_int__", "v"], 200_000, 50_000),
    "script100-P16": (["-c", "50", "-P", "16", "EVALSHA", sha1(INCR100_SCRIPT), "1",
                       "key:__rand_int__"], 100_000, 20_000),
    # issue 17: XADD to one stream, and XRANGE of 100 entries (of the 1,000 SETUP adds)
    "xadd-P16": (["-c", "50", "-P", "16", "XADD", "s", "*", "f", "v"], 1_000_000, 200_000),
    "xrange100-P16": (["-c", "50", "-P", "16", "XRANGE", "s", "-", "+", "COUNT", "100"],
                      200_000, 50_000),
    # issue 22: list commands on `mylist` (the pops and reads on the 100,000
    # `value:N` elements SETUP pushes; LINDEX and LSET in its middle, which
    # is a compressed node)
    "lpush-P16": (["-c", "50", "-P", "16", "-t", "lpush"], 1_000_000, 200_000),
    "rpush-P16": (["-c", "50", "-P", "16", "-t", "rpush"], 1_000_000, 200_000),
    "lpop-P16": (["-c", "50", "-P", "16", "-t", "lpop"], 50_000, 50_000),
    "rpop-P16": (["-c", "50", "-P", "16", "-t", "rpop"], 50_000, 50_000),
    "lrange100-P16": (["-c", "50", "-P", "16", "LRANGE", "mylist", "0", "99"], 200_000, 50_000),
    "lrange600-P16": (["-c", "50", "-P", "16", "LRANGE", "mylist", "0", "599"], 50_000, 20_000),
    "lindex-P16": (["-c", "50", "-P", "16", "LINDEX", "mylist", "50000"], 200_000, 50_000),
    "lset-P16": (["-c", "50", "-P", "16", "LSET", "mylist", "50000", "value:x"],
                 200_000, 50_000),
    # issue 22: one listpack hash of 100 fields `field:K` -> `value:K` (SETUP),
    # its last field read and overwritten (a lookup walks every entry), and
    # all of it read (every field rebuilt from its front coding)
    "hget100-P16": (["-c", "50", "-P", "16", "HGET", "hash100", "field:99"], 200_000, 50_000),
    "hset100-P16": (["-c", "50", "-P", "16", "HSET", "hash100", "field:99", "value:x"],
                    200_000, 50_000),
    "hgetall100-P16": (["-c", "50", "-P", "16", "HGETALL", "hash100"], 50_000, 20_000),
    # issue 17: XREADGROUP + XACK, one entry a cycle, by bench/stream_cycle.rs
    # (redis-benchmark cannot ack the ID it read); the count is of cycles.
    "xcycle": (None, 500_000, 100_000),
}

# Commands run on a workload's fresh (flushed) database before it is measured.
SETUP = {
    "xrange100-P16": lambda port, n: xadd(port, 1_000),
    **{name: lambda port, n: rpush_values(port, 100_000)
       for name in ("lpop-P16", "rpop-P16", "lrange100-P16", "lrange600-P16", "lindex-P16",
                    "lset-P16")},
    **{name: lambda port, n: cli(port, "HSET", "hash100",
                                 *(a for k in range(100) for a in (f"field:{k}", f"value:{k}")))
       for name in ("hget100-P16", "hset100-P16", "hgetall100-P16")},
    "xcycle": lambda port, n: (cli(port, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"),
                               xadd(port, n)),
}

# The stream cycle's shape: 50 clients, 16 reads then 16 acks in flight each.
CYCLE_CLIENTS, CYCLE_PIPELINE = 50, 16

# Scripts loaded into both servers before the workloads run (SCRIPT LOAD).
SCRIPTS = (SET_SCRIPT, INCR100_SCRIPT)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the ")" of comm: field 3 (state) is index 0, so utime (14) and stime (15) are 11, 12.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def xadd(port, n):
    """Appends n entries `f v` to stream `s`."""
    subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(n), "-c", "50", "-P", "16",
                    "-q", "XADD", "s", "*", "f", "v"], capture_output=True, check=True)


def rpush_values(port, n):
    """Appends `value:0` .. `value:{n-1}` to list `mylist`."""
    batch = 1000
    out = []
    for first in range(0, n, batch):
        args = ["RPUSH", "mylist", *(f"value:{i}" for i in range(first, min(first + batch, n)))]
        out.append(f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args))
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input="".join(out).encode(),
                   capture_output=True, check=True)


def stream_cycle(port, n):
    """bench/stream_cycle.rs; returns {test: (cycles/s, nan, nan)} (it measures no latency)."""
    per_client = n // (CYCLE_CLIENTS * CYCLE_PIPELINE)
    out = subprocess.run([CYCLE_TOOL, str(port), str(CYCLE_CLIENTS), str(CYCLE_PIPELINE),
                          str(per_client)], capture_output=True, check=True, text=True).stdout
    fields = out.split()
    cycles, seconds = int(fields[1]), float(fields[3])
    return {"XREADGROUP+XACK": (cycles / seconds, float("nan"), float("nan"))}


def bench(port, args, n, client_args=()):
    """One redis-benchmark run; returns {test: (rps, p50_ms, p99_ms)}."""
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(n), "--csv",
                          *client_args, *args],
                         capture_output=True, check=True, text=True).stdout
    rows = {}
    for row in csv.DictReader(io.StringIO(out)):
        rows[row["test"]] = (float(row["rps"]), float(row["p50_latency_ms"]),
                             float(row["p99_latency_ms"]))
    return rows


def run_workload(servers, name, args, n, rounds):
    """Interleaved rounds; returns {kind: {test: [(rps, p50, p99, cpu_us_per_req), ...]}}.
    `servers`: kind -> (process, plain port, (benchmarked port, client arguments))."""
    results = {kind: {} for kind in servers}
    for _ in range(rounds):
        for kind, (proc, port, (bench_port, client_args)) in servers.items():
            cli(port, "FLUSHALL")
            for script in SCRIPTS:
                cli(port, "SCRIPT", "LOAD", script)
            if name in SETUP:
                SETUP[name](port, n)
            before = cpu_seconds(proc.pid)
            if args is None:
                rows = stream_cycle(port, n)
            else:
                rows = bench(bench_port, args, n, client_args)
            cpu = cpu_seconds(proc.pid) - before
            total = n * len(rows)
            for test, (rps, p50, p99) in rows.items():
                # CPU is split over a run's tests by request count (each test sends n).
                results[kind].setdefault(test, []).append((rps, p50, p99, cpu * 1e6 / total))
    return results


def med(samples, i):
    return statistics.median(s[i] for s in samples)


def med_ratio(a, b, i):
    """Median over rounds of reddish/redis within each round: runs of one
    round are minutes closer in time than the medians of all rounds, so the
    machine's drift (a third on a shared host) cancels out better."""
    return statistics.median(x[i] / y[i] for x, y in zip(a, b))


def memory_rows(binary, keys):
    """RSS growth per key after `keys` SETs of 32-byte values, on fresh servers."""
    growth = {}
    for kind in ("reddish", "redis"):
        proc, port = start(kind, binary)
        try:
            cli(port, "PING")
            before = rss_kb(proc.pid)
            subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(keys),
                            "-r", str(keys * 100), "-d", "32", "-P", "16", "-q"],
                           check=True, capture_output=True)
            dbsize = int(cli(port, "DBSIZE"))
            after = rss_kb(proc.pid)
            growth[kind] = ((after - before) * 1024 / dbsize, dbsize)
        finally:
            proc.terminate()
            proc.wait()
    return growth


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "..", "target"))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reddish", default=os.path.join(target, "release", "reddish-server"))
    p.add_argument("--quick", action="store_true", help="fewer requests, 1 round unless --rounds")
    p.add_argument("--rounds", type=int)
    p.add_argument("--only", help="comma-separated workload names (see WORKLOADS)")
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--server-args", default="", help="extra settings for both servers")
    p.add_argument("--requests", type=int, help="requests per run instead of the workload's")
    p.add_argument("--tls", action="store_true", help="benchmark over TLS (same certificates)")
    opts = p.parse_args()
    rounds = opts.rounds or (1 if opts.quick else 5)
    if not opts.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "reddish-server",
                        "--example", "stream_cycle"], cwd=os.path.join(here, ".."), check=True)
    global CYCLE_TOOL
    CYCLE_TOOL = os.path.join(target, "release", "examples", "stream_cycle")
    with open("/proc/loadavg") as f:
        print(f"load average before: {f.read().split()[:3]}, rounds: {rounds}, "
              f"transport: {'TLS' if opts.tls else 'TCP'}\n")

    print("| workload | test | reddish rps | redis rps | ratio | reddish p50/p99 ms "
          "| redis p50/p99 ms | reddish CPU µs/req | redis CPU µs/req | CPU ratio |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    binaries = {"reddish": opts.reddish, "redis": "redis-server"}
    extra = opts.server_args.split()
    servers = {}
    client_args = []
    if opts.tls:
        certs = tempfile.mkdtemp(prefix="compare-certs-")
        subprocess.run([os.path.join(here, "..", "tools", "gen-test-certs.sh"), certs],
                       env={**os.environ, "DH_QUICK": "1"}, check=True)
        cert = lambda name: os.path.join(certs, name)  # noqa: E731
        extra += ["--tls-cert-file", cert("redis.crt"), "--tls-key-file", cert("redis.key"),
                  "--tls-ca-cert-file", cert("ca.crt")]
        client_args = ["--tls", "--cacert", cert("ca.crt"), "--cert", cert("client.crt"),
                       "--key", cert("client.key")]
    for kind, binary in binaries.items():
        tls_port = free_port(0) if opts.tls else None
        tls_extra = ["--tls-port", str(tls_port)] if opts.tls else []
        proc, port = start(binary, 0, tempfile.mkdtemp(prefix=f"compare-{kind}-"),
                           extra + tls_extra)
        servers[kind] = (proc, port, (tls_port or port, client_args))
    try:
        for name, (args, full, quick) in WORKLOADS.items():
            if opts.only and name not in opts.only.split(","):
                continue
            n = opts.requests or (quick if opts.quick else full)
            res = run_workload(servers, name, args, n, rounds)
            for test in res["redis"]:
                a, b = res["reddish"][test], res["redis"][test]
                print(f"| {name} | {test} | {med(a, 0):,.0f} | {med(b, 0):,.0f} "
                      f"| {med_ratio(a, b, 0):.2f} | {med(a, 1):.3f}/{med(a, 2):.3f} "
                      f"| {med(b, 1):.3f}/{med(b, 2):.3f} | {med(a, 3):.2f} | {med(b, 3):.2f} "
                      f"| {med_ratio(a, b, 3):.2f} |", flush=True)
    finally:
        for proc, *_ in servers.values():
            proc.terminate()
            proc.wait()
    if not opts.no_memory:
        keys = 100_000 if opts.quick else 1_000_000
        g = memory_rows(opts.reddish, keys)
        print(f"\nmemory, {keys:,} SETs of 32-byte values (-r {keys * 100}):")
        for kind, (per_key, dbsize) in g.items():
            print(f"  {kind}: {per_key:.1f} B/key RSS growth over {dbsize:,} keys")
        print(f"  ratio reddish/redis = {g['reddish'][0] / g['redis'][0]:.2f}")
    with open("/proc/loadavg") as f:
        print(f"\nload average after: {f.read().split()[:3]}")


if __name__ == "__main__":
    main()
