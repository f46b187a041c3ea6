#!/usr/bin/env python3
"""Runs Redis 7.0.15's own test suite against reddish and checks the ratchet.

The ratchet is a list kept in the repo of the suite's tests that pass today,
one `unit<TAB>test name` line each:

  tests/redis-suite-passing.txt        external mode: the suite talks to a
                                       reddish-server this script starts (the
                                       `extended` unit set)
  tests/redis-suite-passing-spawn.txt  spawn mode: the suite starts reddish
                                       itself with its own config files (only
                                       the units named in this list run)

Every listed test must still pass; a test that fails is retried once with its
unit alone on a fresh server (a few of the suite's tests are timing-sensitive
on a busy 2-core machine). The lists only grow: `--update` appends the tests
that pass now and are not listed yet (run it after making tests pass, check
the diff, commit it).

Usage: tools/redis_suite_check.py [--update] [--server BIN] [--suite DIR]
The suite defaults to ../shared/redis-suite beside the repository (its
`run.sh` needs tclsh, redis-cli and redis-benchmark). Without the suite the
check is skipped, or fails when CI=true. The last line is
`redis-suite: N passed, M failed` over the listed tests.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTERNAL_LIST = os.path.join(REPO, "tests", "redis-suite-passing.txt")
SPAWN_LIST = os.path.join(REPO, "tests", "redis-suite-passing-spawn.txt")


def read_list(path):
    """The (unit, test) pairs of a ratchet list; blank and `#` lines are skipped."""
    pairs = []
    if not os.path.exists(path):
        return pairs
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            unit, _, test = line.partition("\t")
            pairs.append((unit, test))
    return pairs


def read_results(log_dir):
    """unit -> test -> statuses seen, from run.sh's results.tsv."""
    results = defaultdict(lambda: defaultdict(list))
    path = os.path.join(log_dir, "results.tsv")
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t", 2)
                if len(parts) == 3:
                    unit, status, test = parts
                    results[unit][test].append(status)
    return results


def passed(results, unit, test):
    """A test passes when it ran and every run of that name was ok."""
    statuses = results.get(unit, {}).get(test, [])
    return bool(statuses) and all(s == "ok" for s in statuses)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_ping(port, server, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return True
        except OSError:
            time.sleep(0.1)
    return False


def run_suite(args, label, units, spawn):
    """One run.sh run (a fresh server for external mode); returns its results."""
    log_dir = tempfile.mkdtemp(prefix=f"redis-suite-{label}-", dir="/tmp")
    env = dict(os.environ, LOG_DIR=log_dir, BASEPORT=str(args.baseport))
    run_sh = os.path.join(args.suite, "run.sh")
    server = None
    if spawn:
        cmd = [run_sh, "--spawn", args.server, *units]
    else:
        port = free_port()
        # DEBUG enabled as in the suite's own server config
        # (tests/assets/default.conf: enable-debug-command yes), which its
        # tests are written against; the profile's tags still decide which
        # tests run (external profiles skip needs:debug ones).
        server = subprocess.Popen(
            [args.server, "--port", str(port), "--enable-debug-command", "yes"],
            stdout=open(os.path.join(log_dir, "server.log"), "wb"),
            stderr=subprocess.STDOUT,
        )
        if not wait_for_ping(port, server):
            server.kill()
            sys.exit(f"redis-suite: reddish-server did not start (log: {log_dir}/server.log)")
        cmd = [run_sh, "--set", "extended", str(port), *units]
    print(f"--- redis suite ({label}): {' '.join(cmd[1:])}", flush=True)
    try:
        subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL)
    finally:
        if server is not None:
            server.kill()
            server.wait()
    return read_results(log_dir), log_dir


def check(args, label, listed, spawn, units):
    """Runs the units (external mode: none = the extended set), retries the
    units of listed failures once; returns the failures and the results."""
    results, _ = run_suite(args, label, units, spawn)
    failing = [(u, t) for u, t in listed if not passed(results, u, t)]
    for unit in sorted({u for u, _ in failing}):
        print(f"--- retrying {unit}: {sum(u == unit for u, _ in failing)} listed test(s) did not pass", flush=True)
        retry, _ = run_suite(args, f"{label}-retry", [unit], spawn)
        results[unit] = retry.get(unit, {})
    failing = [(u, t) for u, t in listed if not passed(results, u, t)]
    return failing, results


def update_list(path, listed, results):
    """Appends the tests that pass now and are not listed yet; returns how many."""
    known = set(listed)
    new = sorted(
        (u, t)
        for u, tests in results.items()
        for t in tests
        if (u, t) not in known and passed(results, u, t)
    )
    if new:
        with open(path, "a", encoding="utf-8") as f:
            for u, t in new:
                f.write(f"{u}\t{t}\n")
    return len(new)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--update", action="store_true", help="append newly passing tests to the lists")
    parser.add_argument("--server", default=os.path.join(REPO, "target", "release", "reddish-server"))
    parser.add_argument("--suite", default=os.environ.get(
        "REDIS_SUITE", os.path.join(os.path.dirname(REPO), "shared", "redis-suite")))
    parser.add_argument("--spawn-unit", action="append", default=[], metavar="UNIT",
                        help="also run this unit in spawn mode (with --update: to start listing it)")
    parser.add_argument("--baseport", type=int, default=int(os.environ.get("BASEPORT", "21111")))
    args = parser.parse_args()
    args.server = os.path.abspath(args.server)

    if not os.path.exists(os.path.join(args.suite, "run.sh")):
        message = f"redis-suite: no suite at {args.suite}"
        if os.environ.get("CI") == "true":
            sys.exit(message)
        print(f"SKIPPED: {message}")
        return
    if not os.access(args.server, os.X_OK):
        sys.exit(f"redis-suite: no server binary {args.server} (cargo build --release)")

    external = read_list(EXTERNAL_LIST)
    spawn = read_list(SPAWN_LIST)
    failures = []
    for label, path, listed, is_spawn, units in [
        ("external", EXTERNAL_LIST, external, False, []),
        ("spawn", SPAWN_LIST, spawn, True, sorted({u for u, _ in spawn} | set(args.spawn_unit))),
    ]:
        if is_spawn and not units:
            continue
        failing, results = check(args, label, listed, is_spawn, units)
        failures += [(label, u, t) for u, t in failing]
        if args.update:
            print(f"--- {path}: {update_list(path, listed, results)} test(s) added")

    for label, unit, test in failures:
        print(f"NO LONGER PASSES ({label}): {unit}\t{test}")
    total = len(external) + len(spawn)
    print(f"redis-suite: {total - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
