#!/usr/bin/env python3
"""What an idle connection costs: reddish against redis-server (issue 20).

Each server starts fresh (same settings), 50 warm-up connections come and
go, then N clients connect and each runs one PING and stays connected
without sending anything more. After `--idle` seconds (reddish parks a
client idle for 2 s), MEMORY PURGE hands back the allocator's free pages
(both servers use jemalloc), and the growth of RSS and of `used_memory`
over the state before the clients connected is divided by N.

Usage: bench/idle.py [--reddish PATH] [--clients N] [--idle SECONDS] [--base-port P]
"""

import argparse
import os
import resource
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memory import cli, rss_kb, start  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def used_memory(port):
    info = cli(port, "INFO", "memory")
    return int(next(l.split(":")[1] for l in info.splitlines() if l.startswith("used_memory:")))


def measure(binary, opts):
    with tempfile.TemporaryDirectory(prefix="reddish-idle-") as tmp:
        proc, port = start(binary, opts.base_port, tmp, ["--maxclients", str(opts.clients + 100)])
        try:
            for _ in range(50):
                with socket.create_connection(("127.0.0.1", port)) as s:
                    s.sendall(b"PING\r\n")
                    s.recv(16)
            time.sleep(0.5)
            cli(port, "MEMORY", "PURGE")
            rss_before, used_before = rss_kb(proc.pid) * 1024, used_memory(port)
            clients = []
            for _ in range(opts.clients):
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall(b"PING\r\n")
                if s.recv(16) != b"+PONG\r\n":
                    raise RuntimeError("no PONG")
                clients.append(s)
            time.sleep(opts.idle)
            cli(port, "MEMORY", "PURGE")
            time.sleep(0.2)
            rss = (rss_kb(proc.pid) * 1024 - rss_before) / opts.clients
            used = (used_memory(port) - used_before) / opts.clients
            for s in clients:
                s.close()
            return rss, used
        finally:
            proc.terminate()
            proc.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reddish", default=os.path.join(REPO, "target/release/reddish-server"))
    p.add_argument("--clients", type=int, default=10_000)
    p.add_argument("--idle", type=float, default=4.0)
    p.add_argument("--base-port", type=int, default=34700)
    opts = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"{opts.clients:,} idle clients (one PING each), {opts.idle} s idle, then MEMORY PURGE\n")
    print("| server | RSS per client | used_memory per client |")
    print("| --- | ---: | ---: |")
    for name, binary in [("reddish", opts.reddish), ("redis-server 7.0.15", "redis-server")]:
        rss, used = measure(binary, opts)
        print(f"| {name} | {rss:,.0f} B | {used:,.0f} B |")


if __name__ == "__main__":
    main()
