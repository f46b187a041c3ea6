//! Client-side caching (CLIENT TRACKING) against the real redis-server:
//! the same steps on both servers, several connections each, and every
//! byte each connection receives (replies and invalidation pushes) compared.

mod support;

use support::{Conn, Server};

/// Who runs a step: the tracking client (RESP3), a plain writer, the
/// redirect target (RESP2, subscribed to `__redis__:invalidate`), and a
/// RESP2 tracking client that redirects.
const A: usize = 0;
const W: usize = 1;
const R: usize = 2;
const B: usize = 3;

/// One server's connections and the id of the redirect target.
struct Side {
    conns: Vec<Conn>,
    redirect_id: String,
    /// The connection in MULTI, if any: a PING would be queued there.
    in_multi: Option<usize>,
}

impl Side {
    fn open(server: &Server) -> Side {
        let mut conns: Vec<Conn> = (0..4).map(|_| server.connect()).collect();
        conns[A].cmd(&["HELLO", "3"]);
        let id = String::from_utf8_lossy(&conns[R].cmd(&["CLIENT", "ID"])).into_owned();
        let redirect_id = id.trim_start_matches(':').trim_end().to_string();
        conns[R].cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
        Side {
            conns,
            redirect_id,
            in_multi: None,
        }
    }

    /// Runs `args` on connection `who` (`$R` stands for the redirect
    /// target's id), then reads what every connection got: each sends a
    /// PING and everything before its answer is kept. Ids read back are
    /// written as `$R` again.
    fn step(&mut self, who: usize, args: &[&str]) -> Vec<String> {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("$R", &self.redirect_id))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut seen = vec![String::new(); self.conns.len()];
        let reply = self.conns[who].cmd(&args);
        seen[who].push_str(&String::from_utf8_lossy(&reply));
        if args[0].eq_ignore_ascii_case("MULTI") {
            self.in_multi = Some(who);
        } else if args[0].eq_ignore_ascii_case("EXEC") {
            self.in_multi = None;
        }
        for (i, conn) in self.conns.iter_mut().enumerate() {
            if self.in_multi == Some(i) {
                continue;
            }
            let pong: &[u8] = if i == R {
                b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
            } else {
                b"+PONG\r\n"
            };
            conn.send(b"*1\r\n$4\r\nPING\r\n");
            loop {
                let got = conn.read_reply();
                if got == pong {
                    break;
                }
                seen[i].push_str(&String::from_utf8_lossy(&got));
            }
        }
        let id = format!(":{}\r\n", self.redirect_id);
        seen.iter().map(|s| s.replace(&id, ":$R\r\n")).collect()
    }
}

fn differential_tracking(script: &[(usize, &[&str])]) {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    let mut want = Side::open(&oracle);
    let mut got = Side::open(&ours);
    for (who, args) in script {
        let expected = want.step(*who, args);
        let actual = got.step(*who, args);
        assert_eq!(
            actual, expected,
            "what the connections got after {args:?} on connection {who} differs from redis-server"
        );
    }
}

#[test]
fn default_mode_invalidates_each_key_read_once() {
    differential_tracking(&[
        (W, &["SET", "a", "1"]),
        (A, &["CLIENT", "TRACKING", "on"]),
        (A, &["GET", "a"]),
        (A, &["MGET", "b", "c"]),
        (W, &["SET", "a", "2"]),
        (W, &["SET", "a", "3"]),
        (W, &["MSET", "b", "1", "c", "2"]),
        (A, &["GET", "a"]),
        // Its own write: the invalidation follows the reply.
        (A, &["INCR", "a"]),
        (A, &["HSET", "h", "f", "v"]),
        (A, &["HGET", "h", "f"]),
        (A, &["HDEL", "h", "f"]),
        (A, &["GET", "a"]),
        (W, &["DEL", "a", "nokey"]),
        (A, &["GET", "a"]),
        (W, &["EXPIRE", "a", "100"]),
        (W, &["SET", "a", "v"]),
        (A, &["GET", "a"]),
        (W, &["EXPIRE", "a", "100"]),
        (A, &["GET", "a"]),
        (W, &["RENAME", "a", "z"]),
        (A, &["CLIENT", "TRACKINGINFO"]),
        (A, &["CLIENT", "GETREDIR"]),
        (A, &["CLIENT", "TRACKING", "off"]),
        (A, &["CLIENT", "TRACKINGINFO"]),
        (A, &["CLIENT", "GETREDIR"]),
    ]);
}

#[test]
fn transactions_flushes_and_blocked_clients() {
    differential_tracking(&[
        (A, &["CLIENT", "TRACKING", "on"]),
        (A, &["SET", "k", "1"]),
        (A, &["GET", "k"]),
        (A, &["MULTI"]),
        (A, &["GET", "k"]),
        (A, &["SET", "k", "2"]),
        (A, &["GET", "other"]),
        (A, &["EXEC"]),
        (W, &["SET", "other", "x"]),
        (A, &["GET", "k"]),
        (W, &["FLUSHDB"]),
        (A, &["GET", "k"]),
        (A, &["FLUSHALL"]),
        (W, &["FLUSHALL"]),
        (A, &["MULTI"]),
        (A, &["FLUSHDB"]),
        (A, &["EXEC"]),
        (W, &["RPUSH", "list", "a"]),
        (A, &["LRANGE", "list", "0", "-1"]),
        (W, &["LPOP", "list"]),
        (A, &["RESET"]),
        (A, &["CLIENT", "TRACKINGINFO"]),
    ]);
}

#[test]
fn redirection_to_a_resp2_subscriber_and_broken_redirection() {
    differential_tracking(&[
        (B, &["CLIENT", "TRACKING", "on", "REDIRECT", "$R"]),
        (A, &["CLIENT", "TRACKING", "on", "REDIRECT", "$R"]),
        (W, &["SET", "a", "1"]),
        (B, &["GET", "a"]),
        (A, &["GET", "a"]),
        (W, &["SET", "a", "2"]),
        (B, &["GET", "a"]),
        (B, &["SET", "a", "3"]),
        (B, &["GET", "a"]),
        (W, &["FLUSHALL"]),
        (B, &["CLIENT", "GETREDIR"]),
        (B, &["CLIENT", "TRACKINGINFO"]),
        (A, &["CLIENT", "TRACKING", "on", "REDIRECT", "1000000"]),
        (A, &["CLIENT", "TRACKING", "on", "REDIRECT", "x"]),
        (
            A,
            &[
                "CLIENT", "TRACKING", "on", "REDIRECT", "$R", "REDIRECT", "$R",
            ],
        ),
    ]);
}

#[test]
fn broadcast_mode_prefixes_and_noloop() {
    differential_tracking(&[
        (
            A,
            &[
                "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:", "PREFIX", "b:",
            ],
        ),
        (W, &["MSET", "a:1", "1", "b:1", "1", "c:1", "1"]),
        (W, &["SET", "a:2", "2"]),
        (A, &["SET", "b:9", "2"]),
        (A, &["CLIENT", "TRACKINGINFO"]),
        (A, &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c:"]),
        (W, &["SET", "c:2", "1"]),
        (A, &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a"]),
        (
            A,
            &[
                "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "d", "PREFIX", "dd",
            ],
        ),
        (A, &["CLIENT", "TRACKING", "on"]),
        (A, &["CLIENT", "TRACKING", "off"]),
        (A, &["CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"]),
        (A, &["SET", "mine", "1"]),
        (W, &["SET", "theirs", "1"]),
        (A, &["MSET", "mine", "2", "theirs", "2"]),
        (A, &["CLIENT", "TRACKINGINFO"]),
        (W, &["FLUSHDB"]),
    ]);
}

#[test]
fn optin_optout_caching_and_errors() {
    differential_tracking(&[
        (A, &["CLIENT", "CACHING", "yes"]),
        (A, &["CLIENT", "TRACKING", "on", "OPTIN"]),
        (A, &["GET", "x"]),
        (W, &["SET", "x", "1"]),
        (A, &["CLIENT", "CACHING", "yes"]),
        (A, &["CLIENT", "TRACKINGINFO"]),
        (A, &["GET", "x"]),
        (A, &["CLIENT", "TRACKINGINFO"]),
        (W, &["SET", "x", "2"]),
        (A, &["CLIENT", "CACHING", "no"]),
        (A, &["CLIENT", "CACHING", "maybe"]),
        (A, &["CLIENT", "TRACKING", "on", "OPTOUT"]),
        (A, &["CLIENT", "TRACKING", "off"]),
        (A, &["CLIENT", "TRACKING", "on", "OPTOUT"]),
        (A, &["CLIENT", "CACHING", "no"]),
        (A, &["GET", "x"]),
        (W, &["SET", "x", "3"]),
        (A, &["GET", "y"]),
        (W, &["SET", "y", "3"]),
        (A, &["CLIENT", "TRACKING", "off"]),
        (A, &["CLIENT", "TRACKING", "on", "PREFIX", "a"]),
        (A, &["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"]),
        (A, &["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"]),
        (A, &["CLIENT", "TRACKING", "on", "NOSUCH"]),
        (A, &["CLIENT", "TRACKING", "maybe"]),
        (A, &["CLIENT", "TRACKING", "on", "PREFIX"]),
    ]);
}

#[test]
fn noloop_and_expiry() {
    differential_tracking(&[
        (A, &["CLIENT", "TRACKING", "on", "NOLOOP"]),
        (A, &["SET", "k", "1"]),
        (A, &["GET", "k"]),
        (A, &["SET", "k", "2"]),
        (A, &["GET", "k"]),
        (W, &["SET", "k", "3"]),
        (A, &["CLIENT", "TRACKING", "on"]),
        (A, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]),
        (W, &["SET", "e", "1", "PX", "100"]),
        (A, &["GET", "e"]),
        (W, &["DEBUG", "SLEEP", "0.2"]),
        // Lazily expired by another client's read.
        (W, &["GET", "e"]),
        (A, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]),
    ]);
}

/// A script's reads make its caller track the keys the script declared
/// (not the keys its commands touched); a script that only writes, and
/// the read-only script commands themselves, track nothing.
#[test]
fn scripts_track_their_declared_keys() {
    differential_tracking(&[
        (A, &["CLIENT", "TRACKING", "on"]),
        (A, &["EVAL", "redis.call('set', 'k3', 'bar')", "2", "k1", "k2"]),
        (W, &["MSET", "k1", "1", "k2", "1", "k3", "1"]),
        (A, &["EVAL", "redis.call('get', 'k3')", "2", "k1", "k2"]),
        (W, &["MSET", "k1", "2", "k2", "2", "k3", "2"]),
        (A, &["EVAL_RO", "redis.call('ping')", "2", "k1", "k2"]),
        (W, &["MSET", "k1", "3", "k2", "3"]),
        (A, &["EVAL_RO", "redis.call('get', 'k1')", "1", "k2"]),
        (W, &["MSET", "k1", "4", "k2", "4"]),
        (A, &["FUNCTION", "LOAD", "#!lua name=t\nredis.register_function('rd', function(k) return redis.call('get', k[1]) end)"]),
        (A, &["FCALL_RO", "rd", "1", "k1"]),
        (W, &["SET", "k1", "5"]),
        (A, &["FUNCTION", "FLUSH"]),
    ]);
}

/// The INFO counters and CLIENT LIST flags follow the tracking state.
#[test]
fn info_and_client_list_show_tracking() {
    let server = Server::start();
    let mut a = server.connect();
    let mut b = server.connect();
    a.cmd(&["CLIENT", "TRACKING", "on"]);
    a.cmd(&["MGET", "k1", "k2"]);
    b.cmd(&[
        "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "p", "PREFIX", "q",
    ]);
    let info = a.cmd_str(&["INFO"]);
    for field in [
        "tracking_clients:2\r\n",
        "tracking_total_keys:2\r\n",
        "tracking_total_items:2\r\n",
        "tracking_total_prefixes:2\r\n",
    ] {
        assert!(info.contains(field), "INFO lacks {field:?}: {info}");
    }
    assert!(a.cmd_str(&["CLIENT", "INFO"]).contains(" flags=t "));
    assert!(b.cmd_str(&["CLIENT", "INFO"]).contains(" flags=tB "));
    let id = a.cmd_str(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim_end();
    b.cmd(&["CLIENT", "TRACKING", "off"]);
    b.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", id]);
    assert!(b
        .cmd_str(&["CLIENT", "INFO"])
        .contains(&format!(" redir={id} ")));
    drop(a);
    // The redirect target is gone: the next invalidation marks it broken.
    b.cmd(&["GET", "x"]);
    let mut w = server.connect();
    for _ in 0..50 {
        w.cmd(&["SET", "x", "1"]);
        b.cmd(&["GET", "x"]);
        if b.cmd_str(&["CLIENT", "INFO"]).contains(" flags=tR ") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(b.cmd_str(&["CLIENT", "INFO"]).contains(" flags=tR "));
    b.cmd(&["RESET"]);
    let info = w.cmd_str(&["INFO", "clients"]);
    assert!(info.contains("tracking_clients:0\r\n"), "{info}");
}

/// An evicted key is invalidated like a deleted one, and the client whose
/// command made room hears of it before that command's reply (Redis evicts
/// before it runs the command).
#[test]
fn evicted_keys_are_invalidated_before_the_reply() {
    let server = Server::start();
    let mut c = server.connect();
    c.cmd(&["HELLO", "3"]);
    c.cmd(&["CLIENT", "TRACKING", "on"]);
    let info = c.cmd_str(&["INFO", "memory"]);
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory");
    let limit = (used + 100 * 1024).to_string();
    c.cmd(&["CONFIG", "SET", "maxmemory", &limit]);
    c.cmd(&["CONFIG", "SET", "maxmemory-policy", "volatile-random"]);
    c.cmd(&["SETEX", "volatile-key", "10000", "x"]);
    c.cmd(&["GET", "volatile-key"]);
    // About 200 KB: over the limit once it is stored.
    c.cmd(&["SETBIT", "big-key", "1600000", "0"]);
    assert_eq!(
        c.cmd_str(&["GETBIT", "big-key", "0"]),
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$12\r\nvolatile-key\r\n"
    );
    assert_eq!(support::reply(&mut c), ":0\r\n");
    c.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
}
