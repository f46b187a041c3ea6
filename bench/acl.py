#!/usr/bin/env python3
"""What ACL checks cost (issue 19's target): one reddish-server, the same
`redis-benchmark -P 16 -c 50 -t set,get` as the default user and as a user
restricted to `~key:* +@read +@write`, interleaved rounds, throughput and
server CPU per request (/proc). Target: the restricted user's throughput
>= 0.97x the default user's.

Usage: bench/acl.py [--reddish PATH] [--rounds N] [--requests N]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import cpu_seconds  # noqa: E402
from memory import cli, start  # noqa: E402


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "..", "target"))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reddish", default=os.path.join(target, "release", "reddish-server"))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--requests", type=int, default=1_000_000)
    opts = p.parse_args()
    proc, port = start(opts.reddish, 0, tempfile.mkdtemp(prefix="acl-bench-"), [])
    try:
        cli(port, "ACL", "SETUSER", "app", "on", ">secret", "~key:*", "+@read", "+@write")
        users = {"default": [], "app": ["--user", "app", "-a", "secret"]}
        results = {user: [] for user in users}
        for _ in range(opts.rounds):
            for user, login in users.items():
                before = cpu_seconds(proc.pid)
                out = subprocess.run(["redis-benchmark", "-p", str(port), *login, "-P", "16",
                                      "-c", "50", "-n", str(opts.requests), "-t", "set,get",
                                      "--csv"], capture_output=True, check=True, text=True).stdout
                cpu = cpu_seconds(proc.pid) - before
                rps = sum(float(line.split(",")[1].strip('"'))
                          for line in out.strip().splitlines()[1:])
                results[user].append((rps, cpu * 1e6 / (2 * opts.requests)))
    finally:
        proc.terminate()
        proc.wait()
    med = {user: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
           for user, rs in results.items()}
    for user, (rps, cpu) in med.items():
        print(f"{user}: {rps:,.0f} requests/s (SET + GET), {cpu:.3f} µs CPU per request")
    print(f"throughput app/default = {med['app'][0] / med['default'][0]:.3f}, "
          f"CPU app/default = {med['app'][1] / med['default'][1]:.3f}")


if __name__ == "__main__":
    main()
