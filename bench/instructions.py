#!/usr/bin/env python3
"""Instructions per request, reddish against redis-server, under callgrind.

On a shared machine wall-clock throughput moves with whatever else runs;
the instructions a server executes per request do not. Each server runs
under `valgrind --tool=callgrind`; a workload is warmed up, callgrind's
counters are dumped (which zeroes them), the measured requests run, and a
second dump gives the instructions those requests took (every thread of
the server, kernel time not counted). Callgrind runs a process some 50x
slower, so request counts are small.

Usage: bench/instructions.py [--only NAME[,NAME]] [--requests N] [--reddish PATH]
                              [--no-redis] [--keep DIR]
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import SCRIPTS, SETUP, WORKLOADS  # noqa: E402
from memory import cli, free_port, wait_listening  # noqa: E402


def total_instructions(path):
    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"{path}: no totals")


def dump(pid, out_dir):
    """Dumps callgrind's counters (zeroing them); returns the new file."""
    before = set(glob.glob(os.path.join(out_dir, "callgrind.out.*")))
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
    for _ in range(200):
        new = set(glob.glob(os.path.join(out_dir, "callgrind.out.*"))) - before
        if new:
            time.sleep(0.2)
            return new.pop()
        time.sleep(0.05)
    raise RuntimeError("callgrind dump did not appear")


def measure(binary, workload, n, base_port, keep=None):
    """Instructions per request; `keep`: a directory to copy the measured
    dump to (for callgrind_annotate)."""
    args = WORKLOADS[workload][0]
    with tempfile.TemporaryDirectory(prefix="reddish-instr-") as tmp:
        port = free_port(base_port)
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/callgrind.out.%p",
               binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", tmp]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
        try:
            wait_listening(port, proc)
            for script in SCRIPTS:
                cli(port, "SCRIPT", "LOAD", script)
            if workload in SETUP:
                SETUP[workload](port, n)
            bench = ["redis-benchmark", "-p", str(port), "-q", *args]
            subprocess.run([*bench[:3], "-n", str(max(n // 4, 1000)), *bench[3:]],
                           check=True, capture_output=True)
            dump(proc.pid, tmp)
            subprocess.run([*bench[:3], "-n", str(n), *bench[3:]], check=True,
                           capture_output=True)
            path = dump(proc.pid, tmp)
            if keep:
                os.makedirs(keep, exist_ok=True)
                shutil.copy(path, os.path.join(keep, f"{os.path.basename(binary)}.{workload}"))
            return total_instructions(path) / n
        finally:
            proc.terminate()
            proc.wait()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--only", default="eval-P16,evalsha-P16,script100-P16")
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--reddish", default="target/release/reddish-server")
    p.add_argument("--base-port", type=int, default=33500)
    p.add_argument("--no-redis", action="store_true", help="measure reddish only")
    p.add_argument("--keep", help="a directory to keep the measured callgrind dumps in")
    opts = p.parse_args()
    print("| workload | reddish instr/req | redis instr/req | ratio |")
    print("|---|---|---|---|")
    for workload in opts.only.split(","):
        ours = measure(opts.reddish, workload, opts.requests, opts.base_port, opts.keep)
        if opts.no_redis:
            print(f"| {workload} | {ours:,.0f} | | |", flush=True)
            continue
        theirs = measure("redis-server", workload, opts.requests, opts.base_port, opts.keep)
        print(f"| {workload} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f} |", flush=True)


if __name__ == "__main__":
    main()
