#!/usr/bin/env python3
"""Stalls: the worst latency a concurrent client sees during big frees, reddish against redis-server.

Builds the release reddish-server (unless --no-build), starts it and
`redis-server --save '' --appendonly no` on free loopback ports, and for each
scenario and each server, interleaved over several rounds:

  idle           1,000,000 string keys, nothing else happens (the baseline: what
                 the shared machine alone costs the probe)
  flushall-async 1,000,000 string keys, then FLUSHALL ASYNC
  del-bigset     1,000,000 string keys plus a set of 1,000,000 members, then DEL
  active-expiry  500,000 persistent keys plus 500,000 keys that all expire at the
                 same instant (SET .. PXAT); waits until active expiry has
                 reclaimed them (DBSIZE from another connection)

Data is loaded with `redis-cli --pipe` (generated RESP). Meanwhile a probe
process sends GET for existing keys (cycling over 1,000 of them, so over many
shards) one at a time on a raw socket and records every round trip. The table
gives, per scenario and server, the median over rounds of the probe's worst
and p99 round trip, the worst of all rounds, and how many GETs the probe got
through, next to the same figures of a second probe that meanwhile GETs from
an idle control redis-server: a stall both probes see is the shared
machine's, not the server's. The servers and the probes run at nice -15 when
we are root. For FLUSHALL and DEL the table also gives how long the command
itself took (its own client's round trip: a synchronous free shows here) and
RSS after the load and a second after the command (the memory really goes
back).

Usage: bench/stalls.py [--rounds N] [--only NAME[,NAME]] [--no-build] [--reddish PATH]
"""

import argparse
import bisect
import gc
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memory import cli, resp, rss_kb, start  # noqa: E402

KEYS = 1_000_000
SET_MEMBERS = 1_000_000
PROBE_KEYS = 1_000  # the probe GETs key:0 .. key:999, spread over the shards
AFTER_S = 1.0  # the probe keeps going this long after the operation returned
NICE = -15
STALL_US = 10_000  # the target: no client waits longer than 10 ms
HICCUP_US = 2_000  # a control round trip this slow means the machine hiccupped


def mset_payload(prefix, start_at, count, batch=1000):
    out = []
    for first in range(start_at, start_at + count, batch):
        args = ["MSET"]
        for k in range(first, min(first + batch, start_at + count)):
            args += [f"{prefix}:{k}", f"value-{k:0>24}"]
        out.append(resp(*args))
    return b"".join(out)


def set_payload(key, members, batch=1000):
    out = []
    for first in range(0, members, batch):
        out.append(resp("SADD", key, *(f"member:{m}" for m in range(first, first + batch))))
    return b"".join(out)


def volatile_payload(count, at_ms):
    return b"".join(resp("SET", f"vol:{k}", f"value-{k:0>24}", "PXAT", at_ms)
                    for k in range(count))


def pipe(port, payload):
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=payload,
                   check=True, capture_output=True)


def favour(pid):
    """Raises every thread of `pid` to nice -15 when we may (root), so the
    servers and the probe get a CPU as soon as they want one: other work on a
    shared machine then shows up far less in the worst round trips."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            os.setpriority(os.PRIO_PROCESS, int(tid), NICE)
        return True
    except (PermissionError, FileNotFoundError):
        return False


def probe(port, stop, results):
    """GETs in a tight loop until `stop` is set; sends back the sorted round
    trips in µs, and when (monotonic ns) and how long (µs) each round trip
    over HICCUP_US was, to set the two probes' slow round trips side by side."""
    favour(os.getpid())
    gc.disable()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    requests = [resp("GET", f"key:{k}") for k in range(PROBE_KEYS)]
    rtts = []
    slow = []
    i = 0
    clock = time.perf_counter_ns  # CLOCK_MONOTONIC: comparable across processes
    while not stop.is_set():
        t0 = clock()
        sock.sendall(requests[i % PROBE_KEYS])
        # A reply is one line (nil) or a bulk header line and the value line.
        buf = sock.recv(4096)
        while not buf.endswith(b"\r\n") or (buf.startswith(b"$") and buf.count(b"\r\n") < 2
                                             and not buf.startswith(b"$-1")):
            buf += sock.recv(4096)
        rtt = (clock() - t0) // 1000
        rtts.append(rtt)
        if rtt > HICCUP_US:
            slow.append((t0, rtt))
        i += 1
    sock.close()
    rtts.sort()
    results.send((rtts, slow))


class Probe:
    """Probes the server under test and, at the same time, an idle control
    redis-server: a stall the control probe sees too is the machine's."""

    control_port = None

    def __init__(self, port):
        self.stop = multiprocessing.Event()
        self.runs = []
        for p in (port, Probe.control_port):
            recv, send = multiprocessing.Pipe(duplex=False)
            proc = multiprocessing.Process(target=probe, args=(p, self.stop, send))
            proc.start()
            self.runs.append((proc, recv))
        time.sleep(0.3)  # connected and warmed up

    def finish(self):
        """[(worst µs, p99 µs, round trips over 10 ms, requests, server's own)]
        for the server, the control. "Server's own" are the round trips over
        10 ms that no slow control round trip overlapped in time: stalls the
        machine does not explain (the control's own are None)."""
        self.stop.set()
        got = []
        for proc, recv in self.runs:
            got.append(recv.recv())
            proc.join()
        hiccups = got[1][1]

        def explained(t0, rtt):
            end = t0 + rtt * 1000
            return any(c0 < end and t0 < c0 + crtt * 1000 for c0, crtt in hiccups)

        own = [rtt for t0, rtt in got[0][1] if rtt > STALL_US and not explained(t0, rtt)]
        out = []
        for (rtts, _), mine in zip(got, (own, None)):
            slow = len(rtts) - bisect.bisect_right(rtts, STALL_US)
            out.append((rtts[-1], rtts[len(rtts) * 99 // 100], slow, len(rtts), mine))
        return out


def timed(port, *args):
    """Runs one command on a connection of its own; returns its round trip in ms."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        t0 = time.perf_counter()
        sock.sendall(resp(*args))
        reply = sock.recv(4096)
        took = (time.perf_counter() - t0) * 1000
    if reply.startswith(b"-"):
        raise RuntimeError(f"{args}: {reply!r}")
    return took


def wait_dbsize(port, want, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if int(cli(port, "DBSIZE")) == want:
            return
        time.sleep(0.05)
    raise RuntimeError(f"DBSIZE did not reach {want} on port {port}")


def load_keys(port):
    cli(port, "FLUSHALL")
    pipe(port, mset_payload("key", 0, KEYS))
    wait_dbsize(port, KEYS, timeout=1)


def idle(proc, port):
    load_keys(port)
    p = Probe(port)
    time.sleep(2.0)
    return p.finish(), None


def probed(proc, port, *command):
    """Runs `command` while a probe measures; returns the probe's result and
    (the command's time, RSS before, RSS AFTER_S seconds later)."""
    before = rss_kb(proc.pid)
    p = Probe(port)
    took = timed(port, *command)
    time.sleep(AFTER_S)
    result = p.finish()
    return result, (took, before, rss_kb(proc.pid))


def flushall_async(proc, port):
    load_keys(port)
    return probed(proc, port, "FLUSHALL", "ASYNC")


def del_bigset(proc, port):
    load_keys(port)
    pipe(port, set_payload("bigset", SET_MEMBERS))
    if int(cli(port, "SCARD", "bigset")) != SET_MEMBERS:
        raise RuntimeError("bigset not loaded")
    return probed(proc, port, "DEL", "bigset")


def active_expiry(proc, port):
    cli(port, "FLUSHALL")
    volatile = KEYS // 2
    pipe(port, mset_payload("key", 0, KEYS - volatile))
    # All volatile keys expire at one instant, a little after they are loaded.
    payload = volatile_payload(volatile, "@" * 13)
    at = int(time.time() * 1000) + 10_000
    pipe(port, payload.replace(b"@" * 13, str(at).encode()))
    dbsize = int(cli(port, "DBSIZE"))
    if dbsize != KEYS:
        late = time.time() * 1000 - at
        raise RuntimeError(f"DBSIZE {dbsize} before the probe started, {late:.0f} ms after the deadline")
    p = Probe(port)
    wait_dbsize(port, KEYS - volatile)
    reclaimed = time.time() * 1000 - at
    time.sleep(0.3)
    result = p.finish()
    return result, reclaimed


SCENARIOS = {
    "idle": idle,
    "flushall-async": flushall_async,
    "del-bigset": del_bigset,
    "active-expiry": active_expiry,
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "..", "target"))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reddish", default=os.path.join(target, "release", "reddish-server"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", help="comma-separated scenario names (see SCENARIOS)")
    p.add_argument("--no-build", action="store_true")
    opts = p.parse_args()
    if not opts.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "reddish-server"],
                       cwd=os.path.join(here, ".."), check=True)
    with open("/proc/loadavg") as f:
        print(f"load average before: {f.read().split()[:3]}, rounds: {opts.rounds}\n")
    names = [n for n in SCENARIOS if not opts.only or n in opts.only.split(",")]
    servers = {kind: start(kind, opts.reddish) for kind in ("reddish", "redis")}
    control, control_port = start("redis", opts.reddish)
    pipe(control_port, mset_payload("key", 0, PROBE_KEYS))
    Probe.control_port = control_port
    favoured = all(favour(proc.pid) for proc, _ in [*servers.values(), (control, 0)])
    print(f"servers and probe at nice {NICE}: {'yes' if favoured else 'no (not root)'}\n")
    samples = {(n, kind): [] for n in names for kind in servers}
    try:
        for _ in range(opts.rounds):
            for name in names:
                for kind, (proc, port) in servers.items():
                    samples[(name, kind)].append(SCENARIOS[name](proc, port))
    finally:
        for proc, _ in [*servers.values(), (control, control_port)]:
            proc.terminate()
            proc.wait()

    print("| scenario | server | worst ms (median) | worst ms (max) | p99 ms (median) "
          "| > 10 ms (total) | control worst ms (median) | control > 10 ms (total) "
          "| > 10 ms the control did not see (total; worst ms) | probe GETs (median) | extra |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name in names:
        for kind in servers:
            runs = samples[(name, kind)]
            worst = [r[0][0][0] / 1000 for r in runs]
            p99 = statistics.median(r[0][0][1] / 1000 for r in runs)
            slow = sum(r[0][0][2] for r in runs)
            cworst = statistics.median(r[0][1][0] / 1000 for r in runs)
            cslow = sum(r[0][1][2] for r in runs)
            count = statistics.median(r[0][0][3] for r in runs)
            own = [rtt for r in runs for rtt in r[0][0][4]]
            own_text = f"{len(own)}; {max(own) / 1000:.1f}" if own else "0"
            extras = [r[1] for r in runs if r[1] is not None]
            if not extras:
                extra = ""
            elif isinstance(extras[0], tuple):
                took = statistics.median(e[0] for e in extras)
                extra = f"command {took:.1f} ms; RSS " + ", ".join(
                    f"{b // 1024}→{a // 1024} MB" for _, b, a in extras)
            else:
                extra = "reclaimed " + ", ".join(f"{e / 1000:.1f}" for e in extras) \
                    + " s after the deadline"
            print(f"| {name} | {kind} | {statistics.median(worst):.2f} | {max(worst):.2f} "
                  f"| {p99:.2f} | {slow} | {cworst:.2f} | {cslow} | {own_text} | {count:,.0f} "
                  f"| {extra} |",
                  flush=True)
    with open("/proc/loadavg") as f:
        print(f"\nload average after: {f.read().split()[:3]}")


if __name__ == "__main__":
    main()
