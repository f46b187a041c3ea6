//! Client memory as CLIENT LIST and INFO show it, client eviction
//! (`maxmemory-clients`, CLIENT NO-EVICT) and MEMORY DOCTOR, against
//! redis-server where it runs (differential) and on reddish alone where the
//! two differ by design (allocation sizes).

mod support;

use std::time::{Duration, Instant};

use support::{Conn, Server};

/// The CLIENT LIST line of the client named `name`, as field → value.
fn client_fields(admin: &mut Conn, name: &str) -> Option<Vec<(String, String)>> {
    let list = admin.cmd_str(&["CLIENT", "LIST"]);
    let line = list
        .lines()
        .find(|l| l.contains(&format!(" name={name} ")))?
        .to_string();
    Some(
        line.split(' ')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn field(fields: &[(String, String)], name: &str) -> u64 {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric {name} in {fields:?}"))
}

fn info_field(conn: &mut Conn, section: &str, name: &str) -> u64 {
    conn.cmd_str(&["INFO", section])
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
}

/// Waits until `check` holds (the server reads what was sent on its own time).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A client named `name` that sent SET's name and key and `arrived` bytes
/// of a `declared`-byte value.
fn partial_set(server: &Server, name: &str, declared: usize, arrived: usize) -> Conn {
    let mut conn = server.connect();
    assert_eq!(conn.cmd_str(&["CLIENT", "SETNAME", name]), "+OK\r\n");
    let mut request = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${declared}\r\n").into_bytes();
    request.extend(std::iter::repeat_n(b'v', arrived));
    conn.send(&request);
    conn
}

/// The fields both servers agree on for a big argument still arriving:
/// `qbuf` is the bulk's bytes so far (its header consumed), `argv-mem` the
/// arguments before it, and `tot-mem` holds at least the query buffer,
/// sized for the whole bulk as soon as its header is read (so a client
/// sending one counts for `maxmemory-clients` before all of it is here).
#[test]
fn big_argument_arriving_shows_as_redis_shows_it() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let server = Server::start();
    for s in [&server, &oracle] {
        let mut admin = s.connect();
        let _sender = partial_set(s, "sender", 500_000, 50_000);
        eventually("the bulk's bytes read", || {
            client_fields(&mut admin, "sender").is_some_and(|f| field(&f, "qbuf") == 50_000)
        });
        let f = client_fields(&mut admin, "sender").expect("sender listed");
        assert_eq!(field(&f, "argv-mem"), 4, "{f:?}");
        assert!(field(&f, "tot-mem") >= 500_000, "{f:?}");
        assert_eq!(field(&f, "omem"), 0, "{f:?}");
        // An idle client's own CLIENT LIST: the command is its query
        // buffer and its arguments.
        let own = admin.cmd_str(&["CLIENT", "INFO"]);
        assert!(own.contains(" qbuf=26 "), "{own}");
        assert!(own.contains(" argv-mem=10 "), "{own}");
    }
}

/// MULTI's queued commands show in `multi-mem` and leave with EXEC.
#[test]
fn queued_commands_count_in_multi_mem() {
    let server = Server::start();
    let mut admin = server.connect();
    let mut tx = server.connect();
    assert_eq!(tx.cmd_str(&["CLIENT", "SETNAME", "tx"]), "+OK\r\n");
    assert_eq!(tx.cmd_str(&["MULTI"]), "+OK\r\n");
    let f = client_fields(&mut admin, "tx").expect("tx listed");
    assert_eq!(field(&f, "multi-mem"), 0);
    let value = "x".repeat(100_000);
    for _ in 0..3 {
        assert_eq!(tx.cmd_str(&["SET", "k", &value]), "+QUEUED\r\n");
    }
    let f = client_fields(&mut admin, "tx").expect("tx listed");
    assert_eq!(field(&f, "multi"), 3);
    let multi_mem = field(&f, "multi-mem");
    assert!(multi_mem >= 300_000, "{f:?}");
    assert!(field(&f, "tot-mem") >= multi_mem, "{f:?}");
    tx.cmd(&["EXEC"]);
    let f = client_fields(&mut admin, "tx").expect("tx listed");
    assert_eq!(field(&f, "multi-mem"), 0, "{f:?}");
    assert!(info_field(&mut admin, "memory", "mem_clients_normal") > 0);
}

/// A subscriber that does not read: its pending messages are `omem`, in
/// its `tot-mem`, in both servers.
#[test]
fn unread_messages_show_in_omem() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let server = Server::start();
    for s in [&server, &oracle] {
        let mut admin = s.connect();
        let mut sub = s.connect();
        assert_eq!(sub.cmd_str(&["CLIENT", "SETNAME", "sub"]), "+OK\r\n");
        sub.cmd(&["SUBSCRIBE", "ch"]);
        let message = "m".repeat(100_000);
        // Enough to fill the socket buffers on the way.
        for _ in 0..200 {
            admin.cmd(&["PUBLISH", "ch", &message]);
        }
        let f = client_fields(&mut admin, "sub").expect("sub listed");
        let omem = field(&f, "omem");
        assert!(omem > 100_000, "{f:?}");
        assert!(field(&f, "tot-mem") >= omem, "{f:?}");
        assert!(f.iter().any(|(k, v)| k == "flags" && v == "P"), "{f:?}");
    }
}

/// `client_recent_max_input_buffer` follows the biggest query buffer of
/// the last seconds (sampled once a second, as Redis's `clientsCron`).
#[test]
fn recent_max_input_buffer_sees_a_big_query_buffer() {
    let server = Server::start();
    let mut admin = server.connect();
    let _sender = partial_set(&server, "sender", 1_000_000, 500_000);
    eventually("the recent maximum input buffer", || {
        info_field(&mut admin, "clients", "client_recent_max_input_buffer") >= 500_000
    });
}

/// `maxmemory-clients`: the biggest client goes first, only as many as
/// needed, CLIENT NO-EVICT ones never; INFO counts them. (Redis sizes a
/// query buffer for the whole declared bulk at once, reddish in steps as
/// it arrives: the limit is between what the clients hold with and without
/// the big one on both.)
#[test]
fn the_biggest_evictable_client_is_evicted() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let server = Server::start();
    for s in [&server, &oracle] {
        let mut admin = s.connect();
        assert_eq!(admin.cmd_str(&["CLIENT", "NO-EVICT", "on"]), "+OK\r\n");
        let mut kept = s.connect();
        assert_eq!(kept.cmd_str(&["CLIENT", "NO-EVICT", "on"]), "+OK\r\n");
        assert_eq!(kept.cmd_str(&["CLIENT", "SETNAME", "kept"]), "+OK\r\n");
        kept.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$600000\r\n");
        kept.send(&[b'v'; 300_000]);
        let _small = partial_set(s, "small", 400_000, 200_000);
        let _big = partial_set(s, "big", 2_000_000, 1_000_000);
        for name in ["kept", "small", "big"] {
            eventually("the bulks read", || {
                client_fields(&mut admin, name).is_some_and(|f| field(&f, "qbuf") >= 200_000)
            });
        }
        assert_eq!(
            admin.cmd_str(&["CONFIG", "SET", "maxmemory-clients", "1500kb"]),
            "+OK\r\n"
        );
        eventually("the big client evicted", || {
            client_fields(&mut admin, "big").is_none()
        });
        assert!(client_fields(&mut admin, "small").is_some());
        assert!(client_fields(&mut admin, "kept").is_some());
        assert_eq!(info_field(&mut admin, "stats", "evicted_clients"), 1);
    }
}

/// A killed client's memory stops counting for `maxmemory` as it is killed,
/// before the next command's key eviction: Redis frees the client on the
/// spot (`freeClient`, from CLIENT KILL and from `evictClients`, which
/// `processCommand` runs before `performEvictions`). Ours freed its buffers
/// when its connection task next ran, after the batch that killed it (one
/// event loop here): a command in that batch found them still counted and
/// evicted every key (in unit/maxmemory "eviction due to output buffers of
/// many MGET clients, client eviction: true", a request already read ran
/// before the evicted clients' tasks and evicted keys that Redis keeps).
/// The kill, the new limit and a write arrive in one batch; against
/// redis-server, which evicts nothing either.
#[test]
fn a_killed_clients_memory_stops_counting_for_maxmemory_at_once() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let value = "v".repeat(10_000);
    for kill in [
        &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"][..],
        &["CONFIG", "SET", "maxmemory-clients", "1mb"],
    ] {
        let server = Server::start_with(&["--io-threads", "1"]);
        for s in [&server, &oracle] {
            let mut admin = s.connect();
            admin.cmd(&["FLUSHALL"]);
            admin.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
            admin.cmd(&["CONFIG", "SET", "maxmemory-clients", "0"]);
            admin.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
            assert_eq!(admin.cmd_str(&["CLIENT", "NO-EVICT", "on"]), "+OK\r\n");
            for i in 0..100 {
                admin.cmd(&["SET", &format!("k{i}"), &value]);
            }
            // A client holding 8 MB of a 16 MB value still arriving.
            let _big = partial_set(s, "big", 16 << 20, 8 << 20);
            eventually("the bulk read", || {
                client_fields(&mut admin, "big").is_some_and(|f| field(&f, "qbuf") >= 8 << 20)
            });
            let used = info_field(&mut admin, "memory", "used_memory");
            let limit = (used - (2 << 20)).to_string();
            let kill_args: Vec<&[u8]> = kill.iter().map(|a| a.as_bytes()).collect();
            let mut batch = support::request(&kill_args);
            batch.extend(support::request(&[
                b"CONFIG",
                b"SET",
                b"maxmemory",
                limit.as_bytes(),
            ]));
            batch.extend(support::request(&[b"SET", b"after", b"x"]));
            admin.send(&batch);
            let replies: Vec<String> = (0..3)
                .map(|_| String::from_utf8_lossy(&admin.read_reply()).into_owned())
                .collect();
            assert!(
                matches!(replies[0].as_str(), ":1\r\n" | "+OK\r\n"),
                "{replies:?}"
            );
            assert_eq!(replies[1..], ["+OK\r\n", "+OK\r\n"], "{kill:?}");
            assert_eq!(
                info_field(&mut admin, "stats", "evicted_keys"),
                0,
                "{kill:?}"
            );
            assert_eq!(admin.cmd_str(&["DBSIZE"]), ":101\r\n");
            assert!(client_fields(&mut admin, "big").is_none());
        }
    }
}

/// A pipeline of big replies the client does not read is evicted by
/// `maxmemory-clients` as it grows, before it takes memory to `maxmemory`:
/// Redis accounts a client after each command and evicts clients before
/// the next command's key eviction. Ours accounted a connection once its
/// batch had run, so the batch's replies were counted only in `used_memory`
/// and the GETs evicted keys, the big value among them.
#[test]
fn a_client_is_evicted_for_its_replies_before_keys_are() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let server = Server::start();
    let value = "v".repeat(100_000);
    for s in [&server, &oracle] {
        let mut admin = s.connect();
        assert_eq!(admin.cmd_str(&["CLIENT", "NO-EVICT", "on"]), "+OK\r\n");
        admin.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
        admin.cmd(&["SET", "big", &value]);
        for i in 0..20 {
            admin.cmd(&["SET", &format!("k{i}"), &value]);
        }
        let limit = info_field(&mut admin, "memory", "used_memory") + (4 << 20);
        admin.cmd(&["CONFIG", "SET", "maxmemory", &limit.to_string()]);
        admin.cmd(&["CONFIG", "SET", "maxmemory-clients", "1mb"]);
        // 20 MB of replies asked for in one write, none read.
        let mut reader = s.connect();
        let gets: Vec<u8> = (0..200)
            .flat_map(|_| support::request(&[b"GET", b"big"]))
            .collect();
        reader.send(&gets);
        eventually("the reader evicted", || {
            info_field(&mut admin, "stats", "evicted_clients") == 1
        });
        assert_eq!(info_field(&mut admin, "stats", "evicted_keys"), 0);
        assert_eq!(admin.cmd_str(&["DBSIZE"]), ":21\r\n");
    }
}

/// MEMORY DOCTOR on an empty instance: Redis's report, word for word.
#[test]
fn memory_doctor_on_an_empty_instance_reads_as_redis() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let server = Server::start();
    let ours = server.connect().cmd(&["MEMORY", "DOCTOR"]);
    let theirs = oracle.connect().cmd(&["MEMORY", "DOCTOR"]);
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
}

/// MEMORY DOCTOR with clients holding more than 200 KB each on average:
/// Redis's "Big client buffers" item, inside its report's frame.
#[test]
fn memory_doctor_reports_big_client_buffers() {
    let server = Server::start();
    let mut admin = server.connect();
    // Over 5 MB of data, so the doctor looks.
    let value = "d".repeat(1_000_000);
    for i in 0..6 {
        admin.cmd(&["SET", &format!("data:{i}"), &value]);
    }
    let _sender = partial_set(&server, "sender", 4_000_000, 2_000_000);
    eventually("the bulk read", || {
        client_fields(&mut admin, "sender").is_some_and(|f| field(&f, "qbuf") >= 2_000_000)
    });
    let report = String::from_utf8(admin.cmd(&["MEMORY", "DOCTOR"])).expect("text");
    assert!(
        report.contains("Sam, I detected a few issues in this Redis instance memory implants:"),
        "{report}"
    );
    assert!(
        report.contains(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average)."),
        "{report}"
    );
    assert!(
        report.contains("I'm here to keep you safe, Sam. I want to help you.\n"),
        "{report}"
    );
    assert!(!report.contains("Many scripts"), "{report}");
}

/// A client that reads its replies slowly: the bytes the socket already
/// took stay allocated in front of the rest of its reply buffer until the
/// buffer is moved or reallocated, and count in its memory (`tot-mem`, and
/// so `maxmemory-clients`) as they count in `used_memory`.
#[test]
fn replies_already_written_count_while_their_buffer_holds_them() {
    let server = Server::start();
    let mut admin = server.connect();
    admin.cmd(&["SET", "big", &"v".repeat(1 << 20)]);
    let before = info_field(&mut admin, "memory", "used_memory");
    let mut reader = server.connect();
    assert_eq!(reader.cmd_str(&["CLIENT", "SETNAME", "reader"]), "+OK\r\n");
    let settled = |admin: &mut Conn| {
        let mut last = 0;
        eventually("the reader's memory settled", || {
            std::thread::sleep(Duration::from_millis(200));
            let now = client_fields(admin, "reader")
                .filter(|f| field(f, "qbuf") == 0)
                .map_or(0, |f| field(&f, "tot-mem"));
            std::mem::replace(&mut last, now) == now && now > 0
        });
        last
    };
    // 48 MB of replies asked for in one write: the socket takes a few MB
    // of them, the rest waits in the reply buffer.
    let gets: Vec<u8> = (0..48)
        .flat_map(|_| support::request(&[b"GET", b"big"]))
        .collect();
    reader.send(&gets);
    settled(&mut admin);
    // It reads 8 of them: the server writes on from the same buffer
    // as the socket drains.
    for _ in 0..8 {
        assert_eq!(reader.read_reply().len(), (1 << 20) + 12);
    }
    let counted = settled(&mut admin);
    let grown = info_field(&mut admin, "memory", "used_memory") - before;
    assert!(
        counted as f64 >= grown as f64 * 0.95,
        "tot-mem {counted} while used_memory grew {grown}"
    );
    // 48 MB more: the buffer reallocates, and carries the written front
    // into its new allocation.
    reader.send(&gets);
    let counted = settled(&mut admin);
    let grown = info_field(&mut admin, "memory", "used_memory") - before;
    assert!(
        counted as f64 >= grown as f64 * 0.95,
        "after growing: tot-mem {counted} while used_memory grew {grown}"
    );
}
