//! Real clients against reddish: redis-rs (async and sync), redis-cli one-shot
//! and piped, and redis-benchmark. redis-cli outputs are also compared with
//! the same invocation against a real redis-server.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use support::{installed, Server};

#[tokio::test]
async fn redis_rs_set_get_and_pipelines() {
    let server = Server::start();
    let mut con = server
        .client()
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let () = con.set("greeting", "hello").await.expect("SET");
    let got: String = con.get("greeting").await.expect("GET");
    assert_eq!(got, "hello");
    let missing: Option<String> = con.get("nope").await.expect("GET missing");
    assert_eq!(missing, None);

    // Binary-safe values, large ones included.
    let binary: Vec<u8> = b"a\r\nb\0c\xff"
        .iter()
        .copied()
        .cycle()
        .take(1 << 20)
        .collect();
    let () = con.set("bin", binary.as_slice()).await.expect("SET binary");
    let back: Vec<u8> = con.get("bin").await.expect("GET binary");
    assert!(back == binary, "binary value changed");

    let (a, b, n): (String, Option<String>, i64) = redis::pipe()
        .set("p1", "one")
        .ignore()
        .get("p1")
        .get("p2")
        .del(&["p1", "p2"])
        .query_async(&mut con)
        .await
        .expect("pipeline");
    assert_eq!((a.as_str(), b, n), ("one", None, 1));

    // A long pipeline: replies come back complete and in order.
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.set(format!("k{i}"), i).ignore().get(format!("k{i}"));
    }
    let values: Vec<i64> = pipe.query_async(&mut con).await.expect("long pipeline");
    assert_eq!(values, (0..1000).collect::<Vec<i64>>());

    let err = redis::cmd("NOPE")
        .arg("x")
        .query_async::<()>(&mut con)
        .await
        .expect_err("unknown command");
    assert_eq!(err.code(), Some("ERR"));
    assert!(err.to_string().contains("unknown command 'NOPE'"), "{err}");
}

#[tokio::test]
async fn redis_rs_concurrent_requests_on_one_multiplexed_connection() {
    let server = Server::start();
    let con = server
        .client()
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let mut con = con.clone();
            tokio::spawn(async move {
                let key = format!("c{i}");
                let () = con.set(&key, i).await.expect("SET");
                let got: i64 = con.get(&key).await.expect("GET");
                got == i
            })
        })
        .collect();
    for task in tasks {
        assert!(
            task.await.expect("task"),
            "a reply went to the wrong request"
        );
    }
}

#[test]
fn redis_rs_sync_connection() {
    let server = Server::start();
    let mut con = server.client().get_connection().expect("connect");
    let () = redis::cmd("SET")
        .arg("s")
        .arg("v")
        .query(&mut con)
        .expect("SET");
    let got: String = redis::cmd("GET").arg("s").query(&mut con).expect("GET");
    assert_eq!(got, "v");
    let pong: String = redis::cmd("PING").query(&mut con).expect("PING");
    assert_eq!(pong, "PONG");
}

/// What a finished tool run produced.
#[derive(Debug, PartialEq)]
struct Run {
    stdout: String,
    success: bool,
}

/// Runs `program` with `args` (and `stdin`), killing it after 60 s so a
/// server that never answers fails the test instead of hanging it.
fn run_tool(program: &str, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    if let Some(bytes) = stdin {
        input.write_all(bytes).expect("write stdin");
    }
    drop(input);
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{program} {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().expect("output");
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        success: output.status.success(),
    }
}

/// redis-cli against `port`.
fn cli(port: u16, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let port = port.to_string();
    let mut all = vec!["-p", &port];
    all.extend_from_slice(args);
    run_tool("redis-cli", &all, stdin)
}

fn ok(stdout: &str) -> Run {
    Run {
        stdout: stdout.into(),
        success: true,
    }
}

#[test]
fn redis_cli_one_shot() {
    if !installed("redis-cli", "redis-cli test") {
        return;
    }
    // Each invocation with the output real redis-cli prints against Redis.
    let script: &[(&[&str], &str)] = &[
        (&["SET", "a", "b"], "OK\n"),
        (&["GET", "a"], "b\n"),
        (&["--no-raw", "GET", "a"], "\"b\"\n"),
        (&["GET", "missing"], "\n"),
        (&["--no-raw", "GET", "missing"], "(nil)\n"),
        (&["SET", "sp", "two words\n"], "OK\n"),
        (&["--no-raw", "GET", "sp"], "\"two words\\n\"\n"),
        (
            &["--no-raw", "EXISTS", "a", "sp", "missing"],
            "(integer) 2\n",
        ),
        (&["DEL", "a"], "1\n"),
        (&["PING"], "PONG\n"),
        (
            &["--no-raw", "NOPE", "x"],
            "(error) ERR unknown command 'NOPE', with args beginning with: 'x' \n",
        ),
    ];
    let server = Server::start();
    for (args, want) in script {
        assert_eq!(cli(server.port, args, None), ok(want), "redis-cli {args:?}");
    }
    if let Some(oracle) = Server::oracle() {
        for (args, _) in script {
            assert_eq!(
                cli(server.port, args, None),
                cli(oracle.port, args, None),
                "redis-cli {args:?} differs from redis-server"
            );
        }
    }
}

#[test]
fn redis_cli_piped() {
    if !installed("redis-cli", "redis-cli test") {
        return;
    }
    let input = b"SET a 1\nINCR a\nGET a\nECHO \"x y\"\nPING\nNOPE x\n";
    let server = Server::start();
    let got = cli(server.port, &[], Some(input));
    assert_eq!(
        got,
        ok("OK\n2\n2\nx y\nPONG\nERR unknown command 'NOPE', with args beginning with: 'x' \n\n")
    );
    if let Some(oracle) = Server::oracle() {
        assert_eq!(
            got,
            cli(oracle.port, &[], Some(input)),
            "differs from redis-server"
        );
    }
}

#[test]
fn redis_benchmark_set_get() {
    if !installed("redis-benchmark", "redis-benchmark test") {
        return;
    }
    let server = Server::start();
    let port = server.port.to_string();
    let run = run_tool(
        "redis-benchmark",
        &[
            "-p", &port, "-t", "set,get", "-n", "20000", "-P", "16", "-q",
        ],
        None,
    );
    assert!(run.success, "redis-benchmark failed:\n{}", run.stdout);
    assert!(!run.stdout.contains("ERR"), "errors:\n{}", run.stdout);
    // With -q each test ends in "SET: <n> requests per second, ..." after
    // carriage-return progress lines.
    for test in ["SET", "GET"] {
        let done = run
            .stdout
            .split(['\r', '\n'])
            .any(|l| l.starts_with(&format!("{test}: ")) && l.contains(" requests per second"));
        assert!(done, "no {test} result in:\n{}", run.stdout);
    }
    // The benchmark really wrote: its one key holds its 3-byte payload.
    let mut conn = server.connect();
    assert_eq!(conn.cmd_str(&["DBSIZE"]), ":1\r\n");
    assert_eq!(conn.cmd_str(&["GET", "key:__rand_int__"]), "$3\r\nVXK\r\n");
}

/// Runs `program` for `seconds`, then interrupts it (SIGINT, as a user's
/// Ctrl-C) and returns what it printed: for tools that run until stopped.
fn run_for(program: &str, args: &[&str], seconds: f64) -> String {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    std::thread::sleep(Duration::from_secs_f64(seconds));
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let output = child.wait_with_output().expect("output");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A dataset with one key of each type and strings of distinct sizes, so
/// which key is "biggest" does not depend on the order SCAN meets them.
fn fill_for_tools(port: u16) {
    let mut conn = support::Conn::connect(port);
    // Sizes far enough apart that MEMORY USAGE's size classes keep them apart.
    for i in 1..=30 {
        conn.cmd(&["SET", &format!("k{i}"), &"v".repeat(i * i * 12)]);
    }
    conn.cmd(&["RPUSH", "list", "a", "b", "c", "d", "e"]);
    conn.cmd(&["HSET", "hash", "f", "v", "g", "w"]);
    conn.cmd(&["SADD", "set", "a", "b", "c"]);
    conn.cmd(&["ZADD", "zset", "1", "a"]);
    conn.cmd(&["XADD", "stream", "1-1", "f", "v"]);
}

/// The summary `redis-cli --bigkeys` prints after its scan.
fn bigkeys_summary(port: u16, mode: &str) -> String {
    let out = cli(port, &[mode], None).stdout;
    out.split("-------- summary -------")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary in {out}"))
        .to_string()
}

/// redis-cli's keyspace tools read reddish as they read Redis: `--bigkeys`
/// (SCAN, TYPE, STRLEN/LLEN/...), `--memkeys` (MEMORY USAGE: same keys and
/// counts; the byte figures are our own estimates), `--scan --pattern`,
/// `--pipe` mass insertion, `--latency`.
#[test]
fn redis_cli_tools() {
    if !installed("redis-cli", "redis-cli tools test") {
        return;
    }
    let server = Server::start();
    fill_for_tools(server.port);
    let oracle = Server::oracle();
    if let Some(oracle) = &oracle {
        fill_for_tools(oracle.port);
        assert_eq!(
            bigkeys_summary(server.port, "--bigkeys"),
            bigkeys_summary(oracle.port, "--bigkeys")
        );
        // Byte counts aside, the same keys and counts per type.
        let shape = |summary: String| -> Vec<String> {
            summary
                .lines()
                .map(|l| {
                    l.split_whitespace()
                        .filter(|w| {
                            !w.trim_start_matches('(')
                                .starts_with(|c: char| c.is_ascii_digit())
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect()
        };
        assert_eq!(
            shape(bigkeys_summary(server.port, "--memkeys")),
            shape(bigkeys_summary(oracle.port, "--memkeys"))
        );
    }
    let summary = bigkeys_summary(server.port, "--bigkeys");
    assert!(
        summary.contains("Sampled 35 keys in the keyspace!"),
        "{summary}"
    );
    assert!(
        summary.contains("Biggest string found '\"k30\"' has 10800 bytes"),
        "{summary}"
    );
    let scanned = cli(server.port, &["--scan", "--pattern", "k1*"], None).stdout;
    let mut keys: Vec<&str> = scanned.lines().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["k1", "k10", "k11", "k12", "k13", "k14", "k15", "k16", "k17", "k18", "k19"]
    );
    let mut pipe = Vec::new();
    for i in 0..10_000 {
        pipe.extend(support::request(&[
            b"SET",
            format!("p{i}").as_bytes(),
            b"v",
        ]));
    }
    let piped = cli(server.port, &["--pipe"], Some(&pipe));
    assert_eq!(
        piped,
        ok("All data transferred. Waiting for the last reply...\nLast reply received from server.\nerrors: 0, replies: 10000\n")
    );
    let port = server.port.to_string();
    let latency = run_for("redis-cli", &["-p", &port, "--latency"], 1.5);
    let fields: Vec<&str> = latency.split_whitespace().collect();
    assert!(
        fields.len() == 4
            && fields[2].contains('.')
            && fields[3].parse::<u64>().is_ok_and(|n| n > 0),
        "--latency printed {latency:?}"
    );
}

/// `redis-cli --eval FILE keys , args` against reddish prints what it
/// prints against Redis (results, script errors, a missing file).
#[test]
fn redis_cli_eval() {
    if !installed("redis-cli", "redis-cli --eval test") {
        return;
    }
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let server = Server::start();
    let dir = support::server_dir();
    let script = format!("{dir}/script.lua");
    std::fs::write(
        &script,
        "redis.call('set', KEYS[1], ARGV[1])\n\
         return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], redis.call('get', KEYS[1])}\n",
    )
    .expect("write script");
    let failing = format!("{dir}/failing.lua");
    std::fs::write(&failing, "return redis.call('nosuch')\n").expect("write script");
    let missing = format!("{dir}/missing.lua");
    for args in [
        &["--eval", &script, "k1", "k2", ",", "a1", "a2"][..],
        &["--no-raw", "--eval", &script, "k1", ",", "a1"],
        &["--eval", &script, "k1"],
        &["--eval", &failing],
        &["--eval", &missing],
    ] {
        assert_eq!(
            cli(server.port, args, None),
            cli(oracle.port, args, None),
            "redis-cli {args:?}"
        );
    }
    assert_eq!(cli(server.port, &["GET", "k1"], None), ok("a1\n"));
}

/// `redis-cli --rdb FILE` takes a full sync's snapshot from reddish: the
/// file passes redis-check-rdb, and a real redis-server and a fresh reddish
/// loading it hold the same data (DEBUG DIGEST, Redis's dataset hash).
#[test]
fn redis_cli_rdb_saves_a_snapshot_that_loads() {
    if !installed("redis-cli", "redis-cli --rdb test") {
        return;
    }
    let server = Server::start_with(&["--enable-debug-command", "yes"]);
    fill_for_tools(server.port);
    let mut conn = support::Conn::connect(server.port);
    conn.cmd(&["SET", "timed", "v", "PXAT", "4102444800000"]);
    conn.cmd(&["SELECT", "3"]);
    conn.cmd(&["SADD", "in-db-3", "1", "2", "3"]);
    let digest = |conn: &mut support::Conn| conn.cmd_str(&["DEBUG", "DIGEST"]);
    let want = digest(&mut conn);
    assert_ne!(
        want,
        digest(&mut support::Conn::connect(Server::start().port))
    );

    let dir = support::server_dir();
    let file = format!("{dir}/snapshot.rdb");
    let run = cli(server.port, &["--rdb", &file], None);
    assert!(run.success, "redis-cli --rdb failed: {}", run.stdout);
    if installed("redis-check-rdb", "redis-check-rdb of the snapshot") {
        let check = run_tool("redis-check-rdb", &[&file], None);
        assert!(
            check.success && check.stdout.contains("RDB looks OK!"),
            "{}",
            check.stdout
        );
    }
    let load = ["--dir", &dir, "--dbfilename", "snapshot.rdb"];
    let mut args = load.to_vec();
    args.extend(["--enable-debug-command", "yes"]);
    let ours = Server::start_with(&args);
    assert_eq!(digest(&mut ours.connect()), want);
    if let Some(oracle) = Server::oracle_with(&args) {
        assert_eq!(digest(&mut oracle.connect()), want);
    }
}

/// `redis-cli --pipe` mass insertion of 1,000,000 commands, ten of them
/// failing: every reply counted, errors apart, and every write done.
#[test]
fn redis_cli_pipe_inserts_a_million_commands() {
    if !installed("redis-cli", "redis-cli --pipe test") {
        return;
    }
    let server = Server::start();
    let mut conn = support::Conn::connect(server.port);
    conn.cmd(&["SET", "text", "not a number"]);
    let mut pipe = Vec::with_capacity(40 << 20);
    for i in 0..1_000_000 {
        if i % 100_000 == 99_999 {
            pipe.extend(support::request(&[b"INCR", b"text"]));
        } else {
            pipe.extend(support::request(&[
                b"SET",
                format!("key:{i}").as_bytes(),
                format!("value:{i}").as_bytes(),
            ]));
        }
    }
    let piped = cli(server.port, &["--pipe"], Some(&pipe));
    // redis-cli's exit status says there were errors.
    let want = Run {
        stdout: "All data transferred. Waiting for the last reply...\n\
                 Last reply received from server.\nerrors: 10, replies: 1000000\n"
            .into(),
        success: false,
    };
    assert_eq!(piped, want);
    assert_eq!(conn.cmd_str(&["DBSIZE"]), ":999991\r\n");
    assert_eq!(
        conn.cmd_str(&["GET", "key:999998"]),
        "$12\r\nvalue:999998\r\n"
    );
}

/// redis-cli output of a tool that runs until interrupted, line-buffered
/// (`stdbuf`), so what it printed before the interrupt is not lost.
fn run_cli_for(port: u16, args: &[&str], seconds: f64) -> String {
    let port = port.to_string();
    let mut all = vec!["-oL", "redis-cli", "-p", &port];
    all.extend_from_slice(args);
    run_for("stdbuf", &all, seconds)
}

/// The rest of redis-cli's tools: `--stat` (INFO), `--latency-history`,
/// `--latency-dist`, `--hotkeys` under an LFU policy (SCAN and OBJECT
/// FREQ), and `--json` and `-x` compared with redis-server.
#[test]
fn redis_cli_monitoring_tools() {
    if !installed("redis-cli", "redis-cli tools test")
        || !installed("stdbuf", "redis-cli tools test")
    {
        return;
    }
    let server = Server::start();
    fill_for_tools(server.port);
    let stat = run_cli_for(server.port, &["--stat", "-i", "0.2"], 1.5);
    let mut lines = stat.lines();
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("------- data ------"))
            && lines
                .next()
                .is_some_and(|l| l.starts_with("keys       mem")),
        "--stat printed {stat:?}"
    );
    assert!(
        lines.any(|l| l.split_whitespace().next() == Some("35")),
        "--stat does not show the 35 keys: {stat:?}"
    );
    let history = run_cli_for(server.port, &["--latency-history", "-i", "1"], 2.5);
    assert!(
        history.contains("seconds range"),
        "--latency-history printed {history:?}"
    );
    let dist = run_cli_for(server.port, &["--latency-dist", "-i", "1"], 1.5);
    assert!(
        dist.contains("milliseconds"),
        "--latency-dist printed {dist:?}"
    );

    let mut conn = support::Conn::connect(server.port);
    conn.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    for _ in 0..200 {
        conn.cmd(&["GET", "k7"]);
    }
    let hot = cli(server.port, &["--hotkeys"], None).stdout;
    assert!(
        hot.contains("Sampled 35 keys in the keyspace!"),
        "--hotkeys printed {hot}"
    );
    let first = hot
        .lines()
        .find(|l| l.starts_with("hot key found with counter"))
        .unwrap_or_default();
    assert!(
        first.ends_with("keyname: \"k7\""),
        "--hotkeys printed {hot}"
    );

    let Some(oracle) = Server::oracle() else {
        return;
    };
    fill_for_tools(oracle.port);
    for port in [server.port, oracle.port] {
        cli(
            port,
            &["-x", "SET", "from-stdin"],
            Some(b"line one\nline two\n"),
        );
    }
    for args in [
        &["--json", "HGETALL", "hash"][..],
        &["-3", "--json", "HGETALL", "hash"],
        &["--json", "LRANGE", "list", "0", "-1"],
        &["--json", "GET", "nokey"],
        &["--json", "XRANGE", "stream", "-", "+"],
        &["GET", "from-stdin"],
        &["--json", "GET", "from-stdin"],
    ] {
        assert_eq!(
            cli(server.port, args, None),
            cli(oracle.port, args, None),
            "redis-cli {args:?}"
        );
    }
}
