#!/usr/bin/env python3
"""Writes the COMMAND INFO / COMMAND DOCS metadata for commands Redis 7.0 lacks.

Same RESP3 form as the captured Redis files (see capture_command_meta.py), so
src/commands/meta.rs treats both alike. Run from the repository root:

    python3 tools/extra_command_meta.py
"""


def enc(v):
    """Encode a Python value as RESP3: str -> bulk, ('+', s) -> simple, int,
    list -> array, ('~', list) -> set, dict -> map."""
    if isinstance(v, tuple) and v[0] == "+":
        return b"+%s\r\n" % v[1].encode()
    if isinstance(v, tuple) and v[0] == "~":
        return b"~%d\r\n" % len(v[1]) + b"".join(enc(x) for x in v[1])
    if isinstance(v, str):
        return b"$%d\r\n%s\r\n" % (len(v.encode()), v.encode())
    if isinstance(v, int):
        return b":%d\r\n" % v
    if isinstance(v, list):
        return b"*%d\r\n" % len(v) + b"".join(enc(x) for x in v)
    if isinstance(v, dict):
        return b"%%%d\r\n" % len(v) + b"".join(enc(k) + enc(x) for k, x in v.items())
    raise TypeError(v)


def simple(*names):
    return ("~", [("+", n) for n in names])


# CLIENT SETINFO arrived in Redis 7.2; clients send it on connect.
# CLIENT JSON is reddish's own: JSON replies for inline (telnet) requests.
INFO = [
    [
        "client|json", 3, simple("noscript", "loading", "stale"), 0, 0, 0,
        simple("@slow", "@connection"), ("~", []), ("~", []), [],
    ],
    [
        "client|setinfo", 4, simple("noscript", "loading", "stale"), 0, 0, 0,
        simple("@slow", "@connection"),
        ("~", [("+", "request_policy:all_nodes"), ("+", "response_policy:all_succeeded")]),
        ("~", []), [],
    ],
]

DOCS = {
    "client|json": {
        "summary": "Answers this connection's inline (telnet) requests with JSON objects, "
        "or stops doing so (reddish extension).",
        "since": "0.1.0",
        "group": "connection",
        "complexity": "O(1)",
        "arguments": [
            {
                "name": "enabled", "type": "oneof",
                "arguments": [
                    {"name": "on", "type": "pure-token", "token": "ON"},
                    {"name": "off", "type": "pure-token", "token": "OFF"},
                ],
            }
        ],
    },
    "client|setinfo": {
        "summary": "Sets information specific to the client or connection.",
        "since": "7.2.0",
        "group": "connection",
        "complexity": "O(1)",
        "arguments": [
            {
                "name": "attr", "type": "oneof",
                "arguments": [
                    {"name": "libname", "type": "string", "token": "LIB-NAME"},
                    {"name": "libver", "type": "string", "token": "LIB-VER"},
                ],
            }
        ],
    },
}

with open("src/commands/reddish-extra-info.resp3", "wb") as f:
    f.write(enc(INFO))
with open("src/commands/reddish-extra-docs.resp3", "wb") as f:
    f.write(enc(DOCS))
