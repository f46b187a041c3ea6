//! reddish-cli against the real reddish-server (and, for its output formats,
//! side by side with the real redis-cli), plus the lab's Docker files.

mod support;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::ffi::OsStrExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{free_port, refused_port, Server};

const CLI: &str = env!("CARGO_BIN_EXE_reddish-cli");
const SERVER: &str = env!("CARGO_BIN_EXE_reddish-server");

/// What a CLI run printed, and its exit status.
#[derive(Debug, PartialEq)]
struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

/// Runs `program` with `args` (bytes, so binary arguments work), feeding
/// `stdin` (or nothing) and killing it if it takes more than 20 s.
fn run(program: &str, args: &[&[u8]], stdin: &[u8]) -> Run {
    let mut child = Command::new(program)
        .args(args.iter().map(|a| OsStr::from_bytes(a)))
        .env_remove("REDISCLI_AUTH")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The CLI may exit (quit) before reading everything.
        let _ = input.write_all(&stdin);
    });
    let collect = |mut stream: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = stream.read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        })
    };
    let stdout = collect(Box::new(child.stdout.take().expect("stdout")));
    let stderr = collect(Box::new(child.stderr.take().expect("stderr")));
    let code = wait(&mut child, Duration::from_secs(20));
    let _ = writer.join();
    Run {
        stdout: stdout.join().expect("stdout thread"),
        stderr: stderr.join().expect("stderr thread"),
        code,
    }
}

fn wait(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the CLI did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn with_port(port: u16, args: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut all = vec![b"-p".to_vec(), port.to_string().into_bytes()];
    all.extend(args.iter().map(|a| a.to_vec()));
    all
}

fn cli_run(port: u16, args: &[&str], stdin: &[u8]) -> Run {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let all = with_port(port, &args);
    let all: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
    run(CLI, &all, stdin)
}

/// One-shot command that must succeed; returns its stdout.
fn cli(port: u16, args: &[&str]) -> String {
    let out = cli_run(port, args, b"");
    assert_eq!(out.code, Some(0), "{args:?}: {out:?}");
    assert_eq!(out.stderr, "", "{args:?}");
    out.stdout
}

/// Whether the real redis-cli is installed (a skip is announced; with
/// REDDISH_REQUIRE_ORACLE=1 its absence fails, as for redis-server).
fn have_redis_cli() -> bool {
    if Command::new("redis-cli").arg("--version").output().is_ok() {
        return true;
    }
    if std::env::var("REDDISH_REQUIRE_ORACLE").as_deref() == Ok("1") {
        panic!("redis-cli is not installed but REDDISH_REQUIRE_ORACLE=1");
    }
    eprintln!("SKIPPED: redis-cli is not installed, comparison not run");
    false
}

/// Runs redis-cli against `theirs` and reddish-cli against `ours` with the
/// same arguments and input; asserts identical stdout, stderr and status
/// (port numbers normalised, since the two servers differ).
fn same_as_redis_cli(theirs: u16, ours: u16, args: &[&[u8]], stdin: &[u8]) {
    let normalise = |mut r: Run, port: u16| {
        r.stdout = r.stdout.replace(&port.to_string(), "PORT");
        r.stderr = r.stderr.replace(&port.to_string(), "PORT");
        r
    };
    let a = with_port(theirs, args);
    let want = run(
        "redis-cli",
        &a.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        stdin,
    );
    let b = with_port(ours, args);
    let got = run(CLI, &b.iter().map(Vec::as_slice).collect::<Vec<_>>(), stdin);
    assert_eq!(
        normalise(got, ours),
        normalise(want, theirs),
        "reddish-cli differs from redis-cli for {:?} with input {:?}",
        args.iter()
            .map(|a| String::from_utf8_lossy(a))
            .collect::<Vec<_>>(),
        String::from_utf8_lossy(stdin)
    );
}

#[test]
fn one_shot_commands() {
    let server = Server::start();
    let p = server.port;
    assert_eq!(cli(p, &["SET", "user1", "Alice"]), "OK\n");
    assert_eq!(cli(p, &["GET", "user1"]), "Alice\n");
    assert_eq!(cli(p, &["--no-raw", "GET", "user1"]), "\"Alice\"\n");
    assert_eq!(cli(p, &["--no-raw", "GET", "nokey"]), "(nil)\n");
    assert_eq!(
        cli(p, &["--no-raw", "EXISTS", "user1", "nokey"]),
        "(integer) 1\n"
    );
    // Arguments after the command name are the command's, even with dashes.
    assert_eq!(cli(p, &["SET", "k", "-n"]), "OK\n");
    assert_eq!(cli(p, &["GET", "k"]), "-n\n");
    // -n selects the database for the command.
    assert_eq!(cli(p, &["-n", "3", "SET", "only-in-3", "x"]), "OK\n");
    assert_eq!(cli(p, &["-n", "3", "--no-raw", "DBSIZE"]), "(integer) 1\n");
    assert_eq!(cli(p, &["--no-raw", "GET", "only-in-3"]), "(nil)\n");
    // An error reply is printed; only -e turns it into a failure.
    assert_eq!(
        cli(p, &["--no-raw", "GET"]),
        "(error) ERR wrong number of arguments for 'get' command\n"
    );
    let failed = cli_run(p, &["-e", "GET"], b"");
    assert_eq!(failed.code, Some(1));
    assert_eq!(failed.stdout, "");
    assert_eq!(
        failed.stderr,
        "ERR wrong number of arguments for 'get' command\n"
    );
}

#[test]
fn piped_commands() {
    let server = Server::start();
    let out = cli_run(
        server.port,
        &["--no-raw"],
        b"SET a \"x y\"\nGET a\n\n   \n2 PING\nGET \"unbalanced\nSELECT 2\nGET a\nquit\nPING\n",
    );
    assert_eq!(
        out.stdout,
        "OK\n\"x y\"\nPONG\nPONG\nInvalid argument(s)\nOK\n(nil)\n"
    );
    assert_eq!((out.stderr.as_str(), out.code), ("", Some(0)));
}

#[test]
fn json_lines_for_every_reply_type() {
    let server = Server::start();
    let out = cli_run(
        server.port,
        &["--json"],
        b"SET user1 Alice\n  GET user1  \nGET nokey\nEXISTS user1 nokey\nMGET user1 nokey\nGET\nSET bin \"caf\\xe9\"\nGET bin\n",
    );
    assert_eq!((out.stderr.as_str(), out.code), ("", Some(0)));
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], r#"{"command":"SET user1 Alice","response":"OK"}"#);
    assert_eq!(lines[1], r#"{"command":"GET user1","response":"Alice"}"#);
    assert_eq!(lines[2], r#"{"command":"GET nokey","response":null}"#);
    assert_eq!(lines[3], r#"{"command":"EXISTS user1 nokey","response":1}"#);
    assert_eq!(
        lines[5],
        r#"{"command":"GET","error":"ERR wrong number of arguments for 'get' command"}"#
    );
    assert_eq!(lines[7], r#"{"command":"GET bin","response":"caf\\xe9"}"#);
    assert_eq!(lines.len(), 8);
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(parsed[4]["response"], json!(["Alice", null]));
}

#[test]
fn one_shot_json_quotes_arguments_as_typed() {
    let server = Server::start();
    let out = cli(server.port, &["--json", "SET", "a key", "say \"hi\"\n"]);
    assert_eq!(
        out,
        "{\"command\":\"SET \\\"a key\\\" \\\"say \\\\\\\"hi\\\\\\\"\\\\n\\\"\",\"response\":\"OK\"}\n"
    );
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["command"], json!("SET \"a key\" \"say \\\"hi\\\"\\n\""));
    assert_eq!(
        cli(server.port, &["--json", "GET", "a key"]),
        "{\"command\":\"GET \\\"a key\\\"\",\"response\":\"say \\\"hi\\\"\\n\"}\n"
    );
}

#[test]
fn json_decodes_resp3_replies() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let out = cli(
        oracle.port,
        &[
            "-3",
            "--json",
            "EVAL",
            "redis.setresp(3) return {1, {map={k={1,2}}}, {set={m=true}}, {double=1.5}, {double=-1/0}, true, {err='ERR no'}}",
            "0",
        ],
    );
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        v["response"],
        json!([1, {"k": [1, 2]}, ["m"], 1.5, "-inf", true, {"error": "ERR no"}])
    );
    let err = cli(
        oracle.port,
        &["-3", "--json", "EVAL", "return {err='ERR top'}", "0"],
    );
    assert_eq!(
        err,
        "{\"command\":\"EVAL \\\"return {err='ERR top'}\\\" 0\",\"error\":\"ERR top\"}\n"
    );
}

#[test]
fn unreachable_server() {
    let (port, _held) = refused_port();
    let refused = format!("Could not connect to Redis at 127.0.0.1:{port}: Connection refused\n");
    let out = cli_run(port, &["PING"], b"");
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, refused);
    // Piped: reported at start and for each command, like redis-cli's REPL.
    let out = cli_run(port, &[], b"PING\nGET a\n");
    assert_eq!(out.code, Some(0));
    assert_eq!(out.stderr, refused.repeat(3));
    if have_redis_cli() {
        same_as_redis_cli(port, port, &[b"PING"], b"");
        same_as_redis_cli(port, port, &[], b"PING\nGET a\n");
        same_as_redis_cli(port, port, &[b"-h", b"no-such-host.invalid", b"PING"], b"");
    }
}

/// A reddish-server on a chosen port, to restart it at the same address.
fn reddish_at(port: u16) -> Child {
    let child = Command::new(SERVER)
        .args(["--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start reddish-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "reddish-server did not listen");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn line_reader(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn reconnects_after_the_server_comes_back() {
    let port = free_port();
    let mut server = reddish_at(port);
    let mut cli = Command::new(CLI)
        .args(["-p", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start reddish-cli");
    let mut input = cli.stdin.take().expect("stdin");
    let stdout = line_reader(cli.stdout.take().expect("stdout"));
    let stderr = line_reader(cli.stderr.take().expect("stderr"));
    let next = |rx: &mpsc::Receiver<String>| {
        rx.recv_timeout(Duration::from_secs(10))
            .expect("a line from reddish-cli")
    };
    let mut send = |line: &str| {
        input.write_all(line.as_bytes()).expect("write");
        input.flush().expect("flush");
    };

    send("SET k v\n");
    assert_eq!(next(&stdout), "OK");
    let _ = server.kill();
    let _ = server.wait();
    send("PING\n");
    let lost = next(&stderr);
    assert!(
        lost == "Error: Server closed the connection" || lost == "Error: Connection reset by peer",
        "{lost}"
    );
    send("PING\n");
    assert_eq!(
        next(&stderr),
        format!("Could not connect to Redis at 127.0.0.1:{port}: Connection refused")
    );
    let mut server = reddish_at(port);
    send("PING\n");
    assert_eq!(next(&stdout), "PONG");
    send("GET k\n");
    assert_eq!(next(&stdout), "");
    drop(input);
    assert_eq!(wait(&mut cli, Duration::from_secs(10)), Some(0));
    let _ = server.kill();
    let _ = server.wait();
}

/// The same commands through redis-cli and reddish-cli, each against its own
/// fresh reddish-server, in the raw (pipe), human and forced-raw formats.
#[test]
fn output_matches_redis_cli_on_reddish() {
    if !have_redis_cli() {
        return;
    }
    let (theirs, ours) = (Server::start(), Server::start());
    let binary: &[u8] = b"bin\x01\x7f\"\\\n\r\t\x07\x08 \xc3\xa9\xff";
    let commands: &[&[&[u8]]] = &[
        &[b"SET", b"a", b"b"],
        &[b"GET", b"a"],
        &[b"GET", b"nokey"],
        &[b"EXISTS", b"a", b"nokey"],
        &[b"DEL", b"a", b"b"],
        &[b"ECHO", binary],
        &[b"PING", b"a b"],
        &[b"foo", b"bar"],
        &[b"GET"],
        &[b"SELECT", b"99"],
        &[b"DBSIZE"],
        &[b"MGET", b"a", b"nokey"],
        &[b"COMMAND", b"INFO", b"get", b"set", b"nosuchcommand"],
        &[b"-3", b"CONFIG", b"GET", b"maxmemory*"],
        &[b"-3", b"COMMAND", b"DOCS", b"get"],
    ];
    for mode in [&[][..], &[&b"--no-raw"[..]], &[&b"--raw"[..]]] {
        for command in commands {
            let args: Vec<&[u8]> = mode.iter().chain(command.iter()).copied().collect();
            same_as_redis_cli(theirs.port, ours.port, &args, b"");
        }
    }
    let flags: &[&[&[u8]]] = &[
        &[b"-n", b"3", b"--no-raw", b"DBSIZE"],
        &[b"-n", b"99", b"--no-raw", b"PING"],
        &[b"-a", b"secret", b"PING"],
        &[b"-a", b"secret", b"--no-auth-warning", b"PING"],
        &[b"-3", b"--no-raw", b"GET", b"a"],
        &[b"-e", b"foo"],
        &[b"-e", b"--no-raw", b"PING"],
    ];
    for args in flags {
        same_as_redis_cli(theirs.port, ours.port, args, b"");
    }
    let script = b"PING\n\n  \n3 PING\nSET a \"x y\"\nGET a\nGET \"unbalanced\n0 PING\n-1 PING\nSELECT 2\nDBSIZE\nfoo\nquit\nPING\n";
    same_as_redis_cli(theirs.port, ours.port, &[], script);
    same_as_redis_cli(theirs.port, ours.port, &[b"--no-raw"], script);
    let other = Server::start();
    let hop = format!("connect 127.0.0.1 {}\nPING\nexit\nPING\n", other.port);
    same_as_redis_cli(theirs.port, ours.port, &[], hop.as_bytes());
}

/// Reply shapes reddish does not produce yet (RESP3 maps, sets, doubles,
/// booleans, nested errors, wide arrays), made by Lua on a real redis-server,
/// printed by both CLIs.
#[test]
fn output_matches_redis_cli_for_every_reply_shape() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    if !have_redis_cli() {
        return;
    }
    let scripts: &[&str] = &[
        "return {1,{2,{3,'a'}},'b',{},{'x',{}}}",
        "local t={} for i=1,12 do t[i]={i,'v'} end return t",
        "return {1,{err='bad'},{ok='fine'},false}",
        "redis.setresp(3) return {map={a={1,2},b={},c={{1}},d={{1,2}},e={map={x=1}},f={map={x={1,2},y=3}}}}",
        "redis.setresp(3) return {1,{map={}},{set={}},{double=1.5},{double=-1/0},{double=0.1},true,false}",
        "redis.setresp(3) return {set={a=true,b=true}}",
        "redis.setresp(3) return {map={[1]={set={z=true}}}}",
    ];
    for script in scripts {
        for proto in [&b"-2"[..], b"-3"] {
            for mode in [&b"--no-raw"[..], b"--raw"] {
                same_as_redis_cli(
                    oracle.port,
                    oracle.port,
                    &[proto, mode, b"EVAL", script.as_bytes(), b"0"],
                    b"",
                );
            }
        }
    }
    // Replies redis-cli prints raw even in the human format.
    for proto in [&b"-2"[..], b"-3"] {
        same_as_redis_cli(
            oracle.port,
            oracle.port,
            &[proto, b"--no-raw", b"INFO", b"keyspace"],
            b"",
        );
        same_as_redis_cli(
            oracle.port,
            oracle.port,
            &[proto, b"--raw", b"INFO", b"keyspace"],
            b"",
        );
    }
    // A session with MULTI/EXEC and maps.
    for proto in [&b"-2"[..], b"-3"] {
        same_as_redis_cli(
            oracle.port,
            oracle.port,
            &[proto, b"--no-raw"],
            b"MULTI\nSET a 1\nINCR a\nHSET h f v g w\nHGETALL h\nEXEC\nHGETALL nohash\nDEL h a\n",
        );
    }
}

/// Out-of-band pushes (client tracking) are skipped without losing step
/// when stdout is not a terminal.
#[test]
fn pushes_do_not_desynchronise_replies() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    if !have_redis_cli() {
        return;
    }
    let script = b"CLIENT TRACKING on\nGET k\nSET k v\nGET k\nSET k w\nPING\nDEL k\n";
    for mode in [&b"--raw"[..], b"--no-raw"] {
        same_as_redis_cli(oracle.port, oracle.port, &[b"-3", mode], script);
    }
}

/// SUBSCRIBE keeps printing messages as they come, like redis-cli.
#[test]
fn subscribe_streams_messages() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    if !have_redis_cli() {
        return;
    }
    let mut publisher = oracle.connect();
    for proto in ["-2", "-3"] {
        let mut transcript = |program: &str| {
            let mut child = Command::new(program)
                .args([
                    "-p",
                    &oracle.port.to_string(),
                    proto,
                    "--no-raw",
                    "SUBSCRIBE",
                    "ch",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("start a CLI");
            let lines = line_reader(child.stdout.take().expect("stdout"));
            let next = || {
                lines
                    .recv_timeout(Duration::from_secs(10))
                    .expect("a line from the CLI")
            };
            let mut seen: Vec<String> = (0..4).map(|_| next()).collect();
            publisher.cmd(&["PUBLISH", "ch", "hello"]);
            seen.extend((0..3).map(|_| next()));
            let _ = child.kill();
            let _ = child.wait();
            seen
        };
        let want = transcript("redis-cli");
        assert_eq!(want[0], "Reading messages... (press Ctrl-C to quit)");
        assert_eq!(transcript(CLI), want);
    }
}

// ---- The lab's Docker files. Docker cannot run here, so these check what
// ---- can be checked without it: the files parse, and every command in them
// ---- works with the binaries we build.

fn repo_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Dockerfile instructions with their continuation lines joined.
fn dockerfile() -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in repo_file("Dockerfile").lines() {
        let line = line.trim();
        if current.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    instructions
}

/// The JSON (exec form) command after `CMD` in an instruction.
fn exec_form(instruction: &str) -> Vec<String> {
    let at = instruction.find("CMD [").expect("an exec-form CMD") + 4;
    serde_json::from_str(&instruction[at..]).expect("CMD is a JSON array")
}

/// compose.yml as JSON, by PyYAML (on every machine of this project's kind).
fn compose() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("compose.yml");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(&path)
        .output()
        .expect("python3 with PyYAML");
    assert!(
        out.status.success(),
        "compose.yml does not parse: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from PyYAML")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

/// Runs a container command against a local server: the image's programs are
/// our binaries, port 6379 is `port`, host `server` is 127.0.0.1.
fn run_container_command(command: &[String], port: u16, stdin: &[u8]) -> Run {
    let program = match command[0].as_str() {
        "reddish-cli" => CLI,
        other => panic!("unexpected program {other}"),
    };
    let args: Vec<Vec<u8>> = command[1..]
        .iter()
        .map(|a| match a.as_str() {
            "6379" => port.to_string().into_bytes(),
            "server" => b"127.0.0.1".to_vec(),
            a => a.as_bytes().to_vec(),
        })
        .collect();
    let mut args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let port_arg = port.to_string();
    if !command.iter().any(|a| a == "-p") {
        args.extend([&b"-p"[..], port_arg.as_bytes()]);
    }
    run(program, &args, stdin)
}

/// The server arguments of a container command, for `Server::start_with`.
fn server_args(command: &[String]) -> Vec<&str> {
    assert_eq!(command[0], "reddish-server");
    assert!(
        command.windows(2).any(|w| w == ["--bind", "0.0.0.0"]),
        "the server must listen on every interface of its container: {command:?}"
    );
    command[1..].iter().map(String::as_str).collect()
}

#[test]
fn dockerfile_builds_our_binaries_and_runs_them() {
    let instructions = dockerfile();
    let build = "cargo build --release --locked --bin reddish-server --bin reddish-cli";
    assert!(
        instructions
            .iter()
            .any(|i| i.starts_with("RUN ") && i.contains(build)),
        "the build stage runs `{build}`"
    );
    // That command's targets exist. `--no-deps`: the full dependency graph
    // would need the sources of crates a Linux build never downloads (Windows
    // ones), which a fresh machine does not have. Cargo.lock being current is
    // checked by CI's `--locked` build.
    let metadata = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        metadata.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&metadata.stderr)
    );
    let metadata: Value = serde_json::from_slice(&metadata.stdout).expect("metadata JSON");
    let bins: Vec<&str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["name"] == "reddish")
        .flat_map(|p| p["targets"].as_array().expect("targets").iter())
        .filter(|t| t["kind"] == json!(["bin"]))
        .filter_map(|t| t["name"].as_str())
        .collect();
    for bin in ["reddish-server", "reddish-cli"] {
        assert!(bins.contains(&bin), "no [[bin]] {bin} in {bins:?}");
    }

    let froms: Vec<&String> = instructions
        .iter()
        .filter(|i| i.starts_with("FROM "))
        .collect();
    assert!(froms[0].starts_with("FROM rust:") && froms[0].ends_with(" AS build"));
    let runtime = froms.last().expect("a runtime stage");
    assert!(
        runtime.starts_with("FROM debian:") && runtime.ends_with("-slim"),
        "{runtime}"
    );
    let user = instructions
        .iter()
        .rfind(|i| i.starts_with("USER "))
        .expect("a USER");
    assert!(!["USER root", "USER 0"].contains(&user.as_str()), "{user}");
    assert!(instructions.iter().any(|i| i == "EXPOSE 6379"));

    // The default command serves, and the health check sees it.
    let cmd = instructions
        .iter()
        .rfind(|i| i.starts_with("CMD "))
        .expect("a CMD");
    let server = Server::start_with(&server_args(&exec_form(cmd)));
    let health = instructions
        .iter()
        .find(|i| i.starts_with("HEALTHCHECK "))
        .expect("a HEALTHCHECK");
    let check = exec_form(health);
    assert!(check.contains(&"PING".to_string()), "{check:?}");
    let ok = run_container_command(&check, server.port, b"");
    assert_eq!((ok.stdout.as_str(), ok.code), ("PONG\n", Some(0)), "{ok:?}");
    drop(server);
    let (refused, _held) = refused_port();
    let down = run_container_command(&check, refused, b"");
    assert_eq!(
        down.code,
        Some(1),
        "the health check fails without a server"
    );
}

#[test]
fn compose_runs_the_lab() {
    let compose = compose();
    let services = &compose["services"];
    let (server, client) = (&services["server"], &services["client"]);
    assert!(server.is_object() && client.is_object(), "{services}");
    assert_eq!(server["build"], json!("."));
    assert_eq!(strings(&server["ports"]), ["6379:6379"]);
    assert_eq!(client["stdin_open"], json!(true));
    assert_eq!(client["tty"], json!(true));
    assert_eq!(
        client["depends_on"]["server"]["condition"],
        json!("service_healthy")
    );
    let networks = |s: &Value| strings(&s["networks"]);
    assert_eq!(networks(server), networks(client));
    assert!(compose["networks"][networks(server)[0].as_str()].is_object());
    // The client image is built, never pulled (its tag exists only locally).
    assert_eq!(client["image"], server["image"]);
    assert_eq!(client["build"], server["build"]);

    // Both commands work: the lab's server, and its client talking JSON.
    let server_command = strings(&server["command"]);
    let running = Server::start_with(&server_args(&server_command));
    let client_command = strings(&client["command"]);
    assert_eq!(client_command[..3], ["reddish-cli", "-h", "server"]);
    let session = run_container_command(
        &client_command,
        running.port,
        b"SET user1 Alice\nGET user1\n",
    );
    assert_eq!(
        session.stdout,
        "{\"command\":\"SET user1 Alice\",\"response\":\"OK\"}\n{\"command\":\"GET user1\",\"response\":\"Alice\"}\n"
    );
}

/// Drives an interactive reddish-cli on a pseudo-terminal: types each line,
/// waits for the output to settle, ends with Ctrl-C at the prompt, and prints
/// the screen bytes followed by `EXIT <status>`.
const PTY_DRIVER: &str = r#"
import os, pty, select, sys, time
cli, home, port, lines = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
pid, fd = pty.fork()
if pid == 0:
    os.environ["HOME"] = home
    os.environ["TERM"] = "xterm"
    os.execv(cli, [cli, "-p", port])
out = bytearray()
def settle(quiet=0.3, limit=5.0):
    end, last = time.time() + limit, time.time()
    while time.time() < end and time.time() - last < quiet:
        if select.select([fd], [], [], 0.05)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            out.extend(chunk)
            last = time.time()
settle()
for line in lines:
    os.write(fd, line.encode() + b"\r")
    settle()
os.write(fd, b"\x03")
settle()
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(bytes(out) + b"\nEXIT %d\n" % os.waitstatus_to_exitcode(status))
"#;

/// The screen without terminal control sequences and carriage returns.
fn plain_screen(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b'[') {
            i += 2;
            while i < bytes.len() && !bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
        } else if bytes[i] != b'\r' {
            out.push(bytes[i]);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Types `lines` into an interactive reddish-cli with a fresh HOME; returns
/// the screen and the history file it left.
fn pty_session(port: u16, lines: &[&str]) -> (String, String) {
    let home = std::env::temp_dir().join(format!("reddish-cli-home-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&home).expect("temp home");
    let out = Command::new("python3")
        .args(["-c", PTY_DRIVER, CLI])
        .arg(&home)
        .arg(port.to_string())
        .args(lines)
        .output()
        .expect("python3 runs the pty driver");
    let history = std::fs::read_to_string(home.join(".reddish_cli_history"));
    let _ = std::fs::remove_dir_all(&home);
    let history = history.expect("the history file is written");
    (plain_screen(&out.stdout), history)
}

fn assert_screen(screen: &str, wants: &[String]) {
    for want in wants {
        assert!(screen.contains(want), "missing {want:?} in:\n{screen}");
    }
    assert!(
        screen.ends_with("\nEXIT 0\n"),
        "Ctrl-C leaves cleanly:\n{screen}"
    );
}

#[test]
fn interactive_prompt_history_and_exit() {
    let server = Server::start();
    let p = server.port;
    let (screen, history) = pty_session(
        p,
        &[
            "SET greeting \"hello world\"",
            "GET greeting",
            "SELECT 2",
            "AUTH secret",
            "DBSIZE",
        ],
    );
    assert_screen(
        &screen,
        &[
            format!("127.0.0.1:{p}> GET greeting\n\"hello world\"\n"),
            format!("127.0.0.1:{p}> SELECT 2\nOK\n127.0.0.1:{p}[2]> "),
            format!("127.0.0.1:{p}[2]> DBSIZE\n(integer) 0\n127.0.0.1:{p}[2]> "),
        ],
    );
    assert!(
        history.contains("SET greeting \"hello world\"\nGET greeting\nSELECT 2\nDBSIZE\n"),
        "{history}"
    );
    assert!(
        !history.contains("secret"),
        "passwords stay out of the history: {history}"
    );
}

/// MULTI's `(TX)` prompt and pushes, on a real redis-server until reddish
/// has MULTI and client tracking.
#[test]
fn interactive_transaction_prompt() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let p = oracle.port;
    let (screen, _) = pty_session(
        p,
        &[
            "SELECT 1",
            "MULTI",
            "PING",
            "EXEC",
            "MULTI",
            "DISCARD",
            "HELLO 3",
            "CLIENT TRACKING on",
            "GET tracked",
            "SET tracked v",
            "PING",
        ],
    );
    assert_screen(
        &screen,
        &[
            format!("127.0.0.1:{p}[1]> MULTI\nOK\n127.0.0.1:{p}[1](TX)> PING\nQUEUED\n"),
            format!("127.0.0.1:{p}[1](TX)> EXEC\n1) PONG\n127.0.0.1:{p}[1]> "),
            format!("127.0.0.1:{p}[1](TX)> DISCARD\nOK\n127.0.0.1:{p}[1]> "),
            // On a terminal, RESP3 pushes are shown when they are read
            // (Redis sends a client's own invalidation after its reply).
            "PING\n-> invalidate: 'tracked'\nPONG\n".to_string(),
        ],
    );
}
