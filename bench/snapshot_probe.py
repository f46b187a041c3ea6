#!/usr/bin/env python3
"""The longest wait of a light client while a write load and a BGSAVE run.

Starts SERVER on PORT, loads 2,000,000 keys (DEBUG POPULATE), runs
`redis-benchmark -t set -r 2000000 -P 16 -c 50` and (mode `bgsave`) a
BGSAVE, while one client sends `GET key:1` every millisecond for 4 s.
Prints the longest and median wait in each 50 ms of the first 1.2 s, then
p50, p99, the longest wait and when the five longest came (seconds after
BGSAVE). Mode `none` skips the BGSAVE, `quiet` skips the write load.
Issue 14's stall target: no wait over 10 ms.

Usage: bench/snapshot_probe.py SERVER PORT none|bgsave|quiet
"""

import socket
import subprocess
import sys
import tempfile
import time


def main():
    binary, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    work = tempfile.mkdtemp(prefix="snapshot-probe-")
    proc = subprocess.Popen([binary, "--port", str(port), "--save", "", "--dir", work,
                             "--enable-debug-command", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    conn = socket.create_connection(("127.0.0.1", port))

    def cmd(*args):
        conn.sendall(("*%d\r\n" % len(args)
                      + "".join("$%d\r\n%s\r\n" % (len(a), a) for a in args)).encode())
        return conn.recv(65536)

    try:
        cmd("DEBUG", "POPULATE", "2000000", "key", "20")
        load = ["sleep", "30"] if mode == "quiet" else [
            "redis-benchmark", "-p", str(port), "-t", "set", "-r", "2000000", "-P", "16",
            "-n", "100000000", "-c", "50", "-q"]
        bench = subprocess.Popen(load, stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        start = time.perf_counter()
        if mode != "none":
            cmd("BGSAVE")
        waits = []
        while time.perf_counter() - start < 4:
            t = time.perf_counter()
            cmd("GET", "key:1")
            waits.append((time.perf_counter() - t, t - start))
            time.sleep(0.001)
        bench.kill()
    finally:
        proc.kill()
    # The first 1.2 s in 50 ms steps: longest/median wait (ms) from that
    # moment, to tell a slow round of the loop from a single stall.
    steps = {}
    for w, at in waits:
        steps.setdefault(int(at * 20), []).append(w)
    print("per 50 ms: " + " ".join(
        f"{k * 50}:{max(v) * 1e3:.0f}/{sorted(v)[len(v) // 2] * 1e3:.1f}"
        for k, v in sorted(steps.items()) if k < 24))
    worst = sorted(waits)[-5:]
    waits = sorted(w for w, _ in waits)
    print(f"{mode} {binary}: {len(waits)} GETs, p50 {waits[len(waits) // 2] * 1e3:.2f} ms, "
          f"p99 {waits[len(waits) * 99 // 100] * 1e3:.2f} ms, longest {waits[-1] * 1e3:.2f} ms; "
          "five longest (ms at s): "
          + ", ".join(f"{w * 1e3:.0f} at {at:.2f}" for w, at in worst))


if __name__ == "__main__":
    main()
