#!/usr/bin/env python3
"""Issue 18's throughput targets, reddish against redis-server side by side.

`--set bits` (the default): BITCOUNT of a 64 MB bitmap, BITOP AND of two
64 MB bitmaps, PFADD of 1,000,000 distinct elements in batches of 100,
PFCOUNT over 10 keys. `--set geo`: GEOSEARCH ... BYRADIUS over a geo key of
1,000,000 members spread over the globe (radius 200 km: a few hundred
members found). Both servers run at once (redis-server --save ""), get the
same data, and the workloads alternate between them round by round. Each
ratio is redis / reddish per round (above 1 = reddish faster), of the
client's wall time and of the server process's CPU time (from /proc,
which leaves out the Python client's own work); the table shows medians.

Usage: python3 bench/bits.py [--set bits|geo] [--rounds 5] [--no-build]
"""

import argparse
import os
import random
import socket
import statistics
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MB = 1 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Conn:
    """A minimal pipelining RESP client."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(1 << 20)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(1 << 20)
            data, self.buf = self.buf[:n], self.buf[n + 2 :]
            return data
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        if kind == b":":
            return int(rest)
        if kind == b"-":
            raise RuntimeError(rest.decode())
        return rest

    def pipeline(self, commands):
        self.sock.sendall(b"".join(self.encode(c) for c in commands))
        return [self.read() for _ in commands]

    def cmd(self, *args):
        return self.pipeline([args])[0]


def wait_ready(port):
    for _ in range(200):
        try:
            Conn(port).cmd("PING")
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on {port} did not start")


def load(conn):
    """64 MB pseudo-random bitmaps a and b; 10 dense HLLs of 100k elements."""
    conn.cmd("FLUSHALL")
    chunk = os.urandom(MB)
    for key in (b"a", b"b"):
        conn.pipeline([("SETRANGE", key, i * MB, chunk[i:] + chunk[:i]) for i in range(64)])
    for k in range(10):
        for start in range(0, 100_000, 10_000):
            conn.pipeline(
                [("PFADD", f"h{k}", *[f"k{k}:{i}" for i in range(s, s + 100)])
                 for s in range(start, start + 10_000, 100)]
            )


def geo_points(n):
    """`n` deterministic (lon, lat) pairs spread over Redis's geo range."""
    rng = random.Random(18)
    return [(rng.uniform(-180, 180), rng.uniform(-85, 85)) for _ in range(n)]


def load_geo(conn):
    """A geo key `g` of 1,000,000 members."""
    conn.cmd("FLUSHALL")
    points = geo_points(1_000_000)
    for start in range(0, len(points), 100_000):
        batch = []
        for s in range(start, start + 100_000, 1000):
            args = ["GEOADD", "g"]
            for i in range(s, s + 1000):
                lon, lat = points[i]
                args += [f"{lon:.6f}", f"{lat:.6f}", f"m{i}"]
            batch.append(args)
        conn.pipeline(batch)


GEO_CENTERS = geo_points(200)


def geo_search(conn, lon, lat):
    return conn.cmd("GEOSEARCH", "g", "FROMLONLAT", f"{lon:.6f}", f"{lat:.6f}",
                    "BYRADIUS", "200", "km", "ASC")


def cpu_seconds(pid):
    """User plus system CPU time the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def workloads(conn, pid):
    """name -> (wall seconds per op or run, server CPU seconds, unit)."""
    out = {}

    def timed(name, fn, n, unit):
        c, t = cpu_seconds(pid), time.perf_counter()
        fn()
        out[name] = ((time.perf_counter() - t) / n, (cpu_seconds(pid) - c) / n, unit)

    timed("BITCOUNT 64 MB", lambda: [conn.cmd("BITCOUNT", "a") for _ in range(20)], 20, "ms/op")
    timed("BITOP AND 2x64 MB", lambda: [conn.cmd("BITOP", "AND", "d", "a", "b") for _ in range(10)], 10, "ms/op")

    def pfadd():
        conn.cmd("DEL", "p")
        elements = [f"element:{i}" for i in range(1_000_000)]
        for start in range(0, 1_000_000, 100 * 100):
            conn.pipeline(
                [("PFADD", "p", *elements[s : s + 100]) for s in range(start, start + 10_000, 100)]
            )

    timed("PFADD 1M (batches of 100)", pfadd, 1, "s/run")
    keys = [f"h{k}" for k in range(10)]
    timed("PFCOUNT 10 keys", lambda: [conn.cmd("PFCOUNT", *keys) for _ in range(2000)], 2000, "ms/op")
    return out


def geo_workloads(conn, pid):
    """GEOSEARCH BYRADIUS from 200 places over the 1M-member key."""
    c, t = cpu_seconds(pid), time.perf_counter()
    found = sum(len(geo_search(conn, lon, lat)) for lon, lat in GEO_CENTERS)
    n = len(GEO_CENTERS)
    name = f"GEOSEARCH BYRADIUS 200 km over 1M ({found // n} found on average)"
    return {name: ((time.perf_counter() - t) / n, (cpu_seconds(pid) - c) / n, "ms/op")}


def same_answers(conns, which):
    """The two servers answer the same before anything is timed."""
    if which == "bits":
        a, b = (conns[n].cmd("PFCOUNT", *[f"h{k}" for k in range(10)]) for n in ("reddish", "redis"))
        assert a == b, (a, b)
    else:
        for lon, lat in GEO_CENTERS[:20]:
            a, b = (geo_search(conns[n], lon, lat) for n in ("reddish", "redis"))
            assert a == b, (lon, lat, a, b)


SETS = {"bits": (load, workloads), "geo": (load_geo, geo_workloads)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=sorted(SETS), default="bits")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "reddish-server"], cwd=REPO, check=True)
    ports = {"reddish": free_port(), "redis": free_port()}
    procs = [
        subprocess.Popen([os.path.join(REPO, "target/release/reddish-server"), "--port", str(ports["reddish"])],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen(["redis-server", "--save", "", "--port", str(ports["redis"])],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    pids = {"reddish": procs[0].pid, "redis": procs[1].pid}
    loader, timed_set = SETS[args.set]
    try:
        conns = {}
        for name, port in ports.items():
            wait_ready(port)
            conns[name] = Conn(port)
            loader(conns[name])
        same_answers(conns, args.set)
        results = {n: [] for n in conns}
        for r in range(args.rounds):
            order = ("reddish", "redis") if r % 2 == 0 else ("redis", "reddish")
            for name in order:
                results[name].append(timed_set(conns[name], pids[name]))
        print("| workload | reddish wall | redis wall | wall ratio | reddish server CPU | redis server CPU | CPU ratio |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for w, (_, _, unit) in results["reddish"][0].items():
            scale = 1000 if unit == "ms/op" else 1
            row = [w]
            for i in (0, 1):
                ours = statistics.median(x[w][i] for x in results["reddish"]) * scale
                theirs = statistics.median(x[w][i] for x in results["redis"]) * scale
                ratio = statistics.median(
                    y[w][i] / max(x[w][i], 1e-9) for x, y in zip(results["reddish"], results["redis"]))
                row += [f"{ours:.3f} {unit}", f"{theirs:.3f} {unit}", f"{ratio:.2f}"]
            print("| " + " | ".join(row) + " |")
    finally:
        for p in procs:
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
