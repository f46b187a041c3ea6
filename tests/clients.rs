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
