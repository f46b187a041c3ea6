//! The command metadata reddish reports (COMMAND INFO, DOCS, LIST, COUNT,
//! GETKEYS, GETKEYSANDFLAGS), compared with redis-server for every command
//! reddish implements: iterated from reddish's own COMMAND LIST, so a
//! command added tomorrow is checked tomorrow.
//!
//! Redis 7.0 describes the commands it has; reddish lists only the ones it
//! implements, so lists are compared on what both have, and a container's
//! subcommands (in Redis's hash order, random per process) are compared by
//! name.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use support::{leaves, parse_reply, Conn, Node, Pair};

/// reddish's commands that Redis 7.0 lacks (CLIENT SETINFO is 7.2's).
const EXTRAS: &[&str] = &["client|json", "client|setinfo"];

/// Redis 7.0's ACL categories.
const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The names a COMMAND LIST reply holds.
fn list(conn: &mut Conn, args: &[&str]) -> BTreeSet<String> {
    let reply = conn.cmd(args);
    assert!(
        reply.starts_with(b"*"),
        "{args:?}: {}",
        String::from_utf8_lossy(&reply)
    );
    leaves(&reply).into_iter().collect()
}

/// Top-level names that have subcommands in `names`.
fn containers(names: &BTreeSet<String>) -> BTreeSet<String> {
    names
        .iter()
        .filter_map(|n| n.split_once('|').map(|(c, _)| c.to_string()))
        .collect()
}

/// reddish's full names, without the commands Redis lacks.
fn implemented(pair: &mut Pair) -> BTreeSet<String> {
    let mut ours = list(&mut pair.got, &["COMMAND", "LIST"]);
    ours.retain(|n| !EXTRAS.contains(&n.as_str()));
    ours
}

#[test]
fn command_list_and_count_are_redis_for_what_we_implement() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let ours = list(&mut pair.got, &["COMMAND", "LIST"]);
    let redis = list(&mut pair.want, &["COMMAND", "LIST"]);
    assert!(ours.len() > 150, "only {} commands listed", ours.len());
    let unknown: Vec<_> = ours
        .iter()
        .filter(|n| !redis.contains(*n) && !EXTRAS.contains(&n.as_str()))
        .collect();
    assert!(unknown.is_empty(), "Redis 7.0 has no {unknown:?}");
    for extra in EXTRAS {
        assert!(ours.contains(*extra), "{extra} not listed");
    }
    // COUNT and COMMAND count top-level commands, containers included.
    let top = ours.iter().filter(|n| !n.contains('|')).count();
    assert_eq!(
        pair.got.cmd_str(&["COMMAND", "COUNT"]),
        format!(":{top}\r\n")
    );
    let all = parse_reply(&pair.got.cmd(&["COMMAND"]));
    assert_eq!(all.children().len(), top);
    let listed: BTreeSet<String> = all
        .children()
        .iter()
        .map(|e| e.children()[0].text())
        .collect();
    assert_eq!(
        listed,
        ours.iter().filter(|n| !n.contains('|')).cloned().collect()
    );
}

/// A container's own fields (exact bytes, in order) and its subcommands'
/// entries by name.
struct Container {
    own: Vec<Vec<u8>>,
    subs: BTreeMap<String, Vec<u8>>,
}

/// A container's COMMAND INFO entry, or its COMMAND DOCS map, split into
/// its own fields and its subcommands, keeping only those in `keep`.
fn split_container(entry: &Node, docs: bool, keep: &BTreeSet<String>) -> Container {
    let fields = entry.children();
    let mut split = Container {
        own: Vec::new(),
        subs: BTreeMap::new(),
    };
    let mut add_sub = |name: String, bytes: Vec<u8>| {
        if keep.contains(&name) {
            split.subs.insert(name, bytes);
        }
    };
    if docs {
        for pair in fields.chunks(2) {
            if pair[0].text() == "subcommands" {
                for s in pair[1].children().chunks(2) {
                    add_sub(s[0].text(), s[1].bytes());
                }
            } else {
                split.own.push(pair[0].bytes());
                split.own.push(pair[1].bytes());
            }
        }
    } else {
        for s in fields[9].children() {
            add_sub(s.children()[0].text(), s.bytes());
        }
        split.own = fields[..9].iter().map(Node::bytes).collect();
    }
    split
}

/// COMMAND INFO and COMMAND DOCS of every command, container and
/// subcommand we implement, byte for byte as Redis's (a container's
/// subcommands compared by name), in the current protocol.
fn compare_info_and_docs(pair: &mut Pair) {
    let ours = implemented(pair);
    let containers = containers(&ours);
    let mut compared = 0;
    for name in &ours {
        for (sub, docs) in [("INFO", false), ("DOCS", true)] {
            let args = ["COMMAND", sub, name.as_str()];
            if !containers.contains(name) {
                pair.check(&args);
                compared += 1;
                continue;
            }
            let (want, got) = (pair.want.cmd(&args), pair.got.cmd(&args));
            let (want, got) = (parse_reply(&want), parse_reply(&got));
            // INFO: [entry]; DOCS: {name: docs}.
            let index = usize::from(docs);
            let want = split_container(&want.children()[index], docs, &ours);
            let got = split_container(&got.children()[index], docs, &ours);
            assert_eq!(
                got.own, want.own,
                "COMMAND {sub} {name} differs from redis-server"
            );
            assert_eq!(
                got.subs, want.subs,
                "COMMAND {sub} {name}: subcommands differ"
            );
            assert!(!got.subs.is_empty(), "{name} has no subcommands");
            compared += 1;
        }
    }
    assert_eq!(compared, 2 * ours.len());
}

#[test]
fn command_info_and_docs_match_redis_for_every_command() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    compare_info_and_docs(&mut pair);
    pair.send(&["HELLO", "3"]);
    compare_info_and_docs(&mut pair);
}

#[test]
fn command_list_filters_match_redis_on_what_we_implement() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let ours = implemented(&mut pair);
    let mut filters: Vec<(&str, String)> = CATEGORIES
        .iter()
        .map(|c| ("ACLCAT", c.to_string()))
        .collect();
    filters.extend([
        ("ACLCAT", "READ".to_string()),
        ("ACLCAT", "Connection".to_string()),
        ("ACLCAT", "@read".to_string()),
        ("ACLCAT", "nosuchcat".to_string()),
        ("PATTERN", "*".to_string()),
        ("PATTERN", "c*".to_string()),
        ("PATTERN", "CLIENT|*".to_string()),
        ("PATTERN", "*get*".to_string()),
        ("PATTERN", "[a-h]?[^e]*".to_string()),
        ("MODULE", "foo".to_string()),
    ]);
    let mut nonempty = 0;
    for (kind, arg) in &filters {
        let args = ["COMMAND", "LIST", "FILTERBY", kind, arg.as_str()];
        let mut got = list(&mut pair.got, &args);
        got.retain(|n| !EXTRAS.contains(&n.as_str()));
        let want: BTreeSet<String> = list(&mut pair.want, &args)
            .intersection(&ours)
            .cloned()
            .collect();
        assert_eq!(got, want, "{args:?}");
        nonempty += usize::from(!got.is_empty());
    }
    // Every category but bitmap, hyperloglog, geo and stream has commands of ours.
    assert!(nonempty >= 20, "only {nonempty} filters found anything");
}

/// Arguments to try after each command's name: keys, numkeys in various
/// places (ZUNIONSTORE, LMPOP, BLMPOP), numbers C's atoi reads but Redis's
/// strict parser does not, SET's GET.
const POOLS: &[&[&str]] = &[
    &[],
    &["2"],
    &["k0", "2"],
    &["0", "2", "k1", "k2", "LEFT"],
    &["k1", "v", "GET"],
    &["k1", "v", "EX", "1", "get"],
    &["3x", "k1", "k2", "k3"],
    &["k0", "2abc", "k1", "k2"],
    &["k0", "4294967297", "k1", "k2"],
    &["-1", "k1"],
];

/// `words` (a command, or container and subcommand) followed by `n`
/// arguments from `pool` (then k<i>).
fn request<'a>(words: &[&'a str], pool: &[&'a str], n: usize, spare: &'a [String]) -> Vec<&'a str> {
    let mut args = words.to_vec();
    args.extend((0..n).map(|i| pool.get(i).copied().unwrap_or(spare[i].as_str())));
    args
}

#[test]
fn getkeys_and_flags_match_redis_for_every_command() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let ours = implemented(&mut pair);
    let spare: Vec<String> = (0..12).map(|i| format!("k{i}")).collect();
    // Arity from COMMAND INFO (reddish's, already compared with Redis's).
    let mut runs = 0;
    let mut with_keys = 0;
    let mut requests = Vec::new();
    for name in &ours {
        let info = parse_reply(&pair.got.cmd(&["COMMAND", "INFO", name]));
        let arity: i64 = info.children()[0].children()[1].text()[1..]
            .parse()
            .expect("arity");
        let words: Vec<&str> = name.split('|').collect();
        let base = arity.unsigned_abs() as usize;
        let extra = base.saturating_sub(words.len());
        let counts: Vec<usize> = if arity > 0 {
            vec![extra, extra + 1]
        } else {
            vec![extra, extra + 1, extra + 2, extra + 4]
        };
        for pool in POOLS {
            for &n in &counts {
                requests.push(request(&words, pool, n, &spare));
            }
        }
    }
    for protocol in ["2", "3"] {
        if protocol == "3" {
            pair.send(&["HELLO", "3"]);
        }
        for args in &requests {
            for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
                let mut full = vec!["COMMAND", sub];
                full.extend(args);
                let want = pair.want.cmd(&full);
                assert_eq!(
                    String::from_utf8_lossy(&pair.got.cmd(&full)),
                    String::from_utf8_lossy(&want),
                    "reply to {full:?} differs from redis-server (RESP{protocol})"
                );
                runs += 1;
                with_keys += usize::from(want.starts_with(b"*") && !want.starts_with(b"*0"));
            }
        }
    }
    assert!(
        runs > 1000 && with_keys > runs / 4,
        "{with_keys} of {runs} found keys"
    );
}
