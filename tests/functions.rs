//! FUNCTION and FCALL against real redis-server: loading libraries (and
//! every way a load fails), calling functions with their flags, LIST,
//! STATS, DELETE, FLUSH, and a busy function killed by FUNCTION KILL.

mod support;

use std::time::Duration;

use support::{parse_reply, request, Conn, Node, Server};

const LIB: &str = "#!lua name=mylib\n\
redis.register_function('f1', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n\
redis.register_function{function_name='f2', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}";

/// `reply` with the elements of every array of arrays sorted: a library's
/// functions come out of a hash table in FUNCTION LIST, in an order that
/// changes with redis-server's random hash seed.
fn functions_in_any_order(reply: &[u8]) -> Vec<u8> {
    fn canonical(node: &Node) -> Vec<u8> {
        match node {
            Node::Leaf(bytes) => bytes.clone(),
            Node::Aggregate(header, children) => {
                let mut parts: Vec<Vec<u8>> = children.iter().map(canonical).collect();
                if children.iter().all(|c| matches!(c, Node::Aggregate(..))) {
                    parts.sort();
                }
                let mut out = header.clone();
                parts.iter().for_each(|p| out.extend_from_slice(p));
                out
            }
        }
    }
    canonical(&parse_reply(reply))
}

#[test]
fn libraries_and_fcall_match_redis() {
    support::differential_normalized(&[
        &["function", "load", LIB],
        &["fcall", "f1", "1", "k", "v"],
        &["fcall", "F2", "1", "k"],
        &["fcall_ro", "f1", "1", "k", "v"],
        &["fcall_ro", "f2", "1", "k"],
        &["fcall", "nosuch", "0"],
        &["fcall", "f1", "3", "k"],
        &["fcall", "f1", "x"],
        &["fcall", "f1", "-1"],
        &["function", "list"],
        &["function", "list", "libraryname", "MY*", "withcode"],
        &["function", "list", "libraryname"],
        &["function", "list", "bad"],
        &["function", "stats"],
        &["function", "load", LIB],
        &["function", "load", "#!lua name=other\nredis.register_function('f1', function() return 1 end)"],
        &["function", "load", "#!lua name=lib2\nreturn math.random()"],
        &["function", "load", "#!lua name=lib2\nreturn redis.call('ping')"],
        &["function", "load", "#!lua name=lib2\nlocal x = 1"],
        &["function", "load", "lua name=lib2\nlocal x = 1"],
        &["function", "load", "#!lua\nlocal x = 1"],
        &["function", "load", "#!lua name=a-b\nlocal x = 1"],
        &["function", "load", "#!js name=ab\nlocal x = 1"],
        &["function", "load", "#!lua name=ab foo=bar\nlocal x = 1"],
        &["function", "load", "#!lua name=lib2\nredis.register_function('f', 1)"],
        &["function", "load", "#!lua name=lib2\nredis.register_function{function_name='x', callback=function() end, flags={'bad'}}"],
        &["function", "load", "#!lua name=lib2\nredis.register_function('f', function() return a end)"],
        &["fcall", "f", "0"],
        &["function", "load", "#!lua name=lib2\n+"],
        &["function", "load", "replace", "#!lua name=mylib\nredis.register_function('f1', function() error('boom') end)"],
        &["fcall", "f1", "0"],
        &["fcall", "f2", "0"],
        &["function", "delete", "mylib"],
        &["function", "delete", "mylib"],
        &["function", "kill"],
        &["function", "flush", "x"],
        &["function", "flush", "sync", "extra"],
        &["function", "flush"],
        &["eval", "redis.register_function('x', function() return 1 end)", "0"],
        &["function", "load", "#!lua name=nested\nredis.register_function('f1', function() redis.register_function('f2', function() return 2 end) return 1 end)"],
        &["fcall", "f1", "0"],
        &["function", "flush"],
        &["function", "list"],
        &["function", "help"],
    ], functions_in_any_order);
}

fn busy_function_transcript(port: u16) -> Vec<String> {
    let mut caller = Conn::connect(port);
    let mut other = Conn::connect(port);
    other.cmd(&["config", "set", "busy-reply-threshold", "50"]);
    other.cmd(&[
        "function",
        "load",
        "replace",
        "#!lua name=spin\nredis.register_function('spin', function() local a = 1 while true do a = a + 1 end end)",
    ]);
    caller.send(&request(&[b"fcall", b"spin", b"0"]));
    std::thread::sleep(Duration::from_millis(300));
    let mut out = Vec::new();
    for args in [&["ping"][..], &["script", "kill"], &["function", "kill"]] {
        out.push(other.cmd_str(args));
    }
    out.push(String::from_utf8_lossy(&caller.read_reply()).into_owned());
    out.push(other.cmd_str(&["function", "delete", "spin"]));
    out
}

#[test]
fn a_busy_function_is_killed_by_function_kill() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    assert_eq!(
        busy_function_transcript(ours.port),
        busy_function_transcript(oracle.port)
    );
}

/// FUNCTION DUMP's payload is redis-server's byte for byte (a single
/// library: Redis dumps several in its hash table's order), and FUNCTION
/// RESTORE takes it with each policy, and refuses as Redis refuses.
#[test]
fn function_dump_and_restore_match_redis() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    let lib1 = "#!lua name=lib1\nredis.register_function('f1', function() return 'first version of the library' end)";
    let lib1b = "#!lua name=lib1\nredis.register_function('f1', function() return 'second' end)";
    let lib2 = "#!lua name=lib2\nredis.register_function('f2', function() return 2 end)";
    let clash = "#!lua name=lib3\nredis.register_function('f1', function() return 3 end)";
    let (mut want, mut got) = (oracle.connect(), ours.connect());
    for c in [&mut want, &mut got] {
        c.cmd(&["FUNCTION", "LOAD", lib1]);
    }
    let dump = want.cmd_bytes(&[b"FUNCTION", b"DUMP"]);
    assert_eq!(
        got.cmd_bytes(&[b"FUNCTION", b"DUMP"]),
        dump,
        "FUNCTION DUMP"
    );
    // The payload without the bulk's header and trailer.
    let start = dump.iter().position(|&b| b == b'\n').expect("bulk header") + 1;
    let payload = &dump[start..dump.len() - 2];
    let steps: Vec<Vec<&[u8]>> = vec![
        vec![b"FUNCTION", b"RESTORE", payload],
        vec![b"FUNCTION", b"RESTORE", payload, b"APPEND"],
        vec![b"FUNCTION", b"LOAD", b"REPLACE", lib1b.as_bytes()],
        vec![b"FCALL", b"f1", b"0"],
        vec![b"FUNCTION", b"RESTORE", payload, b"REPLACE"],
        vec![b"FCALL", b"f1", b"0"],
        vec![b"FUNCTION", b"LOAD", lib2.as_bytes()],
        vec![b"FUNCTION", b"RESTORE", payload, b"FLUSH"],
        vec![b"FCALL", b"f2", b"0"],
        vec![b"FCALL", b"f1", b"0"],
        vec![b"FUNCTION", b"DELETE", b"lib1"],
        vec![b"FUNCTION", b"LOAD", clash.as_bytes()],
        vec![b"FUNCTION", b"RESTORE", payload],
        vec![b"FUNCTION", b"RESTORE", payload, b"REPLACE"],
        vec![b"FCALL", b"f1", b"0"],
        vec![b"FUNCTION", b"RESTORE", b"bad_payload"],
        vec![b"FUNCTION", b"RESTORE", payload, b"SOMETIMES"],
        vec![b"FUNCTION", b"RESTORE", b"a", b"b", b"c"],
        vec![b"FUNCTION", b"FLUSH"],
        vec![b"FUNCTION", b"DUMP"],
    ];
    for step in &steps {
        assert_eq!(
            String::from_utf8_lossy(&got.cmd_bytes(step)),
            String::from_utf8_lossy(&want.cmd_bytes(step)),
            "reply to {:?}",
            step.iter()
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>()
        );
    }
}

/// Libraries are data: they survive DEBUG RELOAD, a restart from the RDB
/// file (which redis-server loads too) and from a rewritten AOF.
#[test]
fn libraries_survive_reload_restart_and_aof_rewrite() {
    let dir = support::temp_dir("functions-persist");
    let log = dir.join("log");
    let d = support::s(&dir);
    let lib =
        "#!lua name=keep\nredis.register_function('kept', function() return 'still here' end)";
    let fcall = |c: &mut Conn| c.cmd_str(&["FCALL", "kept", "0"]);
    let want = "$10\r\nstill here\r\n";
    let server =
        Server::start_logging_to_file(&log, &["--dir", &d, "--enable-debug-command", "yes"]);
    let mut c = server.connect();
    c.cmd(&["FUNCTION", "LOAD", lib]);
    assert_eq!(c.cmd_str(&["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_eq!(fcall(&mut c), want, "after DEBUG RELOAD");
    c.cmd(&["SAVE"]);
    drop(c);
    drop(server);
    let server = Server::start_logging_to_file(&log, &["--dir", &d]);
    assert_eq!(fcall(&mut server.connect()), want, "after a restart");
    drop(server);
    if let Some(oracle) = Server::oracle_with(&["--dir", &d]) {
        assert_eq!(
            fcall(&mut oracle.connect()),
            want,
            "redis-server loading our file"
        );
    }
    // An AOF whose base is commands, not an RDB preamble: made by turning
    // the AOF on in a server that loaded the RDB file.
    let server =
        Server::start_logging_to_file(&log, &["--dir", &d, "--aof-use-rdb-preamble", "no"]);
    let mut c = server.connect();
    c.cmd(&["CONFIG", "SET", "appendonly", "yes"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !c
        .cmd_str(&["INFO", "persistence"])
        .contains("aof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0")
    {
        assert!(std::time::Instant::now() < deadline, "rewrite never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    let aof = ["--dir", &d, "--appendonly", "yes"];
    drop(c);
    drop(server);
    let _ = std::fs::remove_file(dir.join("dump.rdb"));
    let server = Server::start_logging_to_file(&log, &aof);
    assert_eq!(
        fcall(&mut server.connect()),
        want,
        "after a restart from the AOF"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
