#!/usr/bin/env python3
"""Fragmentation under churn: reddish against redis-server (issue 22).

Each server starts fresh (same settings, `activedefrag no`, which is also
all reddish accepts) and runs the same churn, loaded with `redis-cli --pipe`:

1. load:    N `SET key:i <value>`, value sizes uniform in [16, 512) bytes;
2. delete:  DEL of every other key (half the keys, spread over all pages);
3. rewrite: the deleted keys SET again, sizes uniform in [16, 1024);
4. delete again: DEL of a random half of all keys.

After each phase the servers sit for `--settle` seconds untouched (no
MEMORY PURGE: the "lazy" ratio, what the allocator gives back on its own)
and INFO memory is read: `used_memory`, `used_memory_rss` and their ratio
(`mem_fragmentation_ratio`, which both servers compute as RSS over
used_memory), and the RSS ratio reddish / redis-server of the same phase.

Usage: python3 bench/fragmentation.py [--keys 1000000] [--settle 12]
                                      [--base-port P] [--reddish PATH]
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memory import cli, resp, start  # noqa: E402


def sets(keys, low, high, rng):
    return b"".join(resp("SET", f"key:{i}", "v" * rng.randrange(low, high)) for i in keys)


def dels(keys):
    keys = list(keys)
    return b"".join(resp("DEL", *(f"key:{i}" for i in keys[j:j + 100]))
                    for j in range(0, len(keys), 100))


def phases(n, seed):
    """(name, payload) for each phase; the same bytes for every server."""
    rng = random.Random(seed)
    everything = range(n)
    odd = range(1, n, 2)
    out = [("load", sets(everything, 16, 512, rng)),
           ("delete half", dels(odd)),
           ("rewrite", sets(odd, 16, 1024, rng))]
    out.append(("delete again", dels(rng.sample(everything, n // 2))))
    return out


def memory(port):
    fields = {}
    for line in cli(port, "INFO", "memory").splitlines():
        name, _, value = line.partition(":")
        fields[name] = value
    return int(fields["used_memory"]), int(fields["used_memory_rss"])


def run(binary, churn, opts):
    """[(used_memory, rss)] after each phase, on a fresh server."""
    with tempfile.TemporaryDirectory(prefix="reddish-frag-") as tmp:
        proc, port = start(binary, opts.base_port, tmp, [])
        try:
            out = []
            for _, payload in churn:
                done = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=payload,
                                      capture_output=True)
                if done.returncode != 0:
                    raise RuntimeError(f"{binary}: redis-cli --pipe: {done.stdout[-300:]!r}")
                time.sleep(opts.settle)
                out.append(memory(port))
            return out
        finally:
            proc.terminate()
            proc.wait()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "..", "target"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reddish", default=os.path.join(target, "release", "reddish-server"))
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--settle", type=float, default=12.0,
                        help="seconds untouched after each phase")
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--base-port", type=int, default=0)
    opts = parser.parse_args()
    if not os.access(opts.reddish, os.X_OK):
        sys.exit(f"no reddish-server at {opts.reddish}: run `cargo build --release` first")
    churn = phases(opts.keys, opts.seed)
    results = {kind: run(binary, churn, opts)
               for kind, binary in (("redis", shutil.which("redis-server")),
                                    ("reddish", opts.reddish))}
    mb = 1 << 20
    print(f"{opts.keys:,} keys, {opts.settle:g} s after each phase; used_memory MB, RSS MB, "
          "RSS / used_memory\n")
    print("| phase | redis used | redis RSS | redis ratio | reddish used | reddish RSS "
          "| reddish ratio | RSS reddish / redis |")
    print("| --- |" + " ---: |" * 7)
    for i, (name, _) in enumerate(churn):
        (r_used, r_rss), (o_used, o_rss) = results["redis"][i], results["reddish"][i]
        print(f"| {name} | {r_used / mb:.1f} | {r_rss / mb:.1f} | {r_rss / r_used:.2f} "
              f"| {o_used / mb:.1f} | {o_rss / mb:.1f} | {o_rss / o_used:.2f} "
              f"| {o_rss / r_rss:.2f}x |")


if __name__ == "__main__":
    main()
