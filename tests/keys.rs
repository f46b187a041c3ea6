//! Generic key commands (DEL ... OBJECT), compared with a real redis-server.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::{differential, request, Conn, Pair, Server};

/// Runs an array-of-bulks command (KEYS) on both; compares the elements as sets.
fn same_unordered(pair: &mut Pair, args: &[&str]) -> BTreeSet<Vec<u8>> {
    let want = bulks(&parse(&pair.want.cmd(args)));
    let got = bulks(&parse(&pair.got.cmd(args)));
    assert_eq!(got.len(), want.len(), "reply length to {args:?} differs");
    let (want, got): (BTreeSet<_>, BTreeSet<_>) =
        (want.into_iter().collect(), got.into_iter().collect());
    assert_eq!(got, want, "reply to {args:?} differs from redis-server");
    got
}

/// Fills the selected database of both with `n` string keys `<prefix><i>`.
fn fill_both(pair: &mut Pair, prefix: &str, n: usize) {
    fill(&mut pair.got, prefix, n);
    fill(&mut pair.want, prefix, n);
}

/// Pipelines `SET <prefix><i> <i>` for i in 0..n.
fn fill(conn: &mut Conn, prefix: &str, n: usize) {
    let mut batch = Vec::new();
    for i in 0..n {
        let key = format!("{prefix}{i}");
        batch.extend(request(&[b"SET", key.as_bytes(), i.to_string().as_bytes()]));
    }
    conn.send(&batch);
    for _ in 0..n {
        assert_eq!(conn.read_reply(), b"+OK\r\n");
    }
}

/// A parsed RESP2 reply of bulk strings and arrays (KEYS, SCAN).
#[derive(Debug)]
enum Resp {
    Bulk(Vec<u8>),
    Array(Vec<Resp>),
}

fn parse(bytes: &[u8]) -> Resp {
    fn line(bytes: &[u8], pos: &mut usize) -> Vec<u8> {
        let start = *pos;
        while bytes[*pos] != b'\r' {
            *pos += 1;
        }
        *pos += 2;
        bytes[start..*pos - 2].to_vec()
    }
    fn one(bytes: &[u8], pos: &mut usize) -> Resp {
        let l = line(bytes, pos);
        let n: i64 = String::from_utf8_lossy(&l[1..]).parse().unwrap_or(-1);
        match l[0] {
            b'$' if n >= 0 => {
                let data = bytes[*pos..*pos + n as usize].to_vec();
                *pos += n as usize + 2;
                Resp::Bulk(data)
            }
            b'*' if n >= 0 => Resp::Array((0..n).map(|_| one(bytes, pos)).collect()),
            _ => panic!("unexpected reply {:?}", String::from_utf8_lossy(&l)),
        }
    }
    one(bytes, &mut 0)
}

fn bulks(r: &Resp) -> Vec<Vec<u8>> {
    match r {
        Resp::Array(items) => items
            .iter()
            .map(|i| match i {
                Resp::Bulk(b) => b.clone(),
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

/// One SCAN step: (next cursor, keys).
fn scan_step(conn: &mut Conn, cursor: &str, options: &[&str]) -> (String, Vec<Vec<u8>>) {
    let mut args = vec!["SCAN", cursor];
    args.extend_from_slice(options);
    collection_scan_step(conn, &args)
}

/// One step of any SCAN-family command given in full (`args`, cursor
/// included): (next cursor, elements). Every cursor must fit a signed 64-bit
/// number: Go, Java and the Prometheus exporter parse it as one.
fn collection_scan_step(conn: &mut Conn, args: &[&str]) -> (String, Vec<Vec<u8>>) {
    match parse(&conn.cmd(args)) {
        Resp::Array(parts) => match &parts[..] {
            [Resp::Bulk(c), items] => {
                let cursor = String::from_utf8_lossy(c).into_owned();
                assert!(
                    cursor.parse::<i64>().is_ok_and(|c| c >= 0),
                    "{args:?}: cursor {cursor} is not a non-negative i64"
                );
                (cursor, bulks(items))
            }
            other => panic!("bad reply to {args:?}: {other:?}"),
        },
        other => panic!("bad reply to {args:?}: {other:?}"),
    }
}

/// A whole SCAN walk; `between` runs after every step. Panics if it does not end.
fn scan_all(conn: &mut Conn, options: &[&str], mut between: impl FnMut(&mut Conn)) -> Vec<Vec<u8>> {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    for _ in 0..100_000 {
        let (next, mut step) = scan_step(conn, &cursor, options);
        keys.append(&mut step);
        if next == "0" {
            return keys;
        }
        cursor = next;
        between(conn);
    }
    panic!("SCAN did not return cursor 0");
}

fn set_of(keys: Vec<Vec<u8>>) -> BTreeSet<Vec<u8>> {
    keys.into_iter().collect()
}

#[test]
fn del_unlink_exists_touch_match_redis() {
    differential(&[
        &["SET", "a", "1"],
        &["SET", "b", "2"],
        &["SET", "c", "3"],
        &["EXISTS", "a"],
        &["EXISTS", "a", "a", "b", "nope"],
        &["TOUCH", "a", "b", "b", "nope"],
        &["DEL", "a", "nope", "a"],
        &["EXISTS", "a"],
        &["UNLINK", "b", "c", "nope"],
        &["DEL", "nope"],
        &["EXISTS", "a", "b", "c"],
        &["DEL"],
        &["UNLINK"],
        &["EXISTS"],
        &["TOUCH"],
    ]);
}

#[test]
fn type_and_ttl_family_match_redis() {
    differential(&[
        &["TYPE", "k"],
        &["SET", "k", "v"],
        &["TYPE", "k"],
        &["TTL", "k"],
        &["PTTL", "k"],
        &["EXPIRETIME", "k"],
        &["PEXPIRETIME", "k"],
        &["TTL", "missing"],
        &["PTTL", "missing"],
        &["EXPIRETIME", "missing"],
        &["PEXPIRETIME", "missing"],
        &["EXPIRE", "k", "100"],
        &["TTL", "k"],
        &["PEXPIREAT", "k", "4000000000123"],
        &["EXPIRETIME", "k"],
        &["PEXPIRETIME", "k"],
        &["EXPIREAT", "k", "4000000000"],
        &["PEXPIRETIME", "k"],
        &["PERSIST", "k"],
        &["PERSIST", "k"],
        &["PERSIST", "missing"],
        &["TTL", "k"],
        &["TYPE"],
        &["TTL", "a", "b"],
    ]);
}

#[test]
fn expire_options_and_errors_match_redis() {
    differential(&[
        &["SET", "k", "v"],
        &["EXPIRE", "k", "100", "NX", "XX"],
        &["EXPIRE", "k", "100", "nx", "gt"],
        &["EXPIRE", "k", "100", "NX", "LT"],
        &["EXPIRE", "k", "100", "GT", "LT"],
        &["EXPIRE", "k", "100", "foo"],
        &["EXPIRE", "k", "100", "nx", "bad\r\nopt"],
        &["EXPIRE", "k", "100", "bad\0opt"],
        &["EXPIRE", "k", "abc"],
        &["EXPIRE", "k", "abc", "foo"],
        &["EXPIRE", "k", "1.5"],
        &["EXPIRE", "missing", "abc"],
        &["EXPIRE", "missing", "10", "bad"],
        &["EXPIRE", "missing", "10"],
        // Overflow: by the unit conversion, then by adding the base time.
        &["EXPIRE", "k", "9223372036854775807"],
        &["EXPIRE", "k", "9223372036854775"],
        &["EXPIRE", "k", "-9223372036854776"],
        &["PEXPIRE", "k", "9223372036854775807"],
        &["EXPIREAT", "k", "9223372036854775807"],
        // The largest expiry is accepted, and its rounding does not overflow.
        &["PEXPIREAT", "k", "9223372036854775807"],
        &["EXPIRETIME", "k"],
        &["PEXPIRETIME", "k"],
        &["TTL", "k"],
        &["PEXPIREAT", "k", "9223372036854775308"],
        &["EXPIRETIME", "k"],
        // XX and GT need an existing TTL; NX needs none; LT treats none as infinite.
        &["EXPIREAT", "k", "4000000000", "XX"],
        &["EXPIREAT", "k", "4000000000", "GT"],
        &["EXPIREAT", "k", "4000000000", "LT"],
        &["EXPIRETIME", "k"],
        &["EXPIREAT", "k", "3000000000", "NX"],
        &["EXPIREAT", "k", "4500000000", "xx", "lt"],
        &["EXPIREAT", "k", "4000000000", "LT"],
        &["EXPIREAT", "k", "3500000000", "LT"],
        &["EXPIREAT", "k", "3500000000", "GT"],
        &["EXPIREAT", "k", "3600000000", "GT", "XX"],
        &["EXPIRETIME", "k"],
        &["PEXPIREAT", "k", "3600000000001", "GT"],
        &["PEXPIRETIME", "k"],
        &["EXPIRE", "k", "100", "NX"],
        &["PERSIST", "k"],
        &["EXPIRE", "k", "100", "XX"],
        &["EXPIRE", "k", "100", "GT"],
        &["TTL", "k"],
        &["EXPIRE", "k", "100"],
        &["PEXPIRE", "k", "200000", "gt"],
        &["TTL", "k"],
        &["EXPIRE", "k"],
        &["EXPIREAT", "k"],
    ]);
}

#[test]
fn expire_in_the_past_deletes_the_key() {
    differential(&[
        &["SET", "a", "1"],
        &["EXPIRE", "a", "-1"],
        &["EXISTS", "a"],
        &["SET", "b", "1"],
        &["PEXPIRE", "b", "0"],
        &["TTL", "b"],
        &["SET", "c", "1"],
        &["EXPIREAT", "c", "1"],
        &["GET", "c"],
        &["SET", "d", "1"],
        &["PEXPIREAT", "d", "-9223372036854775808"],
        &["EXISTS", "d"],
        &["SET", "e", "1"],
        &["EXPIRE", "e", "-100", "LT"],
        &["EXISTS", "e"],
        &["SET", "f", "1"],
        &["EXPIRE", "f", "-100", "GT"],
        &["EXISTS", "f"],
    ]);
}

#[test]
fn keys_expire_after_a_few_milliseconds() {
    let Some(mut pair) = Pair::new() else { return };
    pair.run(&[
        &["SET", "short", "v"],
        &["SET", "long", "v"],
        &["SET", "plain", "v"],
        &["PEXPIRE", "short", "5"],
        &["PEXPIRE", "long", "100000"],
    ]);
    std::thread::sleep(Duration::from_millis(30));
    pair.run(&[
        &["EXISTS", "short", "long", "plain"],
        &["TTL", "short"],
        &["PTTL", "short"],
        &["TYPE", "short"],
        &["OBJECT", "ENCODING", "short"],
        &["EXPIRE", "short", "10"],
        &["PERSIST", "short"],
        &["RENAME", "short", "x"],
        &["COPY", "short", "x"],
        &["MOVE", "short", "1"],
        &["DEL", "short"],
        &["TTL", "long"],
    ]);
    same_unordered(&mut pair, &["KEYS", "*"]);
    let ours = set_of(scan_all(&mut pair.got, &[], |_| {}));
    assert_eq!(ours, set_of(vec![b"long".to_vec(), b"plain".to_vec()]));

    // Only expired keys left: RANDOMKEY finds none.
    pair.run(&[
        &["SELECT", "2"],
        &["SET", "a", "1"],
        &["SET", "b", "2"],
        &["PEXPIRE", "a", "5"],
        &["PEXPIRE", "b", "5"],
    ]);
    std::thread::sleep(Duration::from_millis(30));
    pair.run(&[&["RANDOMKEY"], &["KEYS", "*"], &["SCAN", "0"]]);
}

#[test]
fn pttl_counts_down() {
    let server = Server::start();
    let mut c = server.connect();
    c.cmd(&["SET", "k", "v"]);
    c.cmd(&["PEXPIRE", "k", "100000"]);
    let pttl: i64 = String::from_utf8_lossy(&c.cmd(&["PTTL", "k"]))
        .trim_start_matches(':')
        .trim()
        .parse()
        .expect("integer reply");
    assert!((99_000..=100_000).contains(&pttl), "PTTL {pttl}");
}

#[test]
fn rename_and_renamenx_match_redis() {
    differential(&[
        &["RENAME", "missing", "x"],
        &["RENAMENX", "missing", "x"],
        &["RENAME", "missing", "missing"],
        &["SET", "a", "1"],
        &["RENAME", "a", "a"],
        &["RENAMENX", "a", "a"],
        &["EXPIREAT", "a", "4000000000"],
        &["RENAME", "a", "b"],
        &["EXISTS", "a"],
        &["GET", "b"],
        &["EXPIRETIME", "b"],
        &["SET", "c", "3"],
        &["RENAMENX", "b", "c"],
        &["RENAMENX", "b", "d"],
        &["EXPIRETIME", "d"],
        // Renaming onto a key replaces it, TTL included.
        &["EXPIREAT", "c", "3000000000"],
        &["SET", "e", "5"],
        &["RENAME", "e", "c"],
        &["GET", "c"],
        &["TTL", "c"],
        &["RENAME", "d", "c"],
        &["EXPIRETIME", "c"],
        &["RENAME", "a"],
    ]);
}

#[test]
fn move_matches_redis() {
    differential(&[
        &["SET", "k", "v"],
        &["MOVE", "k", "0"],
        &["MOVE", "k", "x"],
        &["MOVE", "k", "16"],
        &["MOVE", "k", "-1"],
        &["MOVE", "k", "99999999999"],
        &["MOVE", "missing", "1"],
        &["MOVE", "missing", "99"],
        &["EXPIREAT", "k", "4000000000"],
        &["MOVE", "k", "1"],
        &["EXISTS", "k"],
        &["SET", "k", "again"],
        &["MOVE", "k", "1"],
        &["SELECT", "1"],
        &["GET", "k"],
        &["EXPIRETIME", "k"],
        &["MOVE", "k", "0"],
        &["SELECT", "0"],
        &["MOVE", "k"],
    ]);
}

#[test]
fn copy_matches_redis() {
    let long = "x".repeat(60);
    differential(&[
        &["SET", "k", "v"],
        &["COPY", "k", "k"],
        &["COPY", "k", "k", "DB", "0"],
        &["COPY", "k", "k2", "DB"],
        &["COPY", "k", "k2", "DB", "x"],
        &["COPY", "k", "k2", "DB", "16"],
        &["COPY", "k", "k2", "DB", "-1"],
        &["COPY", "k", "k2", "DB", "99999999999"],
        &["COPY", "k", "k2", "REPLACE", "foo"],
        &["COPY", "k", "k2", "foo", "DB", "99"],
        &["COPY", "missing", "k2", "DB", "99"],
        &["COPY", "missing", "k2"],
        &["COPY", "k", "k", "DB", "1"],
        &["SELECT", "1"],
        &["GET", "k"],
        &["SELECT", "0"],
        &["EXPIREAT", "k", "4000000000"],
        &["COPY", "k", "k2"],
        &["EXPIRETIME", "k2"],
        &["SET", "k", "new"],
        &["COPY", "k", "k2"],
        &["GET", "k2"],
        &["COPY", "k", "k2", "replace"],
        &["GET", "k2"],
        &["TTL", "k2"],
        &["COPY", "k", "k3", "DB", "1", "DB", "2"],
        &["SELECT", "2"],
        &["GET", "k3"],
        &["SELECT", "1"],
        &["EXISTS", "k3"],
        &["SELECT", "0"],
        // The copy keeps the encoding.
        &["SET", "raw", &long],
        &["COPY", "raw", "raw2"],
        &["OBJECT", "ENCODING", "raw2"],
        &["SET", "emb", "hello"],
        &["COPY", "emb", "emb2"],
        &["OBJECT", "ENCODING", "emb2"],
        &["SET", "int", "123456"],
        &["COPY", "int", "int2"],
        &["OBJECT", "ENCODING", "int2"],
        &["COPY", "k"],
    ]);
}

#[test]
fn swapdb_matches_redis() {
    differential(&[
        &["SWAPDB", "a", "b"],
        &["SWAPDB", "0", "b"],
        &["SWAPDB", "0", "99"],
        &["SWAPDB", "-1", "0"],
        &["SWAPDB", "99999999999", "0"],
        &["SWAPDB", "0", "99999999999"],
        &["SWAPDB", "0", "0"],
        &["SET", "in0", "zero"],
        &["EXPIREAT", "in0", "4000000000"],
        &["SELECT", "1"],
        &["SET", "in1", "one"],
        &["SET", "other", "x"],
        &["SWAPDB", "0", "1"],
        &["KEYS", "*"],
        &["EXPIRETIME", "in0"],
        &["DBSIZE"],
        &["SELECT", "0"],
        &["DBSIZE"],
        &["SWAPDB", "1", "0"],
        &["GET", "in1"],
        &["SWAPDB", "0"],
    ]);
}

#[test]
fn keys_patterns_match_redis() {
    let Some(mut pair) = Pair::new() else { return };
    pair.run(&[&["KEYS", "*"], &["KEYS", ""]]);
    for k in [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "a*b", "", "h\nllo",
    ] {
        pair.check(&["SET", k, "v"]);
    }
    fill_both(&mut pair, "n:", 50);
    for pattern in [
        "*",
        "h?llo",
        "h*llo",
        "h[ae]llo",
        "h[^e]llo",
        "h[a-b]llo",
        "a\\*b",
        "",
        "n:1*",
        "n:?",
        "*llo",
        "nomatch",
        "[",
        "h\nllo",
    ] {
        same_unordered(&mut pair, &["KEYS", pattern]);
    }
    pair.run(&[&["KEYS"], &["KEYS", "a", "b"]]);
}

#[test]
fn scan_errors_match_redis() {
    differential(&[
        &["SET", "k", "v"],
        &["SCAN", "x"],
        &["SCAN", "-"],
        &["SCAN", "+"],
        &["SCAN", " 1"],
        &["SCAN", "1 "],
        &["SCAN", "0x1"],
        &["SCAN", "18446744073709551616"],
        &["SCAN", "0", "COUNT", "0"],
        &["SCAN", "0", "COUNT", "-1"],
        &["SCAN", "0", "COUNT", "abc"],
        &["SCAN", "0", "COUNT", "99999999999999999999"],
        &["SCAN", "0", "COUNT"],
        &["SCAN", "0", "MATCH"],
        &["SCAN", "0", "TYPE"],
        &["SCAN", "0", "COUNT", "1", "extra"],
        &["SCAN", "0", "foo", "bar"],
        &["SCAN", "x", "COUNT", "0"],
        &["SCAN", "0", "COUNT", "0", "foo"],
        &["SCAN", "0", "MATCH", "*", "COUNT", "10", "TYPE", "string"],
        &["SCAN", "0", "TYPE", "foo"],
        &["SCAN", "0", "TYPE", "list"],
        &["SCAN", "0", "TYPE", "STRING"],
        &["SCAN", "0", "TYPE", "string\0junk"],
        &["SCAN", "0\0junk"],
        &["SCAN", "-0"],
        &["SCAN", "+0", "COUNT", "5"],
        &["SCAN", "0", "MATCH", "nomatch"],
        &["SCAN"],
    ]);
}

#[test]
fn scan_walks_return_what_redis_returns() {
    let Some(mut pair) = Pair::new() else { return };
    pair.run(&[&["SCAN", "0"], &["SCAN", "", "COUNT", "5"]]);
    fill_both(&mut pair, "key:", 300);
    fill_both(&mut pair, "other:", 40);
    for options in [
        &[][..],
        &["COUNT", "1"],
        &["COUNT", "7"],
        &["COUNT", "1000"],
        &["MATCH", "key:1*"],
        &["MATCH", "other:*", "COUNT", "3"],
        &["TYPE", "string", "COUNT", "50"],
        &["TYPE", "hash"],
        &["MATCH", "*"],
    ] {
        let want = set_of(scan_all(&mut pair.want, options, |_| {}));
        let got = scan_all(&mut pair.got, options, |_| {});
        let n = got.len();
        let got = set_of(got);
        assert_eq!(
            n,
            got.len(),
            "SCAN {options:?} repeated keys without changes"
        );
        assert_eq!(got, want, "SCAN {options:?} differs from redis-server");
    }
    // A step honours COUNT closely enough to be useful, and everything fits in one big step.
    let (_, step) = scan_step(&mut pair.got, "0", &["COUNT", "20"]);
    assert!(
        (1..=40).contains(&step.len()),
        "{} keys for COUNT 20",
        step.len()
    );
    let (cursor, step) = scan_step(&mut pair.got, "0", &["COUNT", "100000"]);
    assert_eq!((cursor.as_str(), step.len()), ("0", 340));
}

#[test]
fn scan_returns_every_key_present_throughout_while_the_db_grows() {
    let server = Server::start();
    let mut c = server.connect();
    fill(&mut c, "orig:", 2000);
    let mut added = 0;
    let mut deleted = 0;
    let seen = scan_all(&mut c, &["COUNT", "10"], |c| {
        // Grow a lot between steps (tables resize), and churn some other keys.
        fill(c, &format!("new{added}:"), 40);
        added += 1;
        if deleted < 500 {
            c.cmd(&["DEL", &format!("new{}:0", deleted)]);
            deleted += 1;
        }
    });
    let seen = set_of(seen);
    for i in 0..2000 {
        assert!(
            seen.contains(format!("orig:{i}").as_bytes()),
            "orig:{i} was never returned"
        );
    }
    assert!(added > 100, "the scan took only {added} steps");
}

#[test]
fn scan_cursors_stay_small_while_many_keys_are_added() {
    let server = Server::start();
    let mut c = server.connect();
    fill(&mut c, "orig:", 30_000);
    let mut writer = server.connect();
    let (mut cursor, mut seen, mut largest, mut added) = ("0".to_string(), BTreeSet::new(), 0, 0);
    loop {
        let (next, keys) = scan_step(&mut c, &cursor, &["COUNT", "10"]);
        seen.extend(keys);
        largest = largest.max(next.parse::<u64>().unwrap_or(u64::MAX));
        if next == "0" {
            break;
        }
        cursor = next;
        if added < 1_000 {
            fill(&mut writer, &format!("new{added}:"), 30);
            added += 1;
        }
    }
    for i in 0..30_000 {
        assert!(
            seen.contains(format!("orig:{i}").as_bytes()),
            "orig:{i} missed"
        );
    }
    assert_eq!(added, 1_000, "the scan ended early");
    // Redis's cursors over the 65536 buckets of 60,000 keys stay below 2^16;
    // ours name a shard (8 bits) and a place among its few hundred keys
    // (17 bits at most in practice; the margin is for rare close hashes).
    assert!(largest < 1 << 24, "largest cursor {largest}");
}

#[test]
fn collection_scans_of_hashtable_encodings_have_short_cursors() {
    let server = Server::start();
    let mut c = server.connect();
    let members: Vec<String> = (0..2_000).map(|i| format!("member:{i}")).collect();
    let mut sadd = vec!["SADD", "s"];
    let mut hset = vec!["HSET", "h"];
    let mut zadd = vec!["ZADD", "z"];
    for (i, m) in members.iter().enumerate() {
        sadd.push(m);
        hset.extend([m.as_str(), "v"]);
        zadd.extend([if i % 2 == 0 { "1" } else { "2" }, m.as_str()]);
    }
    for args in [&sadd, &hset, &zadd] {
        assert_eq!(c.cmd_str(args), ":2000\r\n");
    }
    for (command, key, stride, encoding) in [
        ("SSCAN", "s", 1, "hashtable"),
        ("HSCAN", "h", 2, "hashtable"),
        ("ZSCAN", "z", 2, "skiplist"),
    ] {
        let got = c.cmd_str(&["OBJECT", "ENCODING", key]);
        assert!(got.contains(encoding), "{key}: {got}");
        let (mut cursor, mut seen) = ("0".to_string(), BTreeSet::new());
        loop {
            let (next, items) =
                collection_scan_step(&mut c, &[command, key, &cursor, "COUNT", "7"]);
            seen.extend(items.into_iter().step_by(stride));
            if next == "0" {
                break;
            }
            cursor = next;
        }
        assert_eq!(seen.len(), 2_000, "{command}");
    }
}

#[test]
fn randomkey_matches_redis() {
    differential(&[
        &["RANDOMKEY"],
        &["SET", "only", "v"],
        &["RANDOMKEY"],
        &["RANDOMKEY"],
        &["DEL", "only"],
        &["RANDOMKEY"],
        &["RANDOMKEY", "x"],
    ]);
}

#[test]
fn randomkey_reaches_every_key() {
    let server = Server::start();
    let mut c = server.connect();
    fill(&mut c, "r", 5);
    let mut seen = BTreeSet::new();
    for _ in 0..500 {
        seen.insert(c.cmd(&["RANDOMKEY"]));
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
}

#[test]
fn object_matches_redis() {
    let long = "y".repeat(45);
    differential(&[
        &["OBJECT", "HELP"],
        &["object", "help"],
        &["OBJECT", "ENCODING", "missing"],
        &["OBJECT", "REFCOUNT", "missing"],
        &["OBJECT", "IDLETIME", "missing"],
        &["OBJECT", "FREQ", "missing"],
        &["SET", "int", "42"],
        &["SET", "bigint", "123456"],
        &["SET", "neg", "-5"],
        &["SET", "emb", "hello"],
        &["SET", "raw", &long],
        &["SET", "notint", "0042"],
        &["OBJECT", "ENCODING", "int"],
        &["OBJECT", "ENCODING", "bigint"],
        &["OBJECT", "ENCODING", "neg"],
        &["OBJECT", "ENCODING", "emb"],
        &["OBJECT", "ENCODING", "raw"],
        &["OBJECT", "ENCODING", "notint"],
        &["OBJECT", "REFCOUNT", "int"],
        &["OBJECT", "REFCOUNT", "bigint"],
        &["OBJECT", "REFCOUNT", "neg"],
        &["OBJECT", "REFCOUNT", "emb"],
        &["OBJECT", "IDLETIME", "emb"],
        &["OBJECT", "FREQ", "emb"],
        &["OBJECT", "ENCODING"],
        &["OBJECT", "ENCODING", "a", "b"],
        &["OBJECT", "HELP", "extra"],
        &["OBJECT", "FOO"],
        &["OBJECT"],
    ]);
}

#[test]
fn idletime_counts_only_touching_lookups() {
    let server = Server::start();
    let mut c = server.connect();
    c.cmd(&["SET", "k", "hello"]);
    c.cmd(&["SET", "other", "hello"]);
    std::thread::sleep(Duration::from_millis(1100));
    // Lookups that Redis flags LOOKUP_NOTOUCH leave the access time alone.
    for args in [
        &["TYPE", "k"][..],
        &["TTL", "k"],
        &["EXISTS", "k"],
        &["OBJECT", "ENCODING", "k"],
        &["EXPIRETIME", "k"],
    ] {
        c.cmd(args);
    }
    // Idle time has a one-second resolution: 1.1 s later it reads 1 or 2.
    let idle = |c: &mut support::Conn, key: &str| c.cmd_str(&["OBJECT", "IDLETIME", key]);
    let idle_k = idle(&mut c, "k");
    assert!(idle_k == ":1\r\n" || idle_k == ":2\r\n", "{idle_k}");
    // TOUCH resets it (retried in case the clock ticks a second in between).
    let touched = (0..3).any(|_| {
        c.cmd(&["TOUCH", "k"]);
        c.cmd_str(&["OBJECT", "IDLETIME", "k"]) == ":0\r\n"
    });
    assert!(touched, "TOUCH did not reset the idle time");
    let idle_other = idle(&mut c, "other");
    assert!(
        idle_other == ":1\r\n" || idle_other == ":2\r\n",
        "{idle_other}"
    );
}

/// Active expiry frees keys nobody touches: DBSIZE (which does not expire
/// keys itself) drops to the persistent keys, and INFO counts the expired ones.
#[test]
fn active_expiry_reclaims_untouched_keys() {
    let server = Server::start();
    let mut conn = server.connect();
    for i in 0..200 {
        assert_eq!(
            conn.cmd_str(&["SET", &format!("v{i}"), "x", "PX", "20"]),
            "+OK\r\n"
        );
    }
    conn.cmd(&["SET", "keep", "x"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if conn.cmd_str(&["DBSIZE"]) == ":1\r\n" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expired keys were not reclaimed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let info = conn.cmd_str(&["INFO", "stats"]);
    assert!(info.contains("expired_keys:200\r\n"), "{info}");
    let keyspace = conn.cmd_str(&["INFO", "keyspace"]);
    assert!(
        keyspace.contains("db0:keys=1,expires=0,avg_ttl=0"),
        "{keyspace}"
    );
}

/// Keys are held inline up to 22 bytes and on the heap beyond, short strings
/// inline up to the embstr limit (44 bytes): both sides of each boundary, and
/// a key moving across kinds of storage by RENAME and MOVE, keep their bytes,
/// their TTL and their encoding.
#[test]
fn keys_and_values_on_both_sides_of_the_inline_limits() {
    let (k22, k23) = ("k".repeat(22), "k".repeat(23));
    let (v44, v45) = ("v".repeat(44), "v".repeat(45));
    let long = format!("{k23}{k23}{k23}");
    let mut script: Vec<Vec<&str>> = Vec::new();
    for key in ["", "a", k22.as_str(), k23.as_str(), long.as_str()] {
        for value in ["", "7", "x", v44.as_str(), v45.as_str()] {
            script.extend([
                vec!["SET", key, value],
                vec!["GET", key],
                vec!["STRLEN", key],
                vec!["OBJECT", "ENCODING", key],
                vec!["EXISTS", key],
            ]);
        }
        script.extend([
            vec!["APPEND", key, "!"],
            vec!["GET", key],
            vec!["OBJECT", "ENCODING", key],
            vec!["EXPIRE", key, "100"],
            vec!["TTL", key],
            vec!["PERSIST", key],
            vec!["TTL", key],
            vec!["PEXPIREAT", key, "1"],
            vec!["EXISTS", key],
        ]);
    }
    script.extend([
        vec!["SET", &k22, &v44, "EX", "100"],
        vec!["RENAME", &k22, &long],
        vec!["TTL", &long],
        vec!["GET", &long],
        vec!["RENAME", &long, "b"],
        vec!["MOVE", "b", "1"],
        vec!["SELECT", "1"],
        vec!["TTL", "b"],
        vec!["GET", "b"],
        vec!["RANDOMKEY"],
        vec!["SCAN", "0"],
        vec!["DBSIZE"],
    ]);
    let script: Vec<&[&str]> = script.iter().map(Vec::as_slice).collect();
    differential(&script);
}

/// Sends `commands` in one pipeline; returns their replies as text.
fn pipeline(conn: &mut Conn, commands: &[Vec<String>]) -> Vec<String> {
    let mut batch = Vec::new();
    for args in commands {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        batch.extend(request(&args));
    }
    conn.send(&batch);
    (0..commands.len())
        .map(|_| String::from_utf8_lossy(&conn.read_reply()).into_owned())
        .collect()
}

/// Checks every key's PEXPIRETIME against `want` (key -> -2 missing, -1
/// no TTL, else the time) and INFO's count of volatile keys.
fn check_expiry_times(conn: &mut Conn, want: &std::collections::BTreeMap<String, i64>, when: &str) {
    let commands: Vec<Vec<String>> = want
        .keys()
        .map(|k| vec!["PEXPIRETIME".to_string(), k.clone()])
        .collect();
    let got = pipeline(conn, &commands);
    for ((key, want), got) in want.iter().zip(got) {
        assert_eq!(got, format!(":{want}\r\n"), "{key} {when}");
    }
    let volatile = want.values().filter(|&&t| t >= 0).count();
    let info = conn.cmd_str(&["INFO", "keyspace"]);
    let keys = want.values().filter(|&&t| t != -2).count();
    assert!(
        info.contains(&format!("db0:keys={keys},expires={volatile},")),
        "{when}: {info}"
    );
}

/// A key's TTL is kept apart from its slot, and removing a key moves its
/// shard's last slot into the hole: TTLs must follow their keys through
/// deletions (the moved slot having a TTL or not), PERSIST, RENAME, COPY,
/// MOVE, a reload and active expiry, which removes exactly the expired keys
/// without any being touched.
#[test]
fn ttls_follow_their_keys_as_slots_move() {
    let server = Server::start_with(&["--enable-debug-command", "yes"]);
    let mut conn = server.connect();
    conn.set_read_timeout(Duration::from_secs(60));
    let far = 4_000_000_000_000i64;
    let key = |i: usize| format!("k:{i}");
    let mut want = std::collections::BTreeMap::new();
    let mut commands = Vec::new();
    for i in 0..3000 {
        commands.push(vec!["SET".into(), key(i), i.to_string()]);
        want.insert(key(i), -1);
        if i % 3 == 0 {
            let at = far + i as i64;
            commands.push(vec!["PEXPIREAT".into(), key(i), at.to_string()]);
            want.insert(key(i), at);
        }
    }
    pipeline(&mut conn, &commands);
    check_expiry_times(&mut conn, &want, "after loading");

    // Deletions from the top down and the bottom up, PERSIST and new TTLs.
    let mut commands = Vec::new();
    for i in (0..3000).rev().filter(|i| i % 5 == 0) {
        commands.push(vec!["DEL".into(), key(i)]);
        want.insert(key(i), -2);
    }
    for i in (0..3000).filter(|i| i % 7 == 0) {
        commands.push(vec!["PERSIST".into(), key(i)]);
        if want[&key(i)] >= 0 {
            want.insert(key(i), -1);
        }
    }
    for i in (0..3000).filter(|i| i % 11 == 0) {
        let at = far + 1_000_000 + i as i64;
        commands.push(vec!["PEXPIREAT".into(), key(i), at.to_string()]);
        if want[&key(i)] != -2 {
            want.insert(key(i), at);
        }
    }
    for i in (0..3000).filter(|i| i % 13 == 1) {
        commands.push(vec!["UNLINK".into(), key(i)]);
        want.insert(key(i), -2);
    }
    pipeline(&mut conn, &commands);
    check_expiry_times(&mut conn, &want, "after deletions");

    // RENAME, COPY and MOVE carry the TTL; SET without KEEPTTL drops it.
    for (from, to, verb) in [(3, "r:3", "RENAME"), (6, "c:6", "COPY"), (9, "m:9", "MOVE")] {
        let t = want[&key(from)];
        assert!(t >= 0, "{from}");
        match verb {
            "RENAME" => {
                assert_eq!(conn.cmd_str(&["RENAME", &key(from), to]), "+OK\r\n");
                want.insert(key(from), -2);
                want.insert(to.to_string(), t);
            }
            "COPY" => {
                assert_eq!(conn.cmd_str(&["COPY", &key(from), to]), ":1\r\n");
                want.insert(to.to_string(), t);
            }
            _ => {
                assert_eq!(conn.cmd_str(&["MOVE", &key(from), "1"]), ":1\r\n");
                want.insert(key(from), -2);
                conn.cmd(&["SELECT", "1"]);
                assert_eq!(
                    conn.cmd_str(&["PEXPIRETIME", &key(from)]),
                    format!(":{t}\r\n")
                );
                conn.cmd(&["SELECT", "0"]);
            }
        }
    }
    assert_eq!(conn.cmd_str(&["SET", &key(12), "x"]), "+OK\r\n");
    want.insert(key(12), -1);
    assert_eq!(conn.cmd_str(&["SET", &key(22), "x", "KEEPTTL"]), "+OK\r\n");
    check_expiry_times(&mut conn, &want, "after RENAME, COPY, MOVE");

    assert_eq!(conn.cmd_str(&["DEBUG", "RELOAD"]), "+OK\r\n");
    check_expiry_times(&mut conn, &want, "after DEBUG RELOAD");

    // Keys set to expire now go by active expiry alone (nothing reads
    // them); the rest keep their times.
    let mut commands = Vec::new();
    for i in (0..3000).filter(|i| i % 4 == 2) {
        if want[&key(i)] != -2 {
            commands.push(vec!["PEXPIRE".into(), key(i), "1".into()]);
            want.insert(key(i), -2);
        }
    }
    pipeline(&mut conn, &commands);
    let live = want.values().filter(|&&t| t != -2).count() as i64;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while conn.cmd_str(&["DBSIZE"]) != format!(":{live}\r\n") {
        assert!(
            std::time::Instant::now() < deadline,
            "active expiry left keys"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    check_expiry_times(&mut conn, &want, "after active expiry");
}

/// RESTORE IDLETIME sets the idle time OBJECT IDLETIME reads back exactly,
/// under any policy but an LFU one (Redis's `objectSetLRUOrLFU`). Ours
/// ignored it unless the policy named LRU (OBJECT IDLETIME read 0), and
/// stamped it with the command's clock while OBJECT IDLETIME reads the LRU
/// clock, which the cron moves on up to a tick later: 999 one time in ten
/// (unit/dump "RESTORE can set LRU"). The cron may still move the clock on
/// a second between RESTORE and OBJECT IDLETIME, as Redis's can: 1001 is
/// allowed now and then, 999 never.
#[test]
fn restore_idletime_reads_back_exactly_under_any_non_lfu_policy() {
    let server = Server::start();
    let mut c = server.client().get_connection().expect("a connection");
    let _: () = redis::cmd("SET")
        .arg("foo")
        .arg("bar")
        .query(&mut c)
        .expect("SET");
    let payload: Vec<u8> = redis::cmd("DUMP").arg("foo").query(&mut c).expect("DUMP");
    let mut exact = 0;
    for policy in ["noeviction", "allkeys-lru", "volatile-ttl"] {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory-policy")
            .arg(policy)
            .query(&mut c)
            .expect("CONFIG SET");
        // Spread over more than a cron tick, so some land just after the
        // second turns.
        for _ in 0..40 {
            let _: i64 = redis::cmd("DEL").arg("foo").query(&mut c).expect("DEL");
            let _: () = redis::cmd("RESTORE")
                .arg("foo")
                .arg(0)
                .arg(&payload)
                .arg("IDLETIME")
                .arg(1000)
                .query(&mut c)
                .expect("RESTORE");
            let idle: i64 = redis::cmd("OBJECT")
                .arg("IDLETIME")
                .arg("foo")
                .query(&mut c)
                .expect("OBJECT IDLETIME");
            assert!((1000..=1001).contains(&idle), "{policy}: {idle}");
            exact += usize::from(idle == 1000);
            std::thread::sleep(Duration::from_millis(7));
        }
    }
    assert!(exact >= 110, "only {exact} of 120 read back 1000");
}
