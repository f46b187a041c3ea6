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
