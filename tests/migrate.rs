//! MIGRATE against real targets: redis-server as the source migrating to a
//! reddish target and reddish migrating to a redis-server target must answer
//! the same script with the same bytes and leave the same data behind.

mod support;

use std::net::TcpListener;

use support::{refused_port, Conn, Pair, Server};

/// One side: a source connection and the target it migrates to.
struct Side {
    source: Conn,
    target: Conn,
    target_port: String,
}

impl Side {
    /// Runs `args` on the source with `{T}` replaced by the target's port.
    fn run(&mut self, args: &[&str]) -> String {
        let args: Vec<&str> = args
            .iter()
            .map(|a| {
                if *a == "{T}" {
                    self.target_port.as_str()
                } else {
                    a
                }
            })
            .collect();
        self.source.cmd_str(&args)
    }
}

const SCRIPT: &[&[&str]] = &[
    &["set", "k1", "v1"],
    &["rpush", "l", "a", "b", "c"],
    &["set", "t", "x", "px", "100000"],
    &["hset", "h", "f", "1", "g", "2"],
    &["migrate", "127.0.0.1", "{T}", "k1", "0", "1000"],
    &["exists", "k1"],
    &[
        "migrate",
        "127.0.0.1",
        "{T}",
        "",
        "3",
        "1000",
        "keys",
        "l",
        "t",
        "nokey",
    ],
    &["exists", "l", "t"],
    &["migrate", "127.0.0.1", "{T}", "nokey", "3", "1000"],
    &["set", "l", "z"],
    // BUSYKEY from the target: the key stays here.
    &["migrate", "127.0.0.1", "{T}", "l", "3", "1000"],
    &["get", "l"],
    &[
        "migrate",
        "127.0.0.1",
        "{T}",
        "l",
        "3",
        "1000",
        "copy",
        "replace",
    ],
    &["get", "l"],
    &["migrate", "127.0.0.1", "{T}", "h", "3", "1000", "keys", "a"],
    &["migrate", "127.0.0.1", "{T}", "h", "3", "1000", "auth"],
    &[
        "migrate",
        "127.0.0.1",
        "{T}",
        "h",
        "3",
        "1000",
        "auth2",
        "u",
    ],
    &["migrate", "127.0.0.1", "{T}", "h", "3", "1000", "bogus"],
    &["migrate", "127.0.0.1", "{T}", "h", "x", "1000"],
    &["migrate", "127.0.0.1", "{T}", "h", "3", "x"],
    // The target has no password: its AUTH error is relayed.
    &[
        "migrate",
        "127.0.0.1",
        "{T}",
        "h",
        "3",
        "1000",
        "auth",
        "pw",
    ],
    &["migrate", "127.0.0.1", "{T}", "h", "99", "1000"],
    &["migrate", "127.0.0.1", "{T}", "h", "4", "0", "replace"],
    &["exists", "h"],
    &[
        "command", "getkeys", "migrate", "h", "1", "", "0", "5", "auth", "keys", "keys", "a", "b",
    ],
    &[
        "command", "getkeys", "migrate", "h", "1", "k", "0", "5", "copy",
    ],
    &["migrate", "nonexistent.invalid", "1", "l", "0", "100"],
];

#[test]
fn migrate_answers_and_moves_data_as_redis_does() {
    let Some(pair) = Pair::new() else {
        return;
    };
    // redis-server migrates into reddish, reddish into redis-server.
    let Some(redis_target) = Server::oracle() else {
        return;
    };
    let reddish_target = Server::start();
    let mut want = Side {
        source: Conn::connect(pair.want_port()),
        target: reddish_target.connect(),
        target_port: reddish_target.port.to_string(),
    };
    let mut got = Side {
        source: Conn::connect(pair.got_port()),
        target: redis_target.connect(),
        target_port: redis_target.port.to_string(),
    };
    for args in SCRIPT {
        assert_eq!(got.run(args), want.run(args), "reply to {args:?}");
    }
    // The targets hold the same values, in the same databases, TTLs kept.
    for (db, key) in [("0", "k1"), ("3", "l"), ("3", "t"), ("4", "h")] {
        want.target.cmd(&["select", db]);
        got.target.cmd(&["select", db]);
        let dump = want.target.cmd_str(&["dump", key]);
        assert!(dump.starts_with('$'), "{key} missing on a target: {dump}");
        assert_eq!(got.target.cmd_str(&["dump", key]), dump, "DUMP {key}");
        let ttl = |c: &mut Conn| {
            c.cmd_str(&["pttl", key])
                .trim_start_matches(':')
                .trim()
                .parse::<i64>()
        };
        let (w, g) = (ttl(&mut want.target), ttl(&mut got.target));
        assert!(
            matches!((&w, &g), (Ok(w), Ok(g)) if (w - g).abs() < 5000),
            "{key} {w:?} {g:?}"
        );
    }
    // INFO counts the cached connection (one per target here).
    for side in [&mut want, &mut got] {
        let info = side.source.cmd_str(&["info", "stats"]);
        assert!(info.contains("migrate_cached_sockets:1\r\n"), "{info}");
    }
}

#[test]
fn unreachable_and_silent_targets_give_redis_errors() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    pair.check(&["set", "k", "v"]);
    // Refused at once: Redis reports it as a write failure, after a retry.
    let (refused, _held) = refused_port();
    pair.check(&[
        "migrate",
        "127.0.0.1",
        &refused.to_string(),
        "k",
        "0",
        "500",
    ]);
    // Accepts and never answers: a read timeout, not retried.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port().to_string();
    let reply = pair.check(&["migrate", "127.0.0.1", &port, "k", "0", "300"]);
    assert_eq!(
        reply,
        b"-IOERR error or timeout reading to target instance\r\n"
    );
    pair.check(&["get", "k"]);
}
