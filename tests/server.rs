//! Server commands over real sockets: COMMAND, DBSIZE, FLUSHDB, FLUSHALL,
//! TIME, INFO, CONFIG and SHUTDOWN, compared with redis-server wherever the
//! reply is deterministic.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};

use support::{differential, differential_normalized, differential_raw, Conn, Server};

/// The text of a bulk (RESP2) or verbatim (RESP3) string reply.
fn text_of(reply: &[u8]) -> String {
    let reply = String::from_utf8_lossy(reply);
    let body = reply.split_once("\r\n").map_or("", |(_, b)| b);
    let body = body.strip_suffix("\r\n").unwrap_or(body);
    body.strip_prefix("txt:").unwrap_or(body).to_string()
}

/// INFO's sections: title → field names, in order.
fn info_layout(conn: &mut Conn, args: &[&str]) -> Vec<(String, Vec<String>)> {
    let mut cmd = vec!["INFO"];
    cmd.extend(args);
    let text = text_of(&conn.cmd(&cmd));
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.split("\r\n") {
        if let Some(title) = line.strip_prefix("# ") {
            sections.push((title.to_string(), Vec::new()));
        } else if let (Some((name, _)), Some(last)) = (line.split_once(':'), sections.last_mut()) {
            last.1.push(name.to_string());
        }
    }
    sections
}

/// INFO's fields as a map.
fn info_fields(conn: &mut Conn, section: &str) -> BTreeMap<String, String> {
    text_of(&conn.cmd(&["INFO", section]))
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn command_info_and_docs_match_redis_for_our_commands() {
    let names = [
        "get",
        "SET",
        "ping",
        "echo",
        "select",
        "quit",
        "reset",
        "hello",
        "dbsize",
        "flushdb",
        "flushall",
        "time",
        "info",
        "shutdown",
        "client|id",
        "CLIENT|KILL",
        "config|get",
        "command|info",
    ];
    let mut info = vec!["COMMAND", "INFO"];
    info.extend(names);
    info.extend(["nosuch", "get|x", "client|nosuch", "client|id|x"]);
    let mut docs = vec!["COMMAND", "DOCS"];
    docs.extend(names);
    docs.extend(["nosuch", "get|x"]);
    differential(&[
        &info,
        &docs,
        &["COMMAND", "DOCS", "nosuch"],
        &["COMMAND", "HELP"],
        &["COMMAND", "NOPE"],
        &["COMMAND", "COUNT", "x"],
        &["COMMAND", "INFO", "get", "set"],
    ]);
}

#[test]
fn command_docs_and_config_get_are_maps_in_resp3() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    let run = |port: u16| {
        let mut conn = Conn::connect(port);
        conn.cmd(&["HELLO", "3"]);
        [
            conn.cmd(&["COMMAND", "DOCS", "get", "client|id", "nosuch"]),
            conn.cmd(&["COMMAND", "INFO", "get", "nosuch"]),
            conn.cmd(&["CONFIG", "GET", "no-such-setting"]),
            conn.cmd(&["CONFIG", "SET", "a", "b", "c"]),
            conn.cmd(&["TIME"])[..2].to_vec(),
        ]
        .map(|r| String::from_utf8_lossy(&r).into_owned())
    };
    assert_eq!(run(ours.port), run(oracle.port));
    let mut conn = ours.connect();
    conn.cmd(&["HELLO", "3"]);
    assert!(conn.cmd_str(&["CONFIG", "GET", "*"]).starts_with('%'));
    assert!(conn.cmd_str(&["INFO", "server"]).starts_with('='));
}

#[test]
fn command_getkeys_matches_redis() {
    differential(&[
        &["COMMAND", "GETKEYS", "set", "a", "b"],
        &["COMMAND", "GETKEYS", "SET", "a", "b", "EX", "10"],
        &["COMMAND", "GETKEYS", "del", "a", "b", "c"],
        &["COMMAND", "GETKEYS", "exists", "a"],
        &["COMMAND", "GETKEYS", "get", "a", "b"],
        &["COMMAND", "GETKEYS", "sintercard", "5", "a", "b"],
        &[
            "COMMAND",
            "GETKEYS",
            "sintercard",
            "2",
            "a",
            "b",
            "LIMIT",
            "1",
        ],
        &["COMMAND", "GETKEYS", "lmpop", "-1", "a", "LEFT"],
        &[
            "COMMAND",
            "GETKEYS",
            "lmpop",
            "9223372036854775807",
            "a",
            "LEFT",
        ],
        &["COMMAND", "GETKEYS", "mset", "a", "1", "b"],
        &["COMMAND", "GETKEYS", "get"],
        &["COMMAND", "GETKEYS", "nosuch", "a"],
        &["COMMAND", "GETKEYS", "ping", "x"],
        &["COMMAND", "GETKEYS", "client", "id"],
        &["COMMAND", "GETKEYS", "client", "nosuch"],
        &["COMMAND", "GETKEYS", "command", "list"],
    ]);
}

#[test]
fn command_getkeysandflags_matches_redis() {
    let script: &[&[&str]] = &[
        &["COMMAND", "GETKEYSANDFLAGS", "set", "k1", "v1"],
        &[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "set",
            "k1",
            "v1",
            "EX",
            "1",
            "get",
        ],
        &["COMMAND", "GETKEYSANDFLAGS", "mset", "k1", "v1", "k2", "v2"],
        &[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "lmove",
            "a",
            "b",
            "left",
            "right",
        ],
        &[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "zunionstore",
            "d",
            "2",
            "a",
            "b",
        ],
        &["COMMAND", "GETKEYSANDFLAGS", "zunionstore", "d", "5", "a"],
        &["COMMAND", "GETKEYSANDFLAGS", "del", "a", "b"],
        &["COMMAND", "GETKEYSANDFLAGS", "memory", "usage", "k"],
        &["COMMAND", "GETKEYSANDFLAGS", "get"],
        &["COMMAND", "GETKEYSANDFLAGS", "ping"],
        &["COMMAND", "GETKEYSANDFLAGS", "nosuch", "a"],
        &["COMMAND", "GETKEYSANDFLAGS"],
    ];
    differential(script);
    support::differential_resp3(script);
}

#[test]
fn command_list_filters() {
    differential(&[
        &["COMMAND", "LIST", "x"],
        &["COMMAND", "LIST", "FILTERBY"],
        &["COMMAND", "LIST", "FILTERBY", "foo", "x"],
        &["COMMAND", "LIST", "FILTERBY", "pattern", "cl*", "x"],
        &["COMMAND", "LIST", "FILTERBY", "MODULE", "foo"],
        &["COMMAND", "LIST", "FILTERBY", "aclcat", "nosuchcat"],
        &[
            "COMMAND",
            "LIST",
            "FILTERBY",
            "pattern",
            "nothing-like-this*",
        ],
    ]);
    let server = Server::start();
    let mut conn = server.connect();
    let names = |conn: &mut Conn, args: &[&str]| -> Vec<String> {
        let reply = conn.cmd_str(args);
        reply
            .split("\r\n")
            .filter(|l| !l.is_empty() && !l.starts_with('*') && !l.starts_with('$'))
            .map(str::to_string)
            .collect()
    };
    let all = names(&mut conn, &["COMMAND", "LIST"]);
    for expected in [
        "get",
        "client",
        "client|setinfo",
        "command|list",
        "config|get",
    ] {
        assert!(
            all.iter().any(|n| n == expected),
            "{expected} missing from {all:?}"
        );
    }
    let mut clients = names(
        &mut conn,
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "CLIENT*"],
    );
    clients.sort();
    assert!(clients.iter().all(|n| n.starts_with("client")));
    assert_eq!(
        clients.len(),
        all.iter().filter(|n| n.starts_with("client")).count()
    );
    let connection = names(
        &mut conn,
        &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "Connection"],
    );
    assert!(connection.iter().any(|n| n == "ping"));
    assert!(!connection.iter().any(|n| n == "get"));
    // COMMAND with no subcommand lists every top-level command's INFO entry.
    let count = conn.cmd_str(&["COMMAND", "COUNT"]);
    let entries = conn.cmd_str(&["COMMAND"]);
    assert_eq!(
        entries.split("\r\n").next().map(|l| &l[1..]),
        Some(&count.trim_end()[1..])
    );
}

#[test]
fn dbsize_and_flushes_match_redis() {
    differential(&[
        &["SET", "a", "1"],
        &["SET", "b", "2"],
        &["SELECT", "1"],
        &["SET", "c", "3"],
        &["DBSIZE"],
        &["FLUSHDB", "ASYNC"],
        &["DBSIZE"],
        &["SELECT", "0"],
        &["DBSIZE"],
        &["SELECT", "2"],
        &["SET", "d", "4"],
        &["FLUSHALL", "sync"],
        &["DBSIZE"],
        &["SELECT", "0"],
        &["DBSIZE"],
        &["SET", "e", "5"],
        &["FLUSHALL"],
        &["GET", "e"],
        &["SET", "e", "5"],
        &["FLUSHDB"],
        &["DBSIZE"],
        &["FLUSHDB", "x"],
        &["FLUSHDB", "SYNC", "ASYNC"],
        &["FLUSHALL", "a", "b"],
        &["DBSIZE", "x"],
        &["TIME", "x"],
    ]);
}

#[test]
fn time_is_now_and_moves_forward() {
    let server = Server::start();
    let mut conn = server.connect();
    let read = |conn: &mut Conn| -> (u64, u64) {
        let reply = conn.cmd_str(&["TIME"]);
        let parts: Vec<u64> = reply
            .split("\r\n")
            .filter(|l| !l.is_empty() && !l.starts_with('*') && !l.starts_with('$'))
            .map(|n| n.parse().expect("a number"))
            .collect();
        assert!(reply.starts_with("*2\r\n$"), "{reply:?}");
        (parts[0], parts[1])
    };
    let (s1, us1) = read(&mut conn);
    let (s2, us2) = read(&mut conn);
    assert!(us1 < 1_000_000 && us2 < 1_000_000);
    assert!((s2, us2) >= (s1, us1));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(s2.abs_diff(now) <= 2);
}

#[test]
fn info_sections_and_fields_match_redis() {
    let ours = Server::start();
    let mut conn = ours.connect();
    conn.cmd(&["SET", "k", "v"]);
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let mut theirs = oracle.connect();
    theirs.cmd(&["SET", "k", "v"]);
    let titles = |layout: Vec<(String, Vec<String>)>| -> Vec<String> {
        layout.into_iter().map(|(t, _)| t).collect()
    };
    for args in [
        &[][..],
        &["default"],
        &["all"],
        &["everything"],
        &["cpu", "SERVER", "x"],
    ] {
        assert_eq!(
            titles(info_layout(&mut conn, args)),
            titles(info_layout(&mut theirs, args)),
            "INFO {args:?}"
        );
    }
    for section in [
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cluster",
        "keyspace",
    ] {
        assert_eq!(
            info_layout(&mut conn, &[section]),
            info_layout(&mut theirs, &[section]),
            "INFO {section}"
        );
    }
    // The per-thread CPU lines are Redis's only where RUSAGE_THREAD exists.
    let cpu = |layout: Vec<(String, Vec<String>)>| -> Vec<String> {
        layout[0]
            .1
            .iter()
            .filter(|n| !n.ends_with("_main_thread"))
            .cloned()
            .collect()
    };
    assert_eq!(
        cpu(info_layout(&mut conn, &["cpu"])),
        cpu(info_layout(&mut theirs, &["cpu"]))
    );
    // Exact texts where the values are deterministic.
    for args in [&["nosuch"][..], &["keyspace"], &["cluster"], &["modules"]] {
        let mut cmd = vec!["INFO"];
        cmd.extend(args);
        assert_eq!(conn.cmd_str(&cmd), theirs.cmd_str(&cmd), "INFO {args:?}");
    }
}

#[test]
fn info_values() {
    let server = Server::start();
    let mut conn = server.connect();
    let mut other = server.connect();
    other.cmd(&["PING"]);
    let fields = info_fields(&mut conn, "server");
    assert_eq!(fields["redis_version"], "7.0.15");
    assert_eq!(fields["redis_mode"], "standalone");
    assert_eq!(fields["tcp_port"], server.port.to_string());
    assert_eq!(fields["run_id"].len(), 40);
    assert!(fields["process_id"].parse::<u32>().is_ok());
    assert!(fields["os"].starts_with("Linux"));
    assert_eq!(fields["arch_bits"], "64");

    assert_eq!(info_fields(&mut conn, "clients")["connected_clients"], "2");
    let memory = info_fields(&mut conn, "memory");
    let used: u64 = memory["used_memory"].parse().expect("a number");
    assert!(used > 0);
    assert!(memory["used_memory_human"].ends_with(['B', 'K', 'M', 'G']));
    assert_eq!(memory["maxmemory"], "0");
    assert_eq!(info_fields(&mut conn, "replication")["role"], "master");

    for i in 0..5 {
        conn.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    conn.cmd(&["SELECT", "3"]);
    conn.cmd(&["SET", "x", "y"]);
    assert_eq!(
        text_of(&conn.cmd(&["INFO", "keyspace"])),
        "# Keyspace\r\ndb0:keys=5,expires=0,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"
    );
    let stats = info_fields(&mut conn, "stats");
    let processed: u64 = stats["total_commands_processed"].parse().expect("a number");
    assert!(processed >= 12, "{processed}");
    assert!(
        stats["total_connections_received"]
            .parse::<u64>()
            .expect("n")
            >= 2
    );
    assert!(stats["total_net_input_bytes"].parse::<u64>().expect("n") > 0);
    conn.cmd(&["NOPE"]);
    let errors = info_fields(&mut conn, "stats")["total_error_replies"].clone();
    assert_eq!(conn.cmd_str(&["CONFIG", "RESETSTAT"]), "+OK\r\n");
    let stats = info_fields(&mut conn, "stats");
    assert!(errors.parse::<u64>().expect("n") >= 1);
    assert_eq!(stats["total_error_replies"], "0");
    assert!(stats["total_commands_processed"].parse::<u64>().expect("n") <= 2);
}

#[test]
fn instantaneous_ops_follow_the_load() {
    let server = Server::start();
    let mut conn = server.connect();
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_millis(400) {
        conn.cmd(&["PING"]);
    }
    let ops: u64 = info_fields(&mut conn, "stats")["instantaneous_ops_per_sec"]
        .parse()
        .expect("a number");
    assert!(ops > 0);
}

#[test]
fn config_errors_and_help_match_redis() {
    differential(&[
        &["CONFIG"],
        &["CONFIG", "GET"],
        &["CONFIG", "GET", "no-such-setting"],
        &["CONFIG", "SET"],
        &["CONFIG", "SET", "a"],
        &["CONFIG", "SET", "a", "b", "c"],
        &["CONFIG", "RESETSTAT"],
        &["CONFIG", "RESETSTAT", "x"],
        &["CONFIG", "HELP"],
        &["CONFIG", "NOPE"],
    ]);
}

#[test]
fn shutdown_errors_match_redis() {
    differential(&[
        &["SHUTDOWN", "foo"],
        &["SHUTDOWN", "ABORT"],
        &["SHUTDOWN", "NOSAVE", "SAVE"],
        &["SHUTDOWN", "ABORT", "NOW"],
        &["SHUTDOWN", "now", "NOW", "FORCE", "ABORT"],
        &["PING"],
    ]);
}

#[test]
fn shutdown_exits_without_a_reply() {
    // Redis exits inside the command: not even earlier pipelined replies go out.
    differential_raw(b"PING\r\nSHUTDOWN NOSAVE\r\n");
    let mut server = Server::start();
    let mut other = server.connect();
    other.cmd(&["PING"]);
    let mut conn = server.connect();
    conn.send(b"SHUTDOWN NOW\r\n");
    assert!(conn.is_closed());
    assert!(other.is_closed());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while server.is_running() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!server.is_running());
}

#[test]
fn memory_errors_help_and_missing_keys_match_redis() {
    differential(&[
        &["SET", "s", "abc"],
        &["MEMORY", "HELP"],
        &["MEMORY", "USAGE", "nokey"],
        &["MEMORY", "USAGE", "nokey", "SAMPLES", "0"],
        &["MEMORY", "USAGE", "s", "SAMPLES", "-1"],
        &["MEMORY", "USAGE", "s", "SAMPLES", "x"],
        &["MEMORY", "USAGE", "nokey", "SAMPLES", "x"],
        &["MEMORY", "USAGE", "s", "SAMPLES"],
        &["MEMORY", "USAGE", "s", "foo"],
        &["MEMORY", "USAGE"],
        &["MEMORY", "STATS", "x"],
        &["MEMORY", "PURGE"],
        &["MEMORY", "FOO"],
        &["MEMORY"],
    ]);
}

/// MEMORY USAGE's figure of `key`.
fn usage(conn: &mut Conn, args: &[&str]) -> i64 {
    let mut cmd = vec!["MEMORY", "USAGE"];
    cmd.extend(args);
    let reply = conn.cmd_str(&cmd);
    reply
        .trim_start_matches(':')
        .trim_end()
        .parse()
        .unwrap_or_else(|_| panic!("{cmd:?}: {reply}"))
}

#[test]
fn memory_usage_grows_with_the_value_and_samples_as_redis() {
    let server = Server::start();
    let mut c = server.connect();
    c.cmd(&["SET", "short", "abc"]);
    c.cmd(&["SET", "long", &"x".repeat(1000)]);
    assert!(usage(&mut c, &["long"]) >= usage(&mut c, &["short"]) + 1000);
    // Five short members first, then long ones: the default five samples
    // see only the short ones, SAMPLES 0 measures every member.
    for kind in ["SADD", "RPUSH", "ZADD", "HSET"] {
        let key = format!("k{kind}");
        let mut members: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
        members.extend((0..300).map(|i| format!("{i}{}", "y".repeat(200))));
        for m in &members {
            match kind {
                // Ranked first, as Redis samples a skiplist in rank order.
                "ZADD" if m.len() < 5 => c.cmd(&[kind, &key, "0", m]),
                "ZADD" => c.cmd(&[kind, &key, "1", m]),
                "HSET" => c.cmd(&[kind, &key, m, "1"]),
                _ => c.cmd(&[kind, &key, m]),
            };
        }
        let sampled = usage(&mut c, &[&key]);
        let all = usage(&mut c, &[&key, "SAMPLES", "0"]);
        assert!(all >= 300 * 200, "{kind}: {all}");
        if kind != "RPUSH" {
            // A list's nodes each hold many elements: the samples are nodes.
            assert!(sampled < all / 2, "{kind}: {sampled} vs {all}");
        }
    }
    // A small hash is one compact buffer, smaller than a hashtable one.
    c.cmd(&["HSET", "small", "a", "1"]);
    assert!(usage(&mut c, &["small"]) < usage(&mut c, &["kHSET", "SAMPLES", "0"]));
}

#[test]
fn memory_stats_is_a_map_with_redis_fields() {
    let server = Server::start();
    let mut c = server.connect();
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["SET", "b", "1"]);
    let text = String::from_utf8_lossy(&c.cmd(&["MEMORY", "STATS"])).into_owned();
    for field in [
        "peak.allocated",
        "db.0",
        "db.3",
        "keys.count",
        "fragmentation.bytes",
    ] {
        assert!(text.contains(&format!("{field}\r\n")), "{field}: {text}");
    }
    assert!(!text.contains("db.1\r\n"));
    assert!(text.contains("keys.count\r\n:2\r\n"), "{text}");
    c.cmd(&["HELLO", "3"]);
    assert!(c.cmd_str(&["MEMORY", "STATS"]).starts_with("%29\r\n"));
    assert!(c.cmd_str(&["MEMORY", "DOCTOR"]).starts_with('='));
}

/// INFO commandstats / errorstats text with times masked and lines sorted
/// (Redis lists commands in its dict's order).
fn call_stats_text(reply: &[u8]) -> Vec<u8> {
    let text = text_of(reply);
    let mut lines: Vec<String> = text
        .split("\r\n")
        .map(|line| {
            let fields: Vec<&str> = line.split(',').filter(|f| !f.starts_with("usec")).collect();
            fields.join(",")
        })
        .collect();
    lines.sort();
    lines.join("\n").into_bytes()
}

#[test]
fn commandstats_and_errorstats_match_redis() {
    let script: &[&[&str]] = &[
        &["CONFIG", "RESETSTAT"],
        &["SET", "foo", "bar"],
        &["EXPIRE", "foo", "0"],
        &["LPUSH", "list", "foo"],
        &["BRPOP", "list", "0"],
        // Rejected: arity; unknown commands count only as errors.
        &["GET"],
        &["NOSUCHCOMMAND"],
        &["CLIENT", "NOSUCH"],
        // Failed: the command ran and answered an error.
        &["INCR", "list"],
        &["CLIENT", "LIST", "x"],
        &["OBJECT", "FREQ", "list"],
        // Inside MULTI: queued commands count when EXEC runs them.
        &["MULTI"],
        &["SET", "a", "b"],
        &["INCR", "a"],
        &["EXEC"],
        &["MULTI"],
        &["GET"],
        &["EXEC"],
        &["INFO", "commandstats"],
        &["INFO", "errorstats"],
        &["CONFIG", "RESETSTAT"],
        &["INFO", "commandstats"],
        &["INFO", "errorstats"],
    ];
    differential_normalized(script, call_stats_text);
}

/// CONFIG SET with a port someone else holds: Redis's error, and every
/// setting of the command keeps its old value; the server still answers.
fn busy_port_is_refused_and_rolled_back(s: &Server) -> Vec<String> {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy_port = busy.local_addr().expect("addr").port().to_string();
    let mut c = s.connect();
    let mut out = vec![c.cmd_str(&[
        "CONFIG",
        "SET",
        "maxmemory",
        "10000001",
        "port",
        &busy_port,
        "client-query-buffer-limit",
        "10m",
    ])];
    for name in ["maxmemory", "client-query-buffer-limit"] {
        out.push(c.cmd_str(&["CONFIG", "GET", name]));
    }
    out.push(Conn::connect(s.port).cmd_str(&["PING"]));
    out
}

#[test]
fn config_set_port_moves_the_listener_or_rolls_back() {
    let ours = busy_port_is_refused_and_rolled_back(&Server::start());
    assert!(ours[0].starts_with("-ERR CONFIG SET failed (possibly related to argument 'port')"));
    if let Some(oracle) = Server::oracle() {
        assert_eq!(busy_port_is_refused_and_rolled_back(&oracle), ours);
    }
    // A free port: the server listens there instead; the connection stays.
    let server = Server::start();
    let mut c = server.connect();
    let port = support::free_port();
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "port", &port.to_string()]),
        "+OK\r\n"
    );
    assert_eq!(Conn::connect(port).cmd_str(&["PING"]), "+PONG\r\n");
    assert_eq!(
        c.cmd_str(&["CONFIG", "GET", "port"]),
        format!(
            "*2\r\n$4\r\nport\r\n${}\r\n{port}\r\n",
            port.to_string().len()
        )
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::net::TcpStream::connect(("127.0.0.1", server.port)).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the old port still listens"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// CONFIG SET bind: an address that cannot be bound is Redis's error and
/// changes nothing; the address already bound keeps listening through a
/// change that keeps it; a new address listens, and one dropped stops.
fn bind_changes(s: &Server) -> Vec<String> {
    let mut c = s.connect();
    let mut out = vec![
        c.cmd_str(&["CONFIG", "SET", "bind", "999.999.999.999"]),
        c.cmd_str(&["CONFIG", "GET", "bind"]),
        Conn::connect(s.port).cmd_str(&["PING"]),
        c.cmd_str(&["CONFIG", "SET", "bind", "127.0.0.1 127.0.0.2"]),
        Conn::connect(s.port).cmd_str(&["PING"]),
    ];
    let mut second = std::net::TcpStream::connect(("127.0.0.2", s.port)).expect("127.0.0.2");
    second.write_all(b"PING\r\n").expect("write");
    let mut pong = [0u8; 7];
    second.read_exact(&mut pong).expect("read");
    out.push(String::from_utf8_lossy(&pong).into_owned());
    out.push(c.cmd_str(&["CONFIG", "SET", "bind", "127.0.0.2"]));
    out.push(c.cmd_str(&["CONFIG", "GET", "bind"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::net::TcpStream::connect(("127.0.0.1", s.port)).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "127.0.0.1 still listens"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    out
}

#[test]
fn config_set_bind_rebinds_or_changes_nothing() {
    let ours = bind_changes(&Server::start());
    assert_eq!(
        ours[0],
        "-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n"
    );
    assert_eq!(ours[2], "+PONG\r\n");
    // Both start on Redis's default bind, `* -::*`, which holds the port
    // on 127.0.0.1 too: the change must free it first.
    if let Some(oracle) = Server::oracle_with(&["--bind", "*", "-::*"]) {
        assert_eq!(bind_changes(&oracle), ours);
    }
}

#[test]
fn mem_allocator_names_jemalloc_and_a_big_string_costs_its_bytes() {
    let server = Server::start();
    let mut c = server.connect();
    let memory = info_fields(&mut c, "memory");
    let allocator = memory.get("mem_allocator").cloned().unwrap_or_default();
    assert!(allocator.starts_with("jemalloc-5."), "{allocator}");
    // Redis's suite checks this (unit/type/string, "trim on SET with big
    // value") when the allocator is jemalloc.
    c.cmd(&["SET", "key", &"A".repeat(100_000)]);
    c.cmd(&["SET", "key", &"A".repeat(33_000)]);
    let usage = usage(&mut c, &["key"]);
    assert!((33_000..42_000).contains(&usage), "{usage}");
}

/// `enable-protected-configs local` lets only 127.0.0.1 and ::1 change
/// protected settings: 127.0.0.2 is loopback but not local to Redis.
#[test]
fn protected_configs_local_means_redis_local() {
    let args = [
        "--enable-protected-configs",
        "local",
        "--protected-mode",
        "no",
    ];
    let Some(oracle) = Server::oracle_with(&args) else {
        return;
    };
    let ours = Server::start_with(&args);
    let dir = std::env::temp_dir().to_string_lossy().into_owned();
    let set_dir = ["CONFIG", "SET", "dir", dir.as_str()];
    let from = std::net::Ipv4Addr::new(127, 0, 0, 2);
    let want = Conn::connect_from(from, oracle.port).cmd_str(&set_dir);
    assert!(want.contains("can't set protected config"), "{want}");
    assert_eq!(Conn::connect_from(from, ours.port).cmd_str(&set_dir), want);
    assert_eq!(oracle.connect().cmd_str(&set_dir), "+OK\r\n");
    assert_eq!(ours.connect().cmd_str(&set_dir), "+OK\r\n");
}

/// LOLWUT: the version line, and version 5's Schotter where Redis's is not
/// random (the first two rows of squares are never moved), errors included.
#[test]
fn lolwut_matches_redis() {
    differential(&[
        &["LOLWUT"],
        &["LOLWUT", "VERSION", "4"],
        &["LOLWUT", "VERSION", "5", "10", "2", "2"],
        &["LOLWUT", "VERSION", "5", "40", "4", "2"],
        // One column, the default 8x12 squares: Redis's rows past the
        // second are random, so only one row of one square is compared.
        &["LOLWUT", "VERSION", "5", "1", "1", "1"],
        &["LOLWUT", "VERSION", "5", "5000", "300", "0"],
        &["LOLWUT", "VERSION", "x"],
        &["LOLWUT", "VERSION", "5", "x"],
        // Version 6 with one row: every skyscraper is too low to show.
        &["LOLWUT", "VERSION", "6", "80", "1"],
        &["LOLWUT", "VERSION", "6", "0", "-5"],
        &["LOLWUT", "VERSION", "6", "x"],
        &["LOLWUT", "VERSION", "6", "10", "x"],
        &["LOLWUT", "VERSION", "59"],
    ]);
}

/// A standalone server's cluster commands: each refused as Redis refuses
/// them with `cluster-enabled no`, after the table's own checks.
#[test]
fn cluster_commands_say_cluster_support_is_disabled() {
    differential(&[
        &["CLUSTER", "INFO"],
        &["CLUSTER", "HELP"],
        &["CLUSTER", "KEYSLOT", "k"],
        &["CLUSTER", "SLOTS"],
        &["CLUSTER", "SHARDS"],
        &["CLUSTER", "NOSUCH"],
        &["CLUSTER", "KEYSLOT"],
        &["CLUSTER"],
        &["READONLY"],
        &["READWRITE"],
        &["ASKING"],
        &["MULTI"],
        &["CLUSTER", "INFO"],
        &["EXEC"],
    ]);
}

/// MODULE: no module is loaded, and one cannot be: LOAD, LOADEX and UNLOAD
/// fail as they do in Redis for a library that does not load, once
/// `enable-module-command` lets them run (refused before that, as DEBUG).
#[test]
fn module_commands_as_redis_without_modules() {
    let script: &[&[&str]] = &[
        &["MODULE", "LIST"],
        &["MODULE", "HELP"],
        &["MODULE", "LOAD", "/nonexistent/module.so"],
        &[
            "MODULE",
            "LOADEX",
            "/nonexistent/module.so",
            "CONFIG",
            "a",
            "b",
        ],
        &["MODULE", "UNLOAD", "nosuch"],
        &["MODULE", "NOSUCH"],
        &["MODULE"],
    ];
    differential(script);
    let Some(oracle) = Server::oracle_with(&["--enable-module-command", "yes"]) else {
        return;
    };
    let ours = Server::start_with(&["--enable-module-command", "yes"]);
    let (mut want, mut got) = (oracle.connect(), ours.connect());
    for args in script {
        assert_eq!(
            String::from_utf8_lossy(&got.cmd(args)),
            String::from_utf8_lossy(&want.cmd(args)),
            "{args:?}"
        );
    }
}

/// LOLWUT 6's skyline is random (Redis seeds `rand()` at start-up), so two
/// servers never draw the same one: the picture's size, its colours (the
/// four terminal escapes) and the captions must be Redis's.
#[test]
fn lolwut_6_draws_a_skyline_shaped_as_redis() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    let shape = |server: &Server, args: &[&str]| {
        let text = text_of(&server.connect().cmd(args));
        let lines: Vec<&str> = text.split('\n').collect();
        let (picture, captions) = lines.split_at(lines.len().saturating_sub(3));
        let mut colours = std::collections::BTreeSet::new();
        let widths: Vec<usize> = picture
            .iter()
            .map(|row| {
                let cells: Vec<&str> = row.split_terminator(" \x1b[0m").collect();
                colours.extend(cells.iter().map(|c| c.to_string()));
                cells.len()
            })
            .collect();
        (widths, colours, captions.join("\n"))
    };
    for args in [
        &["LOLWUT", "VERSION", "6"][..],
        &["LOLWUT", "VERSION", "6", "33", "17"],
        &["LOLWUT", "VERSION", "6", "1200", "3"],
    ] {
        let (widths, colours, captions) = shape(&ours, args);
        let (want_widths, _, want_captions) = shape(&oracle, args);
        assert_eq!(widths, want_widths, "rows and columns of {args:?}");
        assert_eq!(captions, want_captions, "captions of {args:?}");
        let allowed = [
            "\x1b[0;30;40m",
            "\x1b[0;90;100m",
            "\x1b[0;37;47m",
            "\x1b[0;97;107m",
        ];
        assert!(
            colours.iter().all(|c| allowed.contains(&c.as_str())),
            "colours of {args:?}: {colours:?}"
        );
    }
}

/// CONFIG REWRITE keeps the file's comments and layout, rewrites each
/// setting on its first line (an alias under the setting's own name),
/// blanks repeated lines, and appends what differs from the defaults after
/// Redis's signature line: the file redis-server 7.0.15 writes for the same
/// steps (checked by hand; Redis appends in hash order, we in table order).
#[test]
fn config_rewrite_keeps_the_file_layout() {
    let dir = support::server_dir();
    let path = format!("{dir}/reddish.conf");
    std::fs::write(
        &path,
        "# my comment\nport 7777\n\n\nsave \"\"\nmaxmemory 100mb\n# another\nslave-read-only yes\nhz 10\nhz 12\n",
    )
    .expect("write config");
    let server = Server::start_with(&[&path, "--dir", &dir]);
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd_str(&[
            "CONFIG",
            "SET",
            "maxmemory",
            "2gb",
            "hz",
            "20",
            "appendfsync",
            "no",
            "notify-keyspace-events",
            "KEA",
            "client-output-buffer-limit",
            "pubsub 64mb 16mb 90",
        ]),
        "+OK\r\n"
    );
    assert_eq!(conn.cmd_str(&["CONFIG", "REWRITE"]), "+OK\r\n");
    let written = std::fs::read_to_string(&path).expect("read config");
    assert_eq!(
        written.replace(&format!("port {}\n", server.port), "port PORT\n"),
        format!(
            "# my comment\nport PORT\n\nsave \"\"\nmaxmemory 2gb\n# another\nreplica-read-only yes\nhz 20\n\n\
             # Generated by CONFIG REWRITE\nappendfsync no\ndir \"{dir}\"\n\
             client-output-buffer-limit pubsub 64mb 16mb 90\nnotify-keyspace-events \"AKE\"\n\
             latency-tracking-info-percentiles 50 99 99.9\nuser default on nopass ~* &* +@all\n"
        )
    );
    // A second rewrite: as in Redis, the default `normal` class takes the
    // one client-output-buffer-limit line there is and `pubsub` is appended
    // (after the blank line the file's last newline leaves).
    assert_eq!(conn.cmd_str(&["CONFIG", "REWRITE"]), "+OK\r\n");
    let again = std::fs::read_to_string(&path).expect("read config");
    assert!(
        again.ends_with(
            "client-output-buffer-limit normal 0 0 0\nnotify-keyspace-events \"AKE\"\n\
             latency-tracking-info-percentiles 50 99 99.9\nuser default on nopass ~* &* +@all\n\n\
             client-output-buffer-limit pubsub 64mb 16mb 90\n"
        ),
        "{again}"
    );
    let plain = Server::start();
    assert_eq!(
        plain.connect().cmd_str(&["CONFIG", "REWRITE"]),
        "-ERR The server is running without a config file\r\n"
    );
}

/// DEBUG CONFIG-REWRITE-FORCE-ALL writes every setting, defaults and the
/// hidden ones too, but never a string setting that has no value
/// (`requirepass`, the TLS files: Redis's `EMPTY_STRING_IS_NULL`); a server
/// started from that file has the same settings (Redis's "CONFIG REWRITE
/// sanity").
#[test]
fn config_rewrite_force_all_reads_back() {
    let dir = support::server_dir();
    let path = format!("{dir}/reddish.conf");
    std::fs::write(&path, "save \"\"\nrequirepass \"\"\n# c\n").expect("write config");
    let args = [
        path.as_str(),
        "--dir",
        &dir,
        "--enable-debug-command",
        "yes",
    ];
    let server = Server::start_with(&args);
    let mut conn = server.connect();
    assert_eq!(conn.cmd_str(&["CONFIG", "SET", "hz", "12"]), "+OK\r\n");
    assert_eq!(
        conn.cmd_str(&["DEBUG", "CONFIG-REWRITE-FORCE-ALL"]),
        "+OK\r\n"
    );
    let written = std::fs::read_to_string(&path).expect("read config");
    let lines: Vec<&str> = written.lines().collect();
    for line in [
        "tls-port 0",
        "key-load-delay 0",
        "hz 12",
        "appendonly no",
        "# c",
    ] {
        assert!(lines.contains(&line), "no {line:?} in {written}");
    }
    for name in ["requirepass", "tls-cert-file", "masterauth", "unixsocket"] {
        assert!(
            !lines.iter().any(|l| l.starts_with(&format!("{name} "))),
            "{name} in {written}"
        );
    }
    let settings = |conn: &mut Conn| -> BTreeMap<String, String> {
        let reply = String::from_utf8_lossy(&conn.cmd(&["CONFIG", "GET", "*"])).into_owned();
        let items: Vec<&str> = reply
            .split("\r\n")
            .filter(|l| !l.starts_with(['*', '$']))
            .collect();
        items
            .chunks(2)
            .filter(|kv| kv.len() == 2 && kv[0] != "port")
            .map(|kv| (kv[0].to_string(), kv[1].to_string()))
            .collect()
    };
    let before = settings(&mut conn);
    drop(conn);
    drop(server);
    // The same directory (the helper gives a server its own otherwise).
    let again = Server::start_with(&[path.as_str(), "--dir", &dir]);
    assert_eq!(settings(&mut again.connect()), before);
    let plain = Server::start_with(&["--enable-debug-command", "yes"]);
    assert_eq!(
        plain
            .connect()
            .cmd_str(&["DEBUG", "CONFIG-REWRITE-FORCE-ALL"]),
        "-ERR CONFIG-REWRITE-FORCE-ALL failed: Bad address\r\n"
    );
}

/// CONFIG REWRITE's `user` lines, as Redis's `rewriteConfigUserOption`:
/// without an ACL file every user, in name order, as ACL LIST describes it
/// (the file's first `user` line replaced, the others appended); with an
/// ACL file none, the file's own `user` lines removed. The files
/// redis-server 7.0.15 writes for the same steps (checked by hand).
#[test]
fn config_rewrite_writes_the_users_as_redis() {
    let dir = support::server_dir();
    let path = format!("{dir}/reddish.conf");
    std::fs::write(&path, "save \"\"\nuser alice on >pw ~k* +get\n# c\n").expect("write config");
    let server = Server::start_with(&[&path, "--dir", &dir]);
    let mut conn = server.connect();
    let x_hash = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
    let bob = format!("#{x_hash}");
    for rules in [&["bob", "on", &bob, "&ch", "+set"][..], &["aaron", "off"]] {
        let mut cmd = vec!["ACL", "SETUSER"];
        cmd.extend(rules);
        assert_eq!(conn.cmd_str(&cmd), "+OK\r\n");
    }
    assert_eq!(conn.cmd_str(&["CONFIG", "REWRITE"]), "+OK\r\n");
    let pw_hash = "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4";
    let written = std::fs::read_to_string(&path).expect("read config");
    assert_eq!(
        written.replace(&format!("port {}\n", server.port), ""),
        format!(
            "save \"\"\nuser aaron off resetchannels -@all\n# c\n\n\
             # Generated by CONFIG REWRITE\ndir \"{dir}\"\n\
             latency-tracking-info-percentiles 50 99 99.9\n\
             user alice on #{pw_hash} ~k* resetchannels -@all +get\n\
             user bob on #{x_hash} resetchannels &ch -@all +set\n\
             user default on nopass ~* &* +@all\n"
        )
    );

    let dir = support::server_dir();
    let path = format!("{dir}/reddish.conf");
    let acl = format!("{dir}/users.acl");
    std::fs::write(&acl, "user zed on nopass +@all ~*\n").expect("write acl file");
    std::fs::write(&path, format!("save \"\"\naclfile {acl}\n# c\n")).expect("write config");
    let server = Server::start_with(&[&path, "--dir", &dir]);
    let mut conn = server.connect();
    assert_eq!(conn.cmd_str(&["CONFIG", "REWRITE"]), "+OK\r\n");
    let written = std::fs::read_to_string(&path).expect("read config");
    assert_eq!(
        written.replace(&format!("port {}\n", server.port), ""),
        format!(
            "save \"\"\naclfile \"{acl}\"\n# c\n\n# Generated by CONFIG REWRITE\n\
             dir \"{dir}\"\nlatency-tracking-info-percentiles 50 99 99.9\n"
        )
    );
}

/// `oom-score-adj` sets the process's `/proc/<pid>/oom_score_adj` for its
/// role, relative to the score it started with or absolute, and `no` puts
/// the old score back, as Redis's `setOOMScoreAdj` (it was accepted and
/// did nothing).
#[test]
fn oom_score_adj_sets_the_process_score_for_its_role() {
    let server = Server::start();
    let score = || {
        let path = format!("/proc/{}/oom_score_adj", server.pid());
        std::fs::read_to_string(path)
            .unwrap()
            .trim()
            .parse::<i64>()
            .unwrap()
    };
    let base = score();
    let mut conn = server.connect();
    let ok = "+OK\r\n";
    assert_eq!(
        conn.cmd_str(&["CONFIG", "SET", "oom-score-adj-values", "10 20 30"]),
        ok
    );
    assert_eq!(score(), base, "values alone change nothing");
    assert_eq!(conn.cmd_str(&["CONFIG", "SET", "oom-score-adj", "yes"]), ok);
    assert_eq!(score(), base + 10);
    conn.cmd(&["CONFIG", "SET", "oom-score-adj-values", "15 20 30"]);
    assert_eq!(score(), base + 15);
    conn.cmd(&["REPLICAOF", "localhost", "1"]);
    assert_eq!(score(), base + 20);
    conn.cmd(&["REPLICAOF", "NO", "ONE"]);
    assert_eq!(score(), base + 15);
    conn.cmd(&["CONFIG", "SET", "oom-score-adj", "absolute"]);
    conn.cmd(&["CONFIG", "SET", "oom-score-adj-values", "300 400 500"]);
    assert_eq!(score(), 300);
    conn.cmd(&["CONFIG", "SET", "oom-score-adj", "no"]);
    assert_eq!(score(), base);
}
