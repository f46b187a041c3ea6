#!/usr/bin/env python3
"""Capture COMMAND INFO and COMMAND DOCS from a real redis-server as raw RESP3.

reddish answers COMMAND, COMMAND INFO and COMMAND DOCS byte for byte like Redis
by replaying what Redis itself says about each command (see src/commands/meta.rs).
Re-run this against the Redis version we target when that version changes:

    redis-server --port 7399 --save '' --daemonize yes
    python3 tools/capture_command_meta.py 7399 src/commands/meta
"""
import socket
import sys


def read_reply(sock_file):
    """Read one complete RESP3 reply and return its raw bytes."""
    line = sock_file.readline()
    kind, rest = line[:1], line[1:-2]
    if kind in b"+-:_,#(":
        return line
    if kind in b"$=!":
        n = int(rest)
        return line + (sock_file.read(n + 2) if n >= 0 else b"")
    if kind in b"*~>%|":
        n = int(rest)
        if kind in b"%|":
            n *= 2
        return line + b"".join(read_reply(sock_file) for _ in range(max(n, 0)))
    raise ValueError("unexpected reply %r" % line)


def main():
    port, prefix = int(sys.argv[1]), sys.argv[2]
    sock = socket.create_connection(("127.0.0.1", port))
    f = sock.makefile("rb")

    def ask(*args):
        req = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
        sock.sendall(req)
        return read_reply(f)

    ask(b"HELLO", b"3")
    with open(prefix + "-info.resp3", "wb") as out:
        out.write(ask(b"COMMAND", b"INFO"))
    with open(prefix + "-docs.resp3", "wb") as out:
        out.write(ask(b"COMMAND", b"DOCS"))


if __name__ == "__main__":
    main()
