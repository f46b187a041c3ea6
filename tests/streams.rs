//! Streams: every X command and its errors compared byte for byte with a
//! real redis-server (explicit IDs, so replies are deterministic), in RESP2
//! and RESP3 (XINFO and XREAD answer maps there), node boundaries through
//! approximate trims, and blocked XREAD/XREADGROUP woken by XADD.

mod support;

use support::{differential, differential_resp3, on_both, reply, send, wait_blocked};

/// Stream commands, options and errors that involve no clock.
const BASICS: &[&[&str]] = &[
    &["xadd", "s", "1-1", "a", "1", "b", "2"],
    &["xadd", "s", "1-*", "c", "3"],
    &["xadd", "s", "2", "d", "4"],
    &["xadd", "s", "1-5", "x", "y"],
    &["xadd", "s", "0-0", "x", "y"],
    &["xadd", "s", "maxlen", "2", "3-0", "e", "5"],
    &["xlen", "s"],
    &["xrange", "s", "-", "+"],
    &["xrange", "s", "(2-0", "+"],
    &["xrevrange", "s", "+", "-", "count", "1"],
    &["xrange", "s", "-", "+", "count", "0"],
    &["xrange", "s", "(-", "+"],
    &["xrange", "s", "-", "(0-0"],
    &["xrange", "s", "-", "+", "count"],
    &["xdel", "s", "2-0", "3-0", "9-9"],
    &["xdel", "s", "bad"],
    &["xinfo", "stream", "s"],
    &["xadd", "s", "nomkstream", "5-0", "a", "b"],
    &["xadd", "nokey", "nomkstream", "5-0", "a", "b"],
    &["xtrim", "s", "maxlen", "0"],
    &["xtrim", "s"],
    &["xtrim", "s", "limit", "10", "maxlen", "1"],
    &["xtrim", "s", "maxlen", "=", "1", "limit", "10"],
    &[
        "xadd", "s", "maxlen", "~", "1", "limit", "2", "6-0", "a", "b",
    ],
    &["xadd", "s", "minid", "1", "maxlen", "2", "7-0", "a", "b"],
    &["xadd", "s", "maxlen", "-1", "7-0", "a", "b"],
    &["xadd", "s", "limit", "-1", "7-0", "a", "b"],
    &["xadd", "s", "7-0", "a"],
    &[
        "xadd",
        "s",
        "18446744073709551615-18446744073709551615",
        "a",
        "b",
    ],
    &["xinfo", "stream", "s", "full"],
    &["set", "str", "x"],
    &["xadd", "str", "1-1", "a", "b"],
    &["xlen", "str"],
    &["xrange", "str", "-", "+"],
    &["xgroup", "create", "s", "g", "$"],
    &["xgroup", "create", "s", "g", "$"],
    &["xgroup", "create", "nokey", "g", "$"],
    &[
        "xgroup",
        "create",
        "nokey2",
        "g",
        "0",
        "mkstream",
        "entriesread",
        "3",
    ],
    &["xinfo", "groups", "nokey2"],
    &["xgroup", "create", "s", "g2", "0", "badopt"],
    &["xgroup", "setid", "s", "nog", "0"],
    &["xgroup", "help"],
    &["xinfo", "help"],
    &["xgroup", "createconsumer", "s", "g", "c1"],
    &["xgroup", "createconsumer", "s", "g", "c1"],
    &["xgroup", "delconsumer", "s", "g", "c1"],
    &["xgroup", "destroy", "s", "g2"],
    &["xgroup", "destroy", "s", "g"],
    &["xsetid", "s", "1-0"],
    &[
        "xsetid",
        "s",
        "18446744073709551615-18446744073709551615",
        "entriesadded",
        "0",
    ],
    &["xsetid", "nokey", "1-0"],
    &["xsetid", "s", "99-0", "maxdeletedid", "100-0"],
    &["xsetid", "s", "99-0", "entriesadded", "-1"],
    &["xinfo", "stream", "nokey"],
    &["xinfo", "stream", "s", "full", "count", "1"],
    &["xinfo", "stream", "s", "fuller"],
];

#[test]
fn commands_and_errors_match_redis() {
    differential(BASICS);
}

#[test]
fn commands_and_errors_match_redis_in_resp3() {
    differential_resp3(BASICS);
}

/// Node boundaries (`stream-node-max-entries`) decide what `~` trims.
#[test]
fn approximate_trims_remove_the_nodes_redis_removes() {
    let mut script: Vec<&[&str]> = vec![&["CONFIG", "SET", "stream-node-max-entries", "3"]];
    let rest: &[&[&str]] = &[
        &["xadd", "s", "1-0", "a", "1"],
        &["xadd", "s", "2-0", "a", "1"],
        &["xadd", "s", "3-0", "a", "1"],
        &["xadd", "s", "4-0", "a", "1"],
        &["xadd", "s", "5-0", "a", "1"],
        &["xadd", "s", "6-0", "a", "1"],
        &["xadd", "s", "7-0", "a", "1"],
        &["xinfo", "stream", "s"],
        &["xtrim", "s", "maxlen", "~", "5"],
        &["xtrim", "s", "maxlen", "~", "3"],
        &["xlen", "s"],
        &["xtrim", "s", "minid", "~", "6"],
        &["xrange", "s", "-", "+"],
        &["xadd", "s", "8-0", "a", "1"],
        &["xadd", "s", "9-0", "a", "1"],
        &["xadd", "s", "10-0", "a", "1"],
        &["xdel", "s", "8-0", "9-0", "10-0"],
        &["xinfo", "stream", "s"],
        &["xtrim", "s", "minid", "7-0"],
        &["xrange", "s", "-", "+"],
        &["xadd", "s", "maxlen", "~", "2", "11-0", "x", "y"],
        &[
            "xadd", "s", "maxlen", "~", "2", "limit", "1", "12-0", "x", "y",
        ],
        &["xrange", "s", "-", "+"],
        &["xinfo", "stream", "s"],
        &["del", "s"],
        &["xadd", "s", "1-*", "a", "b"],
        &["xadd", "s", "1-*", "a", "b"],
        &["xadd", "s", "1-18446744073709551615", "a", "b"],
        &["xadd", "s", "1-*", "a", "b"],
        &["xadd", "s", "2-*", "a", "b"],
    ];
    script.extend_from_slice(rest);
    differential(&script);
}

/// Consumer groups without the replies that hold idle times.
const GROUPS: &[&[&str]] = &[
    &["XADD", "s", "1-0", "a", "1"],
    &["XADD", "s", "2-0", "b", "2"],
    &["XADD", "s", "3-0", "c", "3"],
    &["XGROUP", "CREATE", "s", "g", "0"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "c1",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ],
    &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"],
    &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">"],
    &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "c1",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        "1-0",
    ],
    &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "$"],
    &["XREAD", "STREAMS", "s", ">"],
    &["XREAD", "GROUP", "g", "c", "STREAMS", "s", "0"],
    &["XREADGROUP", "STREAMS", "s", "0"],
    &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s"],
    &["XREADGROUP", "GROUP", "nog", "c1", "STREAMS", "s", ">"],
    &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "nokey", ">"],
    &["XPENDING", "s", "g"],
    &["XPENDING", "s", "g", "IDLE", "99999999", "-", "+", "10"],
    &["XPENDING", "s", "g", "-", "+", "10", "nobody"],
    &["XPENDING", "s", "g", "IDLE", "1", "-", "+"],
    &["XPENDING", "s", "nog"],
    &["XPENDING", "s", "g", "-", "+", "x"],
    &["XPENDING", "s", "g", "(1-0", "+", "0"],
    &["XINFO", "GROUPS", "s"],
    &["XACK", "s", "g", "1-0", "9-0"],
    &["XACK", "s", "g", "bad"],
    &["XACK", "s", "nog", "1-0"],
    &["XACK", "nokey", "g", "1-0"],
    &["XDEL", "s", "2-0"],
    &["XINFO", "GROUPS", "s"],
    &["XCLAIM", "s", "g", "c3", "0", "2-0", "3-0", "JUSTID"],
    &["XCLAIM", "s", "g", "c3", "0", "3-0", "badopt"],
    &["XCLAIM", "s", "g", "c3", "x", "3-0"],
    &["XCLAIM", "s", "g", "c3", "0", "3-0", "IDLE", "x"],
    &["XCLAIM", "s", "g", "c3", "0", "3-0", "TIME", "x"],
    &["XCLAIM", "s", "g", "c3", "0", "3-0", "RETRYCOUNT", "x"],
    &["XCLAIM", "s", "g", "c3", "0", "3-0", "LASTID", "x"],
    &["XCLAIM", "s", "nog", "c3", "0", "3-0"],
    &["XCLAIM", "s", "g", "c4", "0", "1-0", "FORCE", "JUSTID"],
    &["XAUTOCLAIM", "s", "g", "c5", "0", "0", "JUSTID"],
    &["XAUTOCLAIM", "s", "g", "c5", "0", "0", "COUNT", "0"],
    &["XAUTOCLAIM", "s", "g", "c5", "x", "0"],
    &["XAUTOCLAIM", "s", "g", "c5", "0", "x"],
    &["XAUTOCLAIM", "s", "nog", "c5", "0", "0"],
    &["XAUTOCLAIM", "s", "g", "c5", "0", "0", "bad"],
    &[
        "XAUTOCLAIM",
        "s",
        "g",
        "c5",
        "0",
        "0",
        "COUNT",
        "576460752303423487",
    ],
    &["XGROUP", "DELCONSUMER", "s", "g", "c5"],
    &["XGROUP", "DELCONSUMER", "s", "g", "c5"],
    &["XINFO", "GROUPS", "s"],
    &["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "1"],
    &["XINFO", "GROUPS", "s"],
    &["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "-5"],
    &["XGROUP", "SETID", "s", "g", "$"],
    &["XADD", "s", "4-0", "d", "4"],
    &["XINFO", "GROUPS", "s"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "c1",
        "NOACK",
        "STREAMS",
        "s",
        ">",
    ],
    &["XINFO", "GROUPS", "s"],
    &["XINFO", "STREAM", "s"],
    &["XINFO", "CONSUMERS", "s", "nog"],
    &["XINFO", "CONSUMERS", "nokey", "g"],
    &["XREAD", "COUNT", "1", "STREAMS", "s", "0"],
    &["XREAD", "STREAMS", "s", "1-0", "s", "2-0"],
    &["XREAD", "STREAMS", "s", "s", "0"],
    &["XREAD", "BLOCK", "x", "STREAMS", "s", "0"],
    &["XREAD", "BLOCK", "-1", "STREAMS", "s", "0"],
    &["XREAD", "COUNT", "x", "STREAMS", "s", "0"],
    &["XREAD", "STREAMS", "nokey", "0"],
    &["XREAD", "STREAMS", "s", "$"],
    &["XREAD", "BLOCK", "10", "STREAMS", "s", "$"],
    &["MULTI"],
    &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "c1",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ],
    &["EXEC"],
    &["TYPE", "s"],
    &["OBJECT", "ENCODING", "s"],
    &["SCAN", "0", "TYPE", "stream"],
    &["COPY", "s", "s2"],
    &["XINFO", "GROUPS", "s2"],
    &["RENAME", "s2", "s3"],
    &["XRANGE", "s3", "-", "+"],
    &["MOVE", "s3", "1"],
    &["EXISTS", "s3"],
];

#[test]
fn consumer_groups_match_redis() {
    differential(GROUPS);
}

#[test]
fn consumer_groups_match_redis_in_resp3() {
    differential_resp3(GROUPS);
}

/// A consumer of group `g` waiting for new entries of `s`.
const READGROUP_BLOCKING: &[&str] = &[
    "XREADGROUP",
    "GROUP",
    "g",
    "c",
    "BLOCK",
    "0",
    "STREAMS",
    "s",
    ">",
];

#[test]
fn xadd_wakes_blocked_readers_each_past_its_own_id() {
    let t = on_both(|s| {
        let mut w = s.connect();
        let mut a = s.connect();
        let mut b = s.connect();
        let mut c = s.connect();
        w.cmd(&["XADD", "s", "1-0", "f", "v"]);
        w.cmd(&["XGROUP", "CREATE", "s", "g", "$"]);
        // `$` is the last ID when the client blocked.
        send(&mut a, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        wait_blocked(&mut w, 1);
        send(&mut b, READGROUP_BLOCKING);
        wait_blocked(&mut w, 2);
        send(&mut c, &["XREAD", "BLOCK", "0", "STREAMS", "s", "5-0"]);
        wait_blocked(&mut w, 3);
        let mut out = vec![w.cmd_str(&["XADD", "s", "2-0", "f", "v2"])];
        out.push(reply(&mut a));
        out.push(reply(&mut b));
        wait_blocked(&mut w, 1);
        out.push(w.cmd_str(&["XADD", "s", "6-0", "f", "v6"]));
        out.push(reply(&mut c));
        out.push(w.cmd_str(&["XPENDING", "s", "g"]));
        out
    });
    assert_eq!(
        t[1],
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv2\r\n"
    );
    assert_eq!(t[1], t[2]);
}

#[test]
fn blocked_reads_time_out_and_destroyed_groups_answer_nogroup() {
    let t = on_both(|s| {
        let mut w = s.connect();
        let mut a = s.connect();
        w.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
        let mut out = vec![a.cmd_str(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"])];
        out.push(a.cmd_str(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "50",
            "STREAMS",
            "s",
            ">",
        ]));
        send(&mut a, READGROUP_BLOCKING);
        wait_blocked(&mut w, 1);
        out.push(w.cmd_str(&["XGROUP", "DESTROY", "s", "g"]));
        out.push(reply(&mut a));
        // A transaction's XADD wakes readers only once EXEC ran.
        send(&mut a, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        wait_blocked(&mut w, 1);
        w.cmd(&["MULTI"]);
        w.cmd(&["XADD", "s", "1-0", "a", "1"]);
        w.cmd(&["XADD", "s", "2-0", "b", "2"]);
        out.push(w.cmd_str(&["EXEC"]));
        out.push(reply(&mut a));
        out
    });
    assert_eq!(t[0], "*-1\r\n");
    assert_eq!(
        t[3],
        "-NOGROUP the consumer group this client was blocked on no longer exists\r\n"
    );
}

/// XADD, XDEL and XTRIM touch WATCH; the consumer group commands do not
/// (Redis calls no `signalModifiedKey` there).
#[test]
fn only_entry_changes_abort_a_watching_transaction() {
    on_both(|s| {
        let mut w = s.connect();
        let mut other = s.connect();
        w.cmd(&["XADD", "s", "1-0", "f", "v"]);
        w.cmd(&["XGROUP", "CREATE", "s", "g", "0"]);
        let mut out = Vec::new();
        let writes: &[&[&str]] = &[
            &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
            &["XACK", "s", "g", "1-0"],
            &["XCLAIM", "s", "g", "c2", "0", "1-0", "FORCE"],
            &["XGROUP", "SETID", "s", "g", "0"],
            &["XGROUP", "CREATECONSUMER", "s", "g", "c3"],
            &["XSETID", "s", "5-0"],
            &["XADD", "s", "6-0", "f", "v"],
            &["XDEL", "s", "6-0"],
            &["XTRIM", "s", "MAXLEN", "0"],
        ];
        for write in writes {
            w.cmd(&["WATCH", "s"]);
            other.cmd(write);
            w.cmd(&["MULTI"]);
            w.cmd(&["PING"]);
            out.push(w.cmd_str(&["EXEC"]));
        }
        out
    });
}

/// A woken XREAD without COUNT gets at most 1000 entries (Redis's
/// `XREAD_BLOCKED_DEFAULT_COUNT`); CLIENT UNBLOCK ends a wait as a timeout
/// or with its error.
#[test]
fn blocked_reads_are_capped_and_can_be_unblocked() {
    let t = on_both(|s| {
        let mut w = s.connect();
        let mut a = s.connect();
        let id = a.cmd_str(&["CLIENT", "ID"]);
        let id = id.trim_start_matches(':').trim_end();
        send(&mut a, &["XREAD", "BLOCK", "0", "STREAMS", "s", "0"]);
        wait_blocked(&mut w, 1);
        w.cmd(&["MULTI"]);
        for i in 1..=1100 {
            w.cmd(&["XADD", "s", &format!("{i}-0"), "f", "v"]);
        }
        w.cmd(&["EXEC"]);
        let served = reply(&mut a);
        let mut out = vec![served.matches("\r\n*2\r\n$1\r\nf\r\n").count().to_string()];
        send(&mut a, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        wait_blocked(&mut w, 1);
        out.push(w.cmd_str(&["CLIENT", "UNBLOCK", id]));
        out.push(reply(&mut a));
        send(&mut a, READGROUP_BLOCKING);
        out.push(reply(&mut a));
        w.cmd(&["XGROUP", "CREATE", "s", "g", "$"]);
        send(&mut a, READGROUP_BLOCKING);
        wait_blocked(&mut w, 1);
        out.push(w.cmd_str(&["CLIENT", "UNBLOCK", id, "ERROR"]));
        out.push(reply(&mut a));
        out
    });
    assert_eq!(t[0], "1000");
    assert_eq!(t[2], "*-1\r\n");
}

/// `stream-node-max-bytes` splits nodes where Redis's listpacks would
/// overflow (integers, short and long strings sized as listpack elements),
/// which approximate trims then show.
#[test]
fn nodes_split_by_bytes_as_redis_listpacks() {
    let mut script: Vec<Vec<String>> = vec![
        vec![
            "CONFIG".into(),
            "SET".into(),
            "stream-node-max-bytes".into(),
            "100".into(),
        ],
        vec![
            "CONFIG".into(),
            "SET".into(),
            "stream-node-max-entries".into(),
            "0".into(),
        ],
    ];
    let values = [
        "1",
        "-5000",
        "x",
        "a much longer value than the others",
        "70000",
        "",
    ];
    for i in 1..=40 {
        let value = values[i % values.len()];
        let field = if i % 7 == 0 { "other" } else { "f" };
        script.push(
            [
                "XADD",
                "s",
                &format!("{}-{}", i * 1000, i % 3),
                field,
                value,
                "g",
                "2",
            ]
            .map(String::from)
            .to_vec(),
        );
        if i % 5 == 0 {
            script.push(
                ["XDEL", "s", &format!("{}-{}", i * 1000 - 2000, (i - 2) % 3)]
                    .map(String::from)
                    .to_vec(),
            );
            script.push(
                ["XTRIM", "s", "MAXLEN", "~", "12"]
                    .map(String::from)
                    .to_vec(),
            );
            script.push(["XLEN", "s"].map(String::from).to_vec());
            script.push(
                ["XRANGE", "s", "-", "+", "COUNT", "1"]
                    .map(String::from)
                    .to_vec(),
            );
        }
    }
    let script: Vec<Vec<&str>> = script
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let refs: Vec<&[&str]> = script.iter().map(Vec::as_slice).collect();
    differential(&refs);
}
