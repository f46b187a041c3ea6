#!/usr/bin/env python3
"""Types into an interactive redis-cli (on a pseudo-terminal) and prints the
hint it shows for each typed prefix, one line per prefix.

The hints show that the interactive session works (and, with redis-cli 7.2+,
which builds them from the server's COMMAND DOCS, that the server describes its
commands the way Redis does).
Usage: redis_cli_hints.py PORT PREFIX...
"""
import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time

HINT = re.compile(rb"\x1b\[0;90;49m(.*?)\x1b\[0m")


def main():
    port, prefixes = sys.argv[1], sys.argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm"
        os.execvp("redis-cli", ["redis-cli", "-p", port])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 250, 0, 0))

    def read_for(seconds):
        out = b""
        end = time.time() + seconds
        while time.time() < end:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                out += chunk
                if b"\x1b[6n" in chunk:  # linenoise asks where the cursor is
                    os.write(fd, b"\x1b[1;1R")
        return out

    read_for(0.5)
    for prefix in prefixes:
        os.write(fd, prefix.encode())
        hints = HINT.findall(read_for(0.4))
        print(hints[-1].decode(errors="replace").strip() if hints else "<no hint>")
        os.write(fd, b"\x15")  # Ctrl-U clears the line
        read_for(0.1)
    os.write(fd, b"exit\r")
    read_for(0.2)


if __name__ == "__main__":
    main()
