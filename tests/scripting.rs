//! Lua scripting against real redis-server: EVAL and friends, SCRIPT, the
//! sandbox, the `redis.*` API, the bundled libraries, conversions both ways
//! in RESP2 and RESP3, error texts, shebang flags, busy scripts and SCRIPT
//! KILL; then what only reddish can show (atomicity of scripts reaching
//! undeclared keys across event loops), and real client libraries.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{request, Conn, Pair, Server};

#[test]
fn eval_replies_and_errors_match_redis() {
    support::differential(&[
        &["eval", "return 1", "0"],
        &[
            "eval",
            "return redis.call('set',KEYS[1],ARGV[1])",
            "1",
            "k",
            "v",
        ],
        &["eval", "return redis.call('get',KEYS[1])", "1", "k"],
        &["eval", "return {1,2,3,'ciao',{1,2}}", "0"],
        &["eval", "return {1,2,nil,4}", "0"],
        &["eval", "return 3.99", "0"],
        &["eval", "return -3.99", "0"],
        &["eval", "return true", "0"],
        &["eval", "return false", "0"],
        &["eval", "return nil", "0"],
        &["eval", "return {ok='fine'}", "0"],
        &["eval", "return {ok='two\\nlines'}", "0"],
        &["eval", "return {err='My Error'}", "0"],
        &["eval", "return redis.error_reply('My Error')", "0"],
        &["eval", "return redis.error_reply('-My Error')", "0"],
        &["eval", "return redis.status_reply('xx')", "0"],
        &["eval", "return {double=3.14}", "0"],
        &[
            "eval",
            "return KEYS[1]..ARGV[1]..#KEYS..#ARGV",
            "1",
            "a",
            "b",
            "c",
        ],
        &["eval", "return redis.call('nosuch')", "0"],
        &["eval", "return redis.call('get')", "0"],
        &["eval", "return redis.call()", "0"],
        &["eval", "return redis.call('set',{},1)", "0"],
        &["eval", "return redis.call('incr','k')", "0"],
        &["eval", "return redis.pcall('incr','k')", "0"],
        &["eval", "return redis.pcall('nosuch')", "0"],
        &["eval", "return {pcall(redis.call, 'nosuch')}", "0"],
        &["eval", "return pcall(function() error({err='x'}) end)", "0"],
        &["eval", "return {pcall(function() error('boom') end)}", "0"],
        &["eval", "error('boom')", "0"],
        &["eval", "error({err='MYCODE boom'})", "0"],
        &[
            "eval",
            "local t = {}\nt.x = 1\nreturn redis.call('nosuch')",
            "0",
        ],
        &["eval", "return redis.call('multi')", "0"],
        &["eval", "return redis.call('eval','return 1','0')", "0"],
        &["eval", "return redis.call('blpop','nolist',0)", "0"],
        &["eval", "return redis.call('ping')", "0"],
        &["eval", "return redis.call('select', 1)", "0"],
        &["eval", "return redis.call('hset','h','a','1','b','2')", "0"],
        &["eval", "return redis.call('hgetall','h')", "0"],
        &["eval", "return redis.call('zadd','z','1.5','a')", "0"],
        &["eval", "return redis.call('zscore','z','a')", "0"],
        &["eval", "return +", "0"],
        &["eval", "return 1", "-1"],
        &["eval", "return 1", "2", "a"],
        &["eval", "return 1", "x"],
        &["evalsha", "ffffffffffffffffffffffffffffffffffffffff", "0"],
        &["evalsha", "fff", "0"],
        &["script", "load", "return 'loaded'"],
        &["evalsha", "F8DFB0A6FCB4F6A1E4B6D5F0E9B1C58F7D0F3D5D", "0"],
        &["script", "load", "return +"],
        &[
            "script",
            "exists",
            "ffffffffffffffffffffffffffffffffffffffff",
        ],
        &["script", "flush", "x"],
        &["script", "kill"],
        &["script", "help"],
        &["script", "foo"],
        &["eval_ro", "return redis.call('set','x','y')", "0"],
        &["eval_ro", "return redis.call('get','k')", "0"],
        &["eval_ro", "return redis.call('publish','c','m')", "0"],
    ]);
}

#[test]
fn script_cache_matches_redis() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let sha = String::from_utf8(pair.check(&["script", "load", "return 'x'"])).unwrap();
    let sha = sha.lines().nth(1).unwrap().to_string();
    pair.run(&[
        &["evalsha", &sha, "0"],
        &["evalsha", &sha.to_uppercase(), "0"],
        &["evalsha_ro", &sha, "0"],
        &["script", "exists", &sha, &sha.to_uppercase(), "nope"],
        &["script", "flush", "sync"],
        &["script", "exists", &sha],
        &["evalsha", &sha, "0"],
        &["eval", "return 'x'", "0"],
        &["script", "exists", &sha],
        &["script", "flush", "async"],
        &["script", "flush"],
        &["script", "exists", &sha],
    ]);
}

#[test]
fn the_sandbox_is_redis_s() {
    support::differential(&[
        &["eval", "return a", "0"],
        &["eval", "a=10", "0"],
        &["eval", "setmetatable(_G, {})", "0"],
        &["eval", "local g = getmetatable(_G); g.__index = {}", "0"],
        &["eval", "redis = function() return 1 end", "0"],
        &["eval", "_G = {}", "0"],
        &["eval", "redis.call = function() return 1 end", "0"],
        &["eval", "cjson.encode = function() return 1 end", "0"],
        &["eval", "cmsgpack.pack = function() return 1 end", "0"],
        &["eval", "bit.lshift = function() return 1 end", "0"],
        &["eval", "loadfile('some file')", "0"],
        &["eval", "dofile('some file')", "0"],
        &["eval", "print('some data')", "0"],
        &["eval", "return os", "0"],
        &["eval", "return io", "0"],
        &["eval", "return debug", "0"],
        &["eval", "return require", "0"],
        &[
            "eval",
            "return loadstring(string.dump(function() return 1 end))()",
            "0",
        ],
        &["eval", "return loadstring('return 7')()", "0"],
        &["eval", "return _G.redis ~= nil", "0"],
        &["eval", "return type(cjson.null)", "0"],
        &["eval", "return tostring(1.5)..tostring(10/3)", "0"],
        &[
            "eval",
            "return string.rep('x', 3)..table.concat({1,2},',')",
            "0",
        ],
        &["eval", "return math.floor(2.5)", "0"],
        &["eval", "return redis.REDIS_VERSION", "0"],
        &["eval", "return redis.REDIS_VERSION_NUM", "0"],
        &["eval", "return redis.sha1hex('Pizza & Mandolino')", "0"],
        &["eval", "return redis.sha1hex()", "0"],
        &["eval", "return redis.replicate_commands()", "0"],
        &["eval", "return redis.breakpoint()", "0"],
        &["eval", "return redis.acl_check_cmd('set','x','y')", "0"],
        &["eval", "return redis.acl_check_cmd('nosuch')", "0"],
        &["eval", "redis.log(redis.LOG_WARNING, 'from a script')", "0"],
        &["eval", "redis.log('x')", "0"],
        &["eval", "redis.log(9, 'x')", "0"],
        &["eval", "redis.setresp(4)", "0"],
        &["eval", "redis.set_repl(9)", "0"],
        // The same sequence on both: math.random is Redis's rand48.
        &["eval", "return {math.random(10), math.random(1,100)}", "0"],
        &["eval", "math.randomseed(42); return math.random(1000)", "0"],
    ]);
}

#[test]
fn libraries_behave_as_redis_s() {
    support::differential(&[
        &["eval", "return cjson.encode({1,2,{a=1}})", "0"],
        &[
            "eval",
            "return cjson.encode({s='x/y\"z\\n', n=0.1, t=true})",
            "0",
        ],
        &["eval", "return cjson.encode({})", "0"],
        &["eval", "return cjson.encode({[1]=1,[100]=2})", "0"],
        &["eval", "return cjson.encode(1/0)", "0"],
        &["eval", "return cjson.encode(function() end)", "0"],
        &[
            "eval",
            "return cjson.encode(cjson.decode('[1,null,\"\\\\u00e9\"]'))",
            "0",
        ],
        &["eval", "return cjson.decode('[1,2,{\"a\":5}]')[3].a", "0"],
        &["eval", "return cjson.decode('[1,2')", "0"],
        &["eval", "return cjson.decode('{\"a\" 1}')", "0"],
        &["eval", "return cjson.decode('{1:2}')", "0"],
        &["eval", "return cjson.decode('[1] x')", "0"],
        &["eval", "return cjson.decode('')", "0"],
        &["eval", "return cmsgpack.pack({1,2,3,'abc',{a=1}})", "0"],
        &[
            "eval",
            "return cmsgpack.pack(1.5, -1, -200, 70000, 2^40, 0.1, true, false)",
            "0",
        ],
        &[
            "eval",
            "return cmsgpack.pack(string.rep('x', 40), string.rep('y', 300))",
            "0",
        ],
        &[
            "eval",
            "return {cmsgpack.unpack(cmsgpack.pack(1,2.5,'x',true,{1,2},{a='b'}))}",
            "0",
        ],
        &["eval", "return cmsgpack.unpack('\\xc1')", "0"],
        &["eval", "return cmsgpack.unpack('\\x92\\x01')", "0"],
        &[
            "eval",
            "return {bit.band(0xff, 0x0f), bit.bor(1,2,4), bit.bxor(3,1)}",
            "0",
        ],
        &[
            "eval",
            "return {bit.tohex(255), bit.tohex(-1, -4), bit.bnot(0)}",
            "0",
        ],
        &[
            "eval",
            "return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-16, 2)}",
            "0",
        ],
        &[
            "eval",
            "return {bit.rol(1, 33), bit.bswap(0x12345678), bit.tobit(2^32+5)}",
            "0",
        ],
        &["eval", "return bit.band()", "0"],
        &["eval", "return struct.pack('>I2<i4', 258, -2)", "0"],
        &["eval", "return {struct.unpack('>I2', 'ab')}", "0"],
        &[
            "eval",
            "return {struct.unpack('<i4s', struct.pack('<i4s', -7, 'hi'))}",
            "0",
        ],
        &["eval", "return struct.size('>I2bd')", "0"],
    ]);
}

#[test]
fn resp3_conversions_match_redis() {
    support::differential_resp3(&[
        &["hset", "h", "a", "1"],
        &["sadd", "s", "m"],
        &["zadd", "z", "1.5", "a"],
        &[
            "eval",
            "redis.setresp(3); return redis.call('hgetall','h')",
            "0",
        ],
        &[
            "eval",
            "redis.setresp(3); return redis.call('smembers','s')",
            "0",
        ],
        &[
            "eval",
            "redis.setresp(3); return redis.call('zscore','z','a')",
            "0",
        ],
        &[
            "eval",
            "redis.setresp(3); return redis.call('get','nokey')",
            "0",
        ],
        &[
            "eval",
            "redis.setresp(3); return {redis.call('exists','h') == 1}",
            "0",
        ],
        &["eval", "return redis.call('hgetall','h')", "0"],
        &["eval", "return redis.call('get','nokey')", "0"],
        &["eval", "return true", "0"],
        &["eval", "return false", "0"],
        &["eval", "redis.setresp(3); return true", "0"],
        &["eval", "redis.setresp(3); return false", "0"],
        &["eval", "return {map={a=1}}", "0"],
        &["eval", "return {set={x=true}}", "0"],
        &["eval", "return {double=1.5}", "0"],
        &[
            "eval",
            "return {big_number='123456789012345678901234567890'}",
            "0",
        ],
        &[
            "eval",
            "return {verbatim_string={format='txt', string='hello'}}",
            "0",
        ],
        &[
            "eval",
            "redis.setresp(3); local r = redis.call('debug','protocol','attrib'); return r",
            "0",
        ],
    ]);
    support::differential(&[
        &["eval", "return {map={a=1}}", "0"],
        &["eval", "return {set={x=true}}", "0"],
        &["eval", "return {double=1.5}", "0"],
        &["eval", "return {big_number='12345678901234567890'}", "0"],
        &[
            "eval",
            "return {verbatim_string={format='txt', string='hello'}}",
            "0",
        ],
    ]);
}

#[test]
fn shebang_flags_match_redis() {
    support::differential(&[
        &[
            "eval",
            "#!lua flags=no-writes\nreturn redis.call('set','x','y')",
            "0",
        ],
        &["eval", "#!lua\nreturn redis.call('set','x','y')", "0"],
        &["eval_ro", "#!lua\nreturn 1", "0"],
        &[
            "eval_ro",
            "#!lua flags=no-writes\nreturn redis.call('get','x')",
            "0",
        ],
        &[
            "eval",
            "#!lua flags=allow-oom,allow-stale,no-cluster\nreturn 1",
            "0",
        ],
        &["eval", "#!lua flags=foo\nreturn 1", "0"],
        &["eval", "#!lua xx\nreturn 1", "0"],
        &["eval", "#!python\nreturn 1", "0"],
        &["eval", "#!lua", "0"],
        &["eval", "#!lua\n\nreturn a", "0"],
        &["script", "load", "#!lua name=x\nreturn 1"],
    ]);
}

/// A script's declared flags make EVAL and FCALL the command they say:
/// over `maxmemory` one not `allow-oom` (nor `no-writes`) is refused as a
/// `denyoom` command, and with too few good replicas one that may write is
/// refused as a write command; a script without flags fails at its write.
#[test]
fn declared_flags_decide_oom_and_noreplicas_refusals() {
    support::differential(&[
        &["set", "x", "1"],
        &["function", "load", "#!lua name=lib\nredis.register_function{function_name='w', callback=function() return redis.call('set','x','2') end}\nredis.register_function{function_name='r', callback=function() return redis.call('get','x') end, flags={'no-writes'}}"],
        &["config", "set", "maxmemory", "1"],
        &["eval", "#!lua\nreturn 1", "0"],
        &["eval", "#!lua flags=allow-oom\nreturn redis.call('set','x','3')", "0"],
        &["eval", "#!lua flags=no-writes\nreturn redis.call('get','x')", "0"],
        &["eval", "return redis.call('get','x')", "0"],
        &["eval", "return redis.call('set','x','4')", "0"],
        &["fcall", "w", "0"],
        &["fcall", "r", "0"],
        &["config", "set", "maxmemory", "0"],
        &["config", "set", "min-replicas-to-write", "1"],
        &["set", "x", "5"],
        &["get", "x"],
        &["eval", "#!lua\nreturn 1", "0"],
        &["eval", "#!lua flags=no-writes\nreturn redis.call('get','x')", "0"],
        &["eval", "return redis.call('set','x','6')", "0"],
        &["eval", "return redis.pcall('set','x','6')['err']", "0"],
        &["fcall", "w", "0"],
        &["fcall", "r", "0"],
        &["multi"],
        &["set", "x", "7"],
        &["exec"],
        &["config", "set", "min-replicas-max-lag", "0"],
        &["set", "x", "8"],
        &["config", "set", "min-replicas-to-write", "0"],
        &["function", "flush"],
    ]);
}

/// Errors inside scripts count once, as Redis counts them: a refused
/// `redis.call` or `redis.pcall` as the error of the refused command, a
/// failed command as its own error, and the script's error reply that
/// repeats either only as EVAL's failed call.
#[test]
fn script_errors_count_once_in_the_stats() {
    fn stats(conn: &mut support::Conn) -> String {
        let keep = |l: &&str| {
            l.starts_with("errorstat_")
                || l.starts_with("total_error_replies")
                || l.starts_with("cmdstat_set:")
                || l.starts_with("cmdstat_eval:")
                || l.starts_with("cmdstat_select:")
        };
        let info = conn.cmd_str(&["INFO", "all"]);
        let mut lines: Vec<String> = info
            .lines()
            .filter(keep)
            .map(|l| {
                // Times differ: keep the counts.
                l.split(',')
                    .filter(|f| !f.contains("usec"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        lines.sort();
        lines.join("\n")
    }
    support::on_both(|s| {
        let mut c = s.connect();
        let mut out = Vec::new();
        let steps: &[&[&str]] = &[
            &["config", "set", "maxmemory", "1"],
            &["eval", "return redis.call('set','x','y')", "1", "x"],
            &[
                "eval",
                "local t = redis.pcall('set','x','y') return t['err']",
                "1",
                "x",
            ],
            &["eval", "return redis.pcall('set','x','y')", "1", "x"],
            &["config", "set", "maxmemory", "0"],
            &["eval", "return redis.call('select',99)", "0"],
            &["eval", "return redis.pcall('select',99)", "0"],
            &["eval", "return redis.call('nosuchcommand')", "0"],
        ];
        for step in steps {
            c.cmd(&["config", "resetstat"]);
            out.push(c.cmd_str(step));
            out.push(stats(&mut c));
        }
        out
    });
}

#[test]
fn cjson_keep_buffer_and_acl_check_cmd_match_redis() {
    let mut steps: Vec<Vec<String>> = [
        "", "false", "true", "'on'", "'off'", "'x'", "1", "1.5", "{}", "nil", "true,1",
    ]
    .iter()
    .map(|a| {
        vec![
            "eval".into(),
            format!("return cjson.encode_keep_buffer({a})"),
            "0".into(),
        ]
    })
    .collect();
    let acl: &[&[&str]] = &[
        &[
            "acl",
            "setuser",
            "bob",
            "on",
            ">123",
            "+@scripting",
            "+set",
            "~x*",
        ],
        &["auth", "bob", "123"],
        &[
            "eval",
            "return redis.acl_check_cmd('set','xx',1)",
            "1",
            "xx",
        ],
        &[
            "eval",
            "return redis.acl_check_cmd('hset','xx','f',1)",
            "1",
            "xx",
        ],
        &["eval", "return redis.acl_check_cmd('set','yy',1)", "0"],
        &["eval", "return redis.acl_check_cmd('set')", "0"],
        &[
            "eval",
            "return redis.acl_check_cmd('invalid-cmd','arg')",
            "0",
        ],
        &["eval", "return redis.acl_check_cmd()", "0"],
    ];
    steps.extend(
        acl.iter()
            .map(|s| s.iter().map(|a| a.to_string()).collect()),
    );
    let steps: Vec<Vec<&str>> = steps
        .iter()
        .map(|s| s.iter().map(String::as_str).collect())
        .collect();
    let steps: Vec<&[&str]> = steps.iter().map(Vec::as_slice).collect();
    support::differential(&steps);
}

/// A command may take as many arguments as Lua can pass (`unpack` of
/// nearly 8,000), through `redis.call` and `redis.pcall` alike.
#[test]
fn redis_call_takes_thousands_of_arguments() {
    let body = |f: &str| {
        format!("local a = {{}} for i=1,7999 do a[i] = 1 end return redis.{f}('lpush', KEYS[1], unpack(a))")
    };
    let (call, pcall) = (body("call"), body("pcall"));
    support::differential(&[
        &["eval", &call, "1", "l"],
        &["eval", &pcall, "1", "l"],
        &["eval", "return redis.call()", "0"],
        &["eval", "return redis.pcall()", "0"],
        &["eval", "return redis.call('ping', nil)", "0"],
        &["del", "l"],
    ]);
}

#[test]
fn monitor_shows_the_script_then_its_commands() {
    let server = Server::start();
    let mut monitor = server.connect();
    assert_eq!(monitor.cmd(&["monitor"]), b"+OK\r\n");
    let mut client = server.connect();
    client.cmd(&["eval", "return redis.call('set','k','v')", "0"]);
    let first = String::from_utf8(monitor.read_reply()).unwrap();
    let second = String::from_utf8(monitor.read_reply()).unwrap();
    assert!(first.contains("\"eval\""), "{first}");
    assert!(second.contains("[0 lua] \"set\" \"k\" \"v\""), "{second}");
}

/// A busy script as another client sees it, on one server: the replies of
/// PING, SCRIPT KILL, and the script's own end.
fn busy_transcript(port: u16, script: &str, then: &[&[&str]]) -> Vec<String> {
    let mut caller = Conn::connect(port);
    // A script that wrote cannot be killed: it runs its 100M iterations to
    // the end, which on a loaded machine took redis-server over 10 s.
    caller.set_read_timeout(Duration::from_secs(120));
    let mut other = Conn::connect(port);
    other.cmd(&["config", "set", "busy-reply-threshold", "100"]);
    caller.send(&request(&[b"eval", script.as_bytes(), b"0"]));
    std::thread::sleep(Duration::from_millis(400));
    let mut out = Vec::new();
    for args in then {
        out.push(other.cmd_str(args));
    }
    out.push(String::from_utf8_lossy(&caller.read_reply()).into_owned());
    out
}

#[test]
fn busy_scripts_answer_busy_and_can_be_killed_until_they_write() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    let read_only: &[&[&str]] = &[&["ping"], &["get", "x"], &["script", "kill"]];
    let want = busy_transcript(oracle.port, "while true do end", read_only);
    let got = busy_transcript(ours.port, "while true do end", read_only);
    assert_eq!(got, want);
    let wrote: &[&[&str]] = &[&["script", "kill"], &["ping"]];
    let script = "redis.call('set','x','y') local i = 0 while i < 100000000 do i = i + 1 end";
    let want = busy_transcript(oracle.port, script, wrote);
    let got = busy_transcript(ours.port, script, wrote);
    assert_eq!(got, want);
    let mut conn = ours.connect();
    assert_eq!(conn.cmd_str(&["get", "x"]), "$1\r\ny\r\n");
}

#[test]
fn shutdown_nosave_stops_a_busy_script() {
    let mut ours = Server::start();
    let port = ours.port;
    let mut caller = Conn::connect(port);
    let mut other = Conn::connect(port);
    other.cmd(&["config", "set", "busy-reply-threshold", "50"]);
    caller.send(&request(&[
        b"eval",
        b"redis.call('set','a','1') while true do end",
        b"0",
    ]));
    std::thread::sleep(Duration::from_millis(300));
    assert!(other
        .cmd_str(&["script", "kill"])
        .starts_with("-UNKILLABLE"));
    other.send(&request(&[b"shutdown", b"nosave"]));
    assert!(ours.wait_exit().is_some(), "the server did not exit");
}

/// Scripts that read and write a key they did not declare, from many
/// clients over several event loops at once: each is atomic (no increment
/// lost) and none deadlocks.
#[test]
fn scripts_reaching_undeclared_keys_stay_atomic_across_event_loops() {
    let server = Server::start_with(&["--io-threads", "3"]);
    let script = "local v = tonumber(redis.call('get', 'counter') or '0') \
                  redis.call('set', KEYS[1], v) \
                  redis.call('set', 'counter', v + 1) return v";
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let port = server.port;
            std::thread::spawn(move || {
                let mut conn = Conn::connect(port);
                for i in 0..300 {
                    let key = format!("k{t}:{i}");
                    let reply = conn.cmd(&["eval", script, "1", &key]);
                    assert!(
                        reply.starts_with(b":"),
                        "{}",
                        String::from_utf8_lossy(&reply)
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut conn = server.connect();
    assert_eq!(conn.cmd_str(&["get", "counter"]), "$4\r\n1800\r\n");
}

/// A script proven to keep to its keys locks only them; meeting an
/// undeclared key later, before any write, it is run again under every
/// lock, and the result is as if it had been from the start.
#[test]
fn a_script_that_strays_later_is_rerun_whole() {
    let server = Server::start();
    let mut conn = server.connect();
    let script = "if redis.call('get', KEYS[1]) == 'far' then \
                  redis.call('incr', 'elsewhere') end \
                  return redis.call('incr', KEYS[1] .. ':n')";
    assert_eq!(conn.cmd_str(&["eval", script, "1", "a"]), ":1\r\n");
    assert_eq!(conn.cmd_str(&["eval", script, "1", "a"]), ":2\r\n");
    conn.cmd(&["set", "b", "far"]);
    assert_eq!(conn.cmd_str(&["eval", script, "1", "b"]), ":1\r\n");
    assert_eq!(conn.cmd_str(&["get", "elsewhere"]), "$1\r\n1\r\n");
    assert_eq!(conn.cmd_str(&["eval", script, "1", "b"]), ":2\r\n");
    assert_eq!(conn.cmd_str(&["get", "elsewhere"]), "$1\r\n2\r\n");
}

#[test]
fn redis_py_lock_and_script_objects_work() {
    if !support::python_module("redis", "redis-py script test") {
        return;
    }
    let server = Server::start();
    let program = r#"
import sys, threading, redis
r = redis.Redis(port=int(sys.argv[1]))
# Script objects: EVALSHA, NOSCRIPT, then EVAL.
incr = r.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
assert incr(keys=['n'], args=[5]) == 5
r.script_flush()
assert incr(keys=['n'], args=[2]) == 7
# Locks (acquire/extend/release are scripts) shared by threads.
total = []
def work():
    for _ in range(50):
        with r.lock('lk', timeout=5, blocking_timeout=10):
            v = int(r.get('c') or 0)
            r.set('c', v + 1)
threads = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
assert int(r.get('c')) == 200, r.get('c')
lock = r.lock('other', timeout=10)
assert lock.acquire(blocking=False)
assert not r.lock('other').acquire(blocking=False)
assert lock.extend(5)
assert lock.reacquire()
lock.release()
try:
    lock.release()
    raise SystemExit('released twice')
except redis.exceptions.LockError:
    pass
print('ok')
"#;
    let out = Command::new("python3")
        .args(["-c", program, &server.port.to_string()])
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// cjson's setting functions as lua-cjson answers them (values, errors
/// with the function's name as called, settings kept between scripts),
/// and what they change in encode/decode.
#[test]
fn cjson_settings_match_redis() {
    let lines: &[&str] = &[
        "return cjson.encode_max_depth()",
        "return cjson.encode_max_depth(0)",
        "return cjson.encode_max_depth('x')",
        "return cjson.encode_max_depth('5')",
        "return cjson.encode_max_depth(2.7)",
        "return cjson.encode_max_depth(1,2)",
        "return {pcall(cjson.encode_max_depth,0)}",
        "return cjson:encode_max_depth(0)",
        "return {pcall(cjson.encode, {{{1}}})}",
        "return cjson.encode_max_depth(1000)",
        "return {cjson.encode_sparse_array()}",
        "return {cjson.encode_sparse_array(true, 0, 3)}",
        "return cjson.encode({[1]=1,[100]=2})",
        "return {cjson.encode_sparse_array(false, 2, 10)}",
        "return {cjson.encode_sparse_array(nil, -1)}",
        "return {cjson.encode_sparse_array(nil, 'x')}",
        "return cjson.encode({[1]=1,[100]=2})",
        "return cjson.encode_invalid_numbers('null')",
        "return cjson.encode({1/0, 0/0, -1/0})",
        "return cjson.encode_invalid_numbers(true)",
        "return cjson.encode({1/0, -1/0, 5})",
        "return cjson.encode_invalid_numbers('off')",
        "return cjson.encode_invalid_numbers('x')",
        "return cjson.encode_invalid_numbers({})",
        "return cjson.encode_number_precision(15)",
        "return cjson.encode_number_precision(3)",
        "return cjson.encode({3.14159, 1e15, 12345})",
        "return cjson.encode_number_precision(14)",
        "return cjson.encode({1e15, 0.1})",
        "return cjson.decode('0x10')",
        "return cjson.decode('[1e400, -inf, 012, +1]')[2]",
        "return cjson.decode('1\\0')",
        "return cjson.decode('[1]\\0xx')[1]",
        "return cjson.decode_invalid_numbers(false)",
        "return {pcall(cjson.decode, '0x10')}",
        "return {pcall(cjson.decode, '+1')}",
        "return {pcall(cjson.decode, '-inf')}",
        "return {pcall(cjson.decode, 'x')}",
        "return {pcall(cjson.decode, '\"abc')}",
        "return {pcall(cjson.decode, '\"ab\\\\q\"')}",
        "return {pcall(cjson.decode, '\"ab\\\\u12\"')}",
        "return cjson.decode_invalid_numbers(true)",
        "return {pcall(cjson.decode, {})}",
        "return {pcall(cjson.decode)}",
        "return cjson.decode(true)",
        "return cjson.encode(1, 2)",
        "local t = cjson.new() t.encode_max_depth(3) return {t.encode_max_depth(), cjson.encode_max_depth()}",
        "cjson.decode_max_depth(3) return {pcall(cjson.decode, '[[[[1]]]]')}",
        // Objects nest as deep as Redis's Lua stack lets lua-cjson go.
        "cjson.encode_max_depth(100000) local a = {} local c = a for i=1,5000 do c.x = {} c = c.x end return {pcall(cjson.encode, a)}",
        "cjson.decode_max_depth(100000) return {pcall(cjson.decode, string.rep('{\"a\":', 5000))}",
        "return {pcall(cjson.decode, string.rep('[', 3000))}",
        "return cjson.encode({[true]=1})",
        "return cjson.encode({a=function() end})",
        "return 0/0",
        "return 1/0",
    ];
    let steps: Vec<[&str; 3]> = lines.iter().map(|l| ["eval", *l, "0"]).collect();
    let steps: Vec<&[&str]> = steps.iter().map(|s| &s[..]).collect();
    support::differential(&steps);
}

/// cmsgpack.unpack refuses what would overflow Redis's Lua stack (about
/// 4000 levels, or 8000 values at once) with lua-cmsgpack's errors.
#[test]
fn cmsgpack_unpack_nesting_matches_redis() {
    support::differential(&[
        &["eval", "return {pcall(cmsgpack.unpack, string.rep(string.char(0x91), 20000)..string.char(1))}", "0"],
        &["eval", "return {pcall(cmsgpack.unpack, string.rep(string.char(0x81,1), 20000)..string.char(1))}", "0"],
        &["eval", "return pcall(cmsgpack.unpack, string.rep(string.char(0x91), 3999)..string.char(1))", "0"],
        &["eval", "return {pcall(cmsgpack.unpack, string.rep(string.char(1), 10000))}", "0"],
        &["eval", "return #{cmsgpack.unpack(string.rep(string.char(1), 7998))}", "0"],
        &["eval", "return cmsgpack.unpack({})", "0"],
        &["eval", "return cmsgpack.unpack_one('abc', 10)", "0"],
        &["eval", "return cmsgpack.unpack_one('abc', -1)", "0"],
    ]);
}

/// A script's result nests thousands of levels deep before the innermost
/// is `reached lua stack limit` (Redis: 7995), and the connection lives on.
#[test]
fn a_deeply_nested_result_ends_in_the_stack_limit_error() {
    let server = Server::start_with(&["--io-threads", "2"]);
    // Two connections: one on each event loop.
    for _ in 0..2 {
        let script = b"local a = {}; local b = {a}; a[1] = b; return a";
        let reply = support::exchange_raw(server.port, &request(&[b"eval", script, b"0"]));
        let levels = reply.windows(4).filter(|w| w == b"*1\r\n").count();
        assert!(
            reply.ends_with(b"*1\r\n-ERR reached lua stack limit\r\n"),
            "{:?}",
            String::from_utf8_lossy(&reply[reply.len().saturating_sub(100)..])
        );
        assert!((7800..=7995).contains(&levels), "{levels}");
    }
    assert_eq!(server.connect().cmd_str(&["ping"]), "+PONG\r\n");
}

/// CLUSTER answers as Redis 7.0's with cluster support disabled, and a
/// script may not call CLUSTER RESET (`noscript`).
#[test]
fn cluster_is_disabled_as_in_redis() {
    support::differential(&[
        &["cluster", "info"],
        &["cluster", "help"],
        &["cluster", "nosuch"],
        &["cluster"],
        &["cluster", "reset", "hard"],
        &["cluster", "info", "extra"],
        &["eval", "return redis.pcall('cluster','reset','hard')", "0"],
        &["eval", "return redis.pcall('cluster','keyslot','x')", "0"],
    ]);
}

/// MULTI reaches a busy script's own event loop as in Redis: `+OK`, a
/// command refused with `-BUSY` dooms the transaction, and EXEC after the
/// script is killed answers `-EXECABORT`.
#[test]
fn multi_during_a_busy_script_is_doomed_by_busy_commands() {
    let transcript = |port: u16| -> Vec<String> {
        let mut caller = Conn::connect(port);
        let mut other = Conn::connect(port);
        let mut admin = Conn::connect(port);
        admin.cmd(&["config", "set", "busy-reply-threshold", "10"]);
        caller.send(&request(&[b"eval", b"while true do end", b"0"]));
        std::thread::sleep(Duration::from_millis(200));
        let mut out = vec![other.cmd_str(&["multi"]), other.cmd_str(&["multi"])];
        out.push(other.cmd_str(&["incr", "xx"]));
        out.push(admin.cmd_str(&["script", "kill"]));
        out.push(String::from_utf8_lossy(&caller.read_reply()).into_owned());
        out.push(other.cmd_str(&["incr", "xx"]));
        out.push(other.cmd_str(&["exec"]));
        out.push(other.cmd_str(&["get", "xx"]));
        out
    };
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    assert_eq!(transcript(ours.port), transcript(oracle.port));
}

/// The libraries' read-only tables iterate as Redis's do (pairs, next,
/// rawget see their contents), and the string metatable is read-only
/// too, so no script can change another's string methods.
#[test]
fn library_tables_iterate_and_strings_metatable_is_read_only() {
    let mut lines: Vec<String> = [
        "string",
        "table",
        "math",
        "redis",
        "cjson",
        "cmsgpack",
        "bit",
        "struct",
        "coroutine",
        "_G",
    ]
    .iter()
    .map(|lib| {
        format!("local t = {{}} for k in pairs({lib}) do t[#t+1] = k end table.sort(t) return t")
    })
    .collect();
    lines.extend(
        [
            "return next(string) ~= nil",
            "return type(rawget(string, 'rep'))",
            "return pairs(nil)",
            "return next()",
            "return rawget(string)",
            "local n = next return n(nil)",
            "return {pcall(pairs)}",
            "return getmetatable('').__index == string",
            "getmetatable('').__index.upper = function() return 'hacked' end",
            "getmetatable('').__index = {}",
            "return ('x'):upper()",
            "return type(getfenv)",
            "return type(setfenv)",
            "return type(newproxy)",
            "return type(__redis__err__handler)",
            "return {cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}",
        ]
        .map(String::from),
    );
    let steps: Vec<[&str; 3]> = lines.iter().map(|l| ["eval", l.as_str(), "0"]).collect();
    let steps: Vec<&[&str]> = steps.iter().map(|s| &s[..]).collect();
    support::differential(&steps);
}

/// A busy script's loop still accepts connections, as Redis's does: a new
/// client gets NOAUTH until AUTH succeeds, then BUSY, and can SCRIPT KILL;
/// its connection goes on logged in once the script is over.
#[test]
fn new_connections_reach_a_busy_script_s_loop() {
    let transcript = |port: u16| -> Vec<String> {
        let mut caller = Conn::connect(port);
        caller.cmd(&["config", "set", "busy-reply-threshold", "10"]);
        caller.cmd(&["config", "set", "requirepass", "pw"]);
        caller.cmd(&["auth", "pw"]);
        caller.send(&request(&[b"eval", b"while true do end", b"0"]));
        std::thread::sleep(Duration::from_millis(200));
        let mut late = Conn::connect(port);
        let mut out = vec![
            late.cmd_str(&["ping"]),
            late.cmd_str(&["script", "kill"]),
            late.cmd_str(&["auth", "pw"]),
            late.cmd_str(&["ping"]),
            late.cmd_str(&["script", "kill"]),
        ];
        out.push(String::from_utf8_lossy(&caller.read_reply()).into_owned());
        out.push(late.cmd_str(&["ping"]));
        out.push(late.cmd_str(&["acl", "whoami"]));
        out.push(Conn::connect(port).cmd_str(&["ping"]));
        out
    };
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    assert_eq!(transcript(ours.port), transcript(oracle.port));
}

#[test]
fn monitor_shows_the_fcall_then_its_commands() {
    let server = Server::start();
    let mut client = server.connect();
    let library = "#!lua name=mon\nredis.register_function('f', function() return redis.call('set', 'k', 'v') end)";
    client.cmd(&["function", "load", library]);
    let mut monitor = server.connect();
    assert_eq!(monitor.cmd(&["monitor"]), b"+OK\r\n");
    client.cmd(&["fcall", "f", "0"]);
    let first = String::from_utf8(monitor.read_reply()).unwrap();
    let second = String::from_utf8(monitor.read_reply()).unwrap();
    assert!(first.contains("\"fcall\" \"f\" \"0\""), "{first}");
    assert!(second.contains("[0 lua] \"set\" \"k\" \"v\""), "{second}");
}

/// KEYS and ARGV are tables reused from run to run (engine.rs): whatever a
/// script left in them, a shorter list, extra fields, a metatable, is gone
/// for the next, as with Redis's fresh tables; numbers passed to
/// `redis.call` are `%.17g` text, as Redis formats them.
#[test]
fn keys_and_argv_start_clean_and_numbers_are_redis_s_text() {
    support::differential(&[
        &["eval", "KEYS.extra = 1; KEYS[4] = 'z'; return #KEYS", "3", "a", "b", "c", "x"],
        &["eval", "return {#KEYS, tostring(KEYS.extra), tostring(KEYS[2]), tostring(KEYS[4]), #ARGV}", "1", "a"],
        &["eval", "setmetatable(ARGV, {__index = function() return 'm' end}); return ARGV[7]", "0", "x"],
        &["eval", "return {tostring(ARGV[7]), tostring(getmetatable(ARGV)), #ARGV, ARGV[1]}", "0", "y"],
        &["eval", "ARGV[1] = nil; ARGV[3] = 'gap'; return #KEYS", "0", "p", "q", "r"],
        &["eval", "return {#ARGV, tostring(ARGV[2]), tostring(ARGV[3])}", "0", "s"],
        &["eval", "return {#KEYS, #ARGV}", "0"],
        &["eval", "redis.call('set', 'n', 2^62); redis.call('rpush', 'l', 1.5, 7, -0.1, 1e300); return redis.call('get', 'n')", "0"],
        &["lrange", "l", "0", "-1"],
        &["eval", "return redis.call('set', 'n', 0/0)", "0"],
        &["get", "n"],
    ]);
}

/// Functions share the Lua state with EVAL's scripts but never see the
/// KEYS and ARGV an EVAL left set.
#[test]
fn functions_do_not_see_the_last_eval_s_keys() {
    let library = "#!lua name=lib\nredis.register_function('f', function(keys, args) return {#keys, #args, type(rawget(_G, 'KEYS'))} end)";
    support::differential(&[
        &["function", "load", library],
        &["eval", "return #KEYS", "2", "a", "b", "c"],
        &["fcall", "f", "1", "k", "v"],
        &["eval", "return {KEYS[1], ARGV[1]}", "1", "a", "b"],
    ]);
}

/// Every run leaves the Lua stack as it found it: thousands of runs of
/// each kind of ending (a reply, an error, a command error raised or
/// returned, a nested result, a function) would otherwise overflow it.
#[test]
fn runs_of_every_kind_leave_the_lua_stack_balanced() {
    let server = Server::start();
    let mut conn = server.connect();
    conn.cmd(&[
        "function",
        "load",
        "#!lua name=bal\nredis.register_function('g', function(keys) return redis.call('incr', keys[1]) end)",
    ]);
    let scripts: [&[&str]; 7] = [
        &["eval", "return redis.call('incr', KEYS[1])", "1", "c"],
        &["eval", "return redis.call('nosuch')", "0"],
        &["eval", "return redis.pcall('incr', 'h')", "0"],
        &["eval", "error('boom')", "0"],
        &["eval", "return {1, {2, {3}}, {ok='x'}, {err='e'}}", "0"],
        &["eval", "return redis.call()", "0"],
        &["fcall", "g", "1", "c"],
    ];
    conn.cmd(&["hset", "h", "f", "v"]);
    const ROUNDS: usize = 2_000;
    let mut batch = Vec::new();
    for _ in 0..ROUNDS {
        for args in &scripts {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            batch.extend_from_slice(&request(&args));
        }
    }
    conn.send(&batch);
    for _ in 0..ROUNDS * scripts.len() {
        conn.read_reply();
    }
    assert_eq!(
        conn.cmd(&["get", "c"]),
        format!("${}\r\n{}\r\n", (2 * ROUNDS).to_string().len(), 2 * ROUNDS).as_bytes()
    );
    assert_eq!(
        conn.cmd(&["eval", "return {1, 2, 3}", "0"]),
        b"*3\r\n:1\r\n:2\r\n:3\r\n"
    );
}
