#!/usr/bin/env python3
"""Memory use of small hashes and sets: reddish against redis-server.

For each workload, starts a fresh release reddish-server and a fresh
redis-server on free loopback ports, reads each one's VmRSS from
/proc/<pid>/status, loads the same data into both with `redis-cli --pipe`
(generated RESP), reads VmRSS again and prints the growth and the ratio.

Workloads:
  hashes  100,000 hashes of 10 fields (`field:N` -> `value:N`), so listpacks
  sets    10,000 sets of 100 integers each, so intsets

Usage: bench/memory.py [--reddish PATH] [--only hashes|sets]
The reddish binary defaults to $CARGO_TARGET_DIR (or ./target)/release/reddish-server;
build it first with `cargo build --release`.
"""

import argparse
import os
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def hashes_workload():
    fields = []
    for f in range(10):
        fields += [f"field:{f}", f"value:{f}"]
    return b"".join(resp("HSET", f"hash:{k}", *fields) for k in range(100_000)), 100_000


def sets_workload():
    cmds = []
    for k in range(10_000):
        members = [k % 1000 + i * 300 for i in range(100)]  # 16-bit intsets
        cmds.append(resp("SADD", f"set:{k}", *members))
    return b"".join(cmds), 10_000


WORKLOADS = {"hashes": hashes_workload, "sets": sets_workload}


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


def start(kind, binary):
    port = free_port()
    if kind == "redis":
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no"]
    else:
        cmd = [binary, "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, proc)
    return proc, port


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), *args],
                         capture_output=True, check=True, text=True)
    return out.stdout.strip()


def measure(kind, binary, payload, keys):
    proc, port = start(kind, binary)
    try:
        time.sleep(0.3)
        before = rss_kb(proc.pid)
        subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=payload,
                       check=True, capture_output=True)
        dbsize = int(cli(port, "DBSIZE"))
        if dbsize != keys:
            raise RuntimeError(f"{kind}: DBSIZE {dbsize}, expected {keys}")
        time.sleep(0.5)
        after = rss_kb(proc.pid)
        return before, after
    finally:
        proc.terminate()
        proc.wait()


def main():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "..", "target"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reddish", default=os.path.join(target, "release", "reddish-server"))
    parser.add_argument("--only", choices=sorted(WORKLOADS))
    opts = parser.parse_args()
    if not os.access(opts.reddish, os.X_OK):
        sys.exit(f"no reddish-server at {opts.reddish}: run `cargo build --release` first")

    print(f"{'workload':<8} {'server':<8} {'RSS before':>11} {'RSS after':>11} {'growth':>11} {'per key':>9}")
    for name, make in WORKLOADS.items():
        if opts.only and name != opts.only:
            continue
        payload, keys = make()
        growth = {}
        for kind in ("redis", "reddish"):
            before, after = measure(kind, opts.reddish, payload, keys)
            growth[kind] = after - before
            print(f"{name:<8} {kind:<8} {before:>8} kB {after:>8} kB {after - before:>8} kB "
                  f"{(after - before) * 1024 / keys:>7.0f} B")
        print(f"{name:<8} ratio reddish/redis = {growth['reddish'] / growth['redis']:.2f}")


if __name__ == "__main__":
    main()
