#!/usr/bin/env python3
"""Issue 14's snapshot targets, reddish against redis-server side by side.

Both servers (save "", same data: `--keys` mixed keys, 80% strings of 20
bytes from DEBUG POPULATE and 5% each small hashes, lists, sets and sorted
sets) are measured for:

- BGSAVE: wall time from BGSAVE to `rdb_bgsave_in_progress:0`.
- Loading that file at start-up: "DB loaded from disk: X seconds".
- A write load (`redis-benchmark -t set -r <keys> -P 16`) alone, then
  (four times as long) with a BGSAVE started as it runs: the load's
  throughput during the snapshot over its throughput in the second before
  and the second after (both from the server's `total_commands_processed`,
  so the ramp-up and the rest of the run do not dilute it), the peak
  memory growth during the snapshot (the parent's RSS plus its child's
  private dirty pages: redis-server's fork child's copy-on-write,
  reddish's background writer's buffers), and the longest reply a probe client waited for (a
  GET every millisecond) while the snapshot ran.

Ratios are reddish / redis-server for times and memory (below 1 = reddish
better), throughput ratios are each server's own (with / without).

BGSAVE and loading are also measured in CPU seconds (user + system, from
/proc: the whole process for reddish, whose walker threads it counts;
redis-server's own plus its reaped fork child's), which a busy machine
disturbs less than wall time. `--no-write-load` stops after those two.

`--aof` measures issue 15's rewrite targets the same way: both servers run
with `appendonly yes` (`appendfsync everysec`), BGREWRITEAOF takes BGSAVE's
place (wall time to `aof_rewrite_in_progress:0`, memory growth and the
longest probe wait under the write load) and the load at start-up is the
AOF directory's ("DB loaded from append only file"). DEBUG POPULATE's keys
reach the AOF through the first rewrite, as in Redis, which does not
propagate it.

Usage: python3 bench/snapshot.py [--keys 5000000] [--no-build] [--no-write-load] [--aof]
"""

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

from bits import REPO, Conn, free_port

MB = 1 << 20


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid):
    """User + system CPU of a process and of its children it has reaped."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (stat field 3): utime, stime, cutime, cstime are 14-17.
    return sum(int(t) for t in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def private_dirty(pid):
    """A process's private dirty bytes (a fork child's copied pages)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return sum(int(l.split()[1]) * 1024 for l in f if l.startswith("Private_Dirty:"))
    except OSError:
        return 0


def children(pid):
    """The children of every thread of `pid` (reddish starts its background
    child from whichever thread ran the command)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(p) for p in f.read().split())
        except OSError:
            pass
    return found


class Snapshot:
    """What is measured: BGSAVE's RDB file, or (`--aof`) BGREWRITEAOF's AOF."""

    def __init__(self, aof):
        self.aof = aof
        self.command = "BGREWRITEAOF" if aof else "BGSAVE"
        self.progress = "aof_rewrite_in_progress" if aof else "rdb_bgsave_in_progress"
        # No automatic rewrite: the AOF of millions of populated keys would
        # start one of its own while the measured one is asked for.
        self.server_args = (["--appendonly", "yes", "--auto-aof-rewrite-percentage", "0"]
                            if aof else [])
        self.loaded = ("DB loaded from append only file" if aof else "DB loaded from disk")


class Server:
    def __init__(self, name, binary, workdir, snapshot):
        self.snapshot = snapshot
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.binary = binary
        self.port = free_port()
        self.proc = None

    def start(self):
        log = os.path.join(self.dir, "log")
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--dir", self.dir, "--save", "",
             "--logfile", log, "--enable-debug-command", "yes", *self.snapshot.server_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(60_000):
            try:
                self.conn = Conn(self.port)
                self.conn.cmd("GET", "x")
                return
            except (OSError, RuntimeError):  # not listening yet, or -LOADING
                time.sleep(0.01)
        raise SystemExit(f"{self.name} did not start")

    def stop(self):
        self.proc.kill()
        self.proc.wait()

    def info(self, field):
        text = self.conn.cmd("INFO", "persistence").decode()
        return re.search(rf"^{field}:(\S+)", text, re.M).group(1)

    def snapshot_running(self):
        return self.info(self.snapshot.progress) == "1"

    def loaded_seconds(self):
        with open(os.path.join(self.dir, "log")) as f:
            found = re.findall(self.snapshot.loaded + r": ([\d.]+) seconds", f.read())
        return float(found[-1])


def populate(conn, keys):
    strings = keys * 8 // 10
    conn.cmd("DEBUG", "POPULATE", strings, "key", 20)
    per_type = (keys - strings) // 4
    for start in range(0, per_type, 10_000):
        batch = []
        for i in range(start, min(start + 10_000, per_type)):
            batch.append(("HSET", f"h:{i}", "a", i, "b", "some text", "c", i * 7))
            batch.append(("RPUSH", f"l:{i}", "x", i, "y", "z"))
            batch.append(("SADD", f"s:{i}", i, i + 1, "m"))
            batch.append(("ZADD", f"z:{i}", 1, "a", 2.5, i, 3, "c"))
        conn.pipeline(batch)


def bgsave(server):
    """BGSAVE's (or BGREWRITEAOF's) wall time and CPU seconds."""
    while server.snapshot_running():  # the first rewrite of `appendonly yes`
        time.sleep(0.05)
    cpu = cpu_seconds(server.proc.pid)
    t = time.perf_counter()
    server.conn.cmd(server.snapshot.command)
    while server.snapshot_running():
        time.sleep(0.005)
    wall = time.perf_counter() - t
    time.sleep(0.2)  # redis-server reaps its child (its CPU is then counted)
    return wall, cpu_seconds(server.proc.pid) - cpu


def benchmark(port, keys, n):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", "set", "-r", str(keys), "-P", "16",
         "-n", str(n), "-c", "50", "-q"],
        capture_output=True, text=True).stdout
    return float(re.findall(r"([\d.]+) requests per second", out)[-1])


def processed(conn):
    text = conn.cmd("INFO", "stats").decode()
    return int(re.search(r"^total_commands_processed:(\d+)", text, re.M).group(1))


def rate(conn, seconds):
    """Commands a second the server runs over the next `seconds`."""
    c, t = processed(conn), time.perf_counter()
    time.sleep(seconds)
    return (processed(conn) - c) / (time.perf_counter() - t)


def under_load(server, keys, n):
    """The write load with a BGSAVE (BGREWRITEAOF) started as it runs: its
    throughput over the whole run and, from the server's command counter,
    during the snapshot against the second before and after it; the peak
    memory growth meanwhile and the probe's longest wait."""
    pid = server.proc.pid
    base = rss_bytes(pid)
    result = {}
    bench = threading.Thread(target=lambda: result.update(rps=benchmark(server.port, keys, n)))
    bench.start()
    time.sleep(0.3)
    probe = Conn(server.port)
    watcher = Conn(server.port)
    before = rate(watcher, 1.0)
    started, count = time.perf_counter(), processed(watcher)
    server.conn.cmd(server.snapshot.command)
    peak, worst = 0, 0.0
    deadline = time.time() + 600
    while time.time() < deadline:
        t = time.perf_counter()
        probe.cmd("GET", "key:1")
        worst = max(worst, time.perf_counter() - t)
        grown = rss_bytes(pid) - base + sum(private_dirty(c) for c in children(pid))
        peak = max(peak, grown)
        text = watcher.cmd("INFO", "persistence").decode()
        if f"{server.snapshot.progress}:0" in text:
            break
        time.sleep(0.001)
    during = (processed(watcher) - count) / (time.perf_counter() - started)
    after = rate(watcher, 1.0)
    if not bench.is_alive():
        raise SystemExit(f"{server.name}: the write load ended before the second after the snapshot")
    bench.join()
    return result["rps"], (before, during, after), peak, worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=5_000_000)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--no-write-load", action="store_true")
    ap.add_argument("--aof", action="store_true", help="BGREWRITEAOF with appendonly yes")
    args = ap.parse_args()
    snapshot = Snapshot(args.aof)
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "reddish-server"], cwd=REPO, check=True)
    work = tempfile.mkdtemp(prefix="snapshot-bench-")
    servers = [
        Server("reddish", os.path.join(REPO, "target/release/reddish-server"), work, snapshot),
        Server("redis", shutil.which("redis-server"), work, snapshot),
    ]
    rows = {}
    try:
        for s in servers:
            s.start()
            populate(s.conn, args.keys)
            assert s.conn.cmd("DBSIZE") >= args.keys * 99 // 100
        for s in servers:
            r = rows.setdefault(s.name, {})
            r["bgsave"], r["bgsave_cpu"] = min(bgsave(s) for _ in range(2))
        for s in servers:
            s.stop()
            s.start()
            rows[s.name]["load"] = s.loaded_seconds()
            rows[s.name]["load_cpu"] = cpu_seconds(s.proc.pid)
        n = args.keys
        for s in [] if args.no_write_load else servers:
            r = rows[s.name]
            r["rps_alone"] = benchmark(s.port, args.keys, n)
            r["rps_snapshot"], r["during"], r["growth"], r["worst"] = under_load(
                s, args.keys, 4 * n)
    finally:
        for s in servers:
            if s.proc:
                s.proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    me, them = rows["reddish"], rows["redis"]
    what = snapshot.command
    print(f"{args.keys} mixed keys" + (", appendonly yes" if args.aof else ""))
    print(f"{'':44} {'reddish':>12} {'redis':>12} {'ratio':>7}")
    measured = [("bgsave", f"{what} wall", "s"), ("bgsave_cpu", f"{what} CPU", "s"),
                ("load", "load at start-up", "s"), ("load_cpu", "load at start-up CPU", "s")]
    if not args.no_write_load:
        measured += [("growth", f"peak memory growth during {what}", "MB"),
                     ("worst", f"longest probe wait during {what}", "ms")]
    for key, label, unit in measured:
        scale = {"s": 1, "MB": 1 / MB, "ms": 1000}[unit]
        a, b = me[key] * scale, them[key] * scale
        print(f"{label + ' (' + unit + ')':44} {a:12.2f} {b:12.2f} {a / b if b else 0:7.2f}")
    for name, r in [] if args.no_write_load else rows.items():
        print(f"{name}: SET -P16 {r['rps_alone']:.0f}/s alone, {r['rps_snapshot']:.0f}/s over a run "
              f"with {what}")
        before, during, after = r["during"]
        print(f"{'':8}commands/s in the second before {what} {before:.0f}, during it {during:.0f}, "
              f"in the second after {after:.0f}: {2 * during / (before + after):.2f}x")


if __name__ == "__main__":
    main()
