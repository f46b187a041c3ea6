#!/usr/bin/env python3
"""Writes the command flags Redis 7.0 keeps out of COMMAND INFO.

Redis's `addReplyFlagsForCommand` hides `may_replicate`, `sentinel`,
`only_sentinel`, `protected` and `touches_arbitrary_keys` on purpose, so the
captured COMMAND INFO (capture_command_meta.py) cannot hold them. They are in
Redis's command table, src/commands.c; this reads it at the tag reddish
follows and writes src/commands/redis-7.0-hidden-flags.resp3: a RESP3 map
from full command name (`publish`, `module|load`) to the set of its hidden
flags, Redis's `CMD_*` names in lowercase. src/commands/meta.rs adds them to
the flags parsed from COMMAND INFO. Run from the repository root:

    python3 tools/hidden_command_flags.py [path/to/redis/git/repo]
"""

import re
import subprocess
import sys

TAG = "7.0.15"
HIDDEN = ["MAY_REPLICATE", "SENTINEL", "ONLY_SENTINEL", "PROTECTED", "TOUCHES_ARBITRARY_KEYS"]
OUT = "src/commands/redis-7.0-hidden-flags.resp3"


def commands_c(repo):
    return subprocess.run(
        ["git", "-C", repo, "show", f"{TAG}:src/commands.c"],
        check=True, capture_output=True, text=True,
    ).stdout


def hidden_flags(src):
    """Full name -> hidden flag names, in commands.c's order."""
    found = {}
    container = None
    for line in src.splitlines():
        m = re.match(r"struct redisCommand (\w+)_Subcommands\[\] = \{", line)
        if m:
            container = m.group(1).lower().replace("_", "-")
            continue
        if line.startswith("struct redisCommand redisCommandTable[]"):
            container = None
            continue
        # A command entry: {"name","summary",...,proc,arity,FLAGS,ACL,...}.
        m = re.match(r'^\{"([^"]+)",.*?,(\w+),(-?\d+),((?:CMD_[A-Z_]+\|?)+|0),', line)
        if not m or not m.group(2).endswith(("Command", "NULL")):
            continue
        name = m.group(1) if container is None else f"{container}|{m.group(1)}"
        flags = [f[4:] for f in m.group(4).split("|") if f[4:] in HIDDEN]
        if flags:
            found[name] = [f.lower() for f in flags]
    return found


def enc_bulk(s):
    return b"$%d\r\n%s\r\n" % (len(s), s.encode())


def main():
    repo = sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror/redis+redis/repo"
    flags = hidden_flags(commands_c(repo))
    out = b"%%%d\r\n" % len(flags)
    for name, names in flags.items():
        out += enc_bulk(name) + b"~%d\r\n" % len(names)
        out += b"".join(b"+%s\r\n" % n.encode() for n in names)
    with open(OUT, "wb") as f:
        f.write(out)
    print(f"{len(flags)} commands with hidden flags -> {OUT}")


if __name__ == "__main__":
    main()
