//! SORT and SORT_RO (sort.c), compared byte for byte with redis-server, on
//! lists, sets and sorted sets, with BY/GET patterns, LIMIT, ALPHA, STORE.

mod support;

use support::{differential, differential_lines, Pair, Rng};

#[test]
fn numeric_and_alpha_orders() {
    // Weights strtod reads whole: leading spaces, hex, infinities, "" (0).
    let weird: &[&str] = &[
        "rpush", "n", "3", "1", "2", "10", "-5", "1.5", "0x10", "inf", "-inf", " 7", "1e3", "", "0",
    ];
    differential(&[
        weird,
        &["sort", "n"],
        &["sort", "n", "desc"],
        &["sort", "n", "alpha"],
    ]);
    differential_lines(&[
        "rpush n 3 1 2 10 -5 1.5 0x10 inf -inf 1e3 0",
        "sort n",
        "sort n desc",
        "sort n alpha",
        "sort n alpha desc",
        "sort_ro n desc alpha",
        "rpush bad 1 abc",
        "sort bad",
        "sort bad alpha",
        "rpush nan nan",
        "sort nan",
        // Equal weights fall back on the elements' bytes.
        "rpush ties b a c a",
        "sort ties by nokey_*",
        "sort ties by nokey_* desc",
        "sort ties alpha store tdst",
        "lrange tdst 0 -1",
        "sadd s 5 3 9 1 -2 100",
        "sort s",
        "sort s desc limit 1 3",
        "sadd sa b a c aa B",
        "sort sa alpha",
        "sort sa",
        "zadd z 1 c 2 b 3 a 0 d",
        "sort z alpha",
        "sort z alpha desc limit 0 2",
        "sort z",
        // Sorting converts a listpack sorted set, SORT_RO too.
        "object encoding z",
        "zadd z2 1 a",
        "sort_ro z2 by nosort",
        "object encoding z2",
        // Intset, listpack and hashtable sets, listpack and skiplist zsets.
        "sadd ints 3 1 2",
        "sort ints",
        "object encoding ints",
        // Last: Redis never clears the ERANGE this leaves in errno, so its
        // later numeric SORTs would fail too.
        "rpush big 1e400",
        "sort big",
    ]);
}

#[test]
fn limit_and_nosort() {
    let mut script: Vec<Vec<String>> = vec![
        vec![
            "rpush".into(),
            "l".into(),
            "3".into(),
            "1".into(),
            "2".into(),
            "5".into(),
            "4".into(),
        ],
        vec![
            "zadd".into(),
            "z".into(),
            "1".into(),
            "a".into(),
            "2".into(),
            "b".into(),
            "3".into(),
            "c".into(),
            "4".into(),
            "d".into(),
        ],
    ];
    let limits = ["-5", "-1", "0", "1", "2", "4", "5", "100"];
    for key in ["l", "z", "nokey"] {
        for start in limits {
            for count in limits {
                for extra in [
                    &[][..],
                    &["desc"][..],
                    &["by", "nosort"][..],
                    &["by", "nosort", "desc"][..],
                ] {
                    let mut args: Vec<String> = vec![
                        "sort".into(),
                        key.into(),
                        "limit".into(),
                        start.into(),
                        count.into(),
                    ];
                    args.extend(extra.iter().map(|s| s.to_string()));
                    if key == "z" && !extra.contains(&"nosort") {
                        args.push("alpha".into());
                    }
                    script.push(args);
                }
            }
        }
    }
    let script: Vec<Vec<&str>> = script
        .iter()
        .map(|a| a.iter().map(String::as_str).collect())
        .collect();
    let script: Vec<&[&str]> = script.iter().map(Vec::as_slice).collect();
    differential(&script);
}

#[test]
fn by_and_get_patterns() {
    differential_lines(&[
        "rpush l 1 2 3 4",
        "mset w_1 40 w_2 10 w_3 30 w_4 20",
        "hset h_1 f d n 4",
        "hset h_2 f b n 3",
        "hset h_3 f a",
        "set s_1 one",
        "lpush s_2 wrongtype",
        "sort l by w_*",
        "sort l by w_* desc limit 1 2",
        "sort l by h_*->f alpha",
        "sort l by h_*->f alpha desc",
        "sort l by h_*->n",
        "sort l by h_*->f",
        "sort l get # get w_* get h_*->f get s_*",
        "sort l by w_* get # get h_*->n",
        "sort l get nostar",
        "sort l get h_*->",
        "sort l get h_*- get *",
        "sort l by nosort get w_*",
        "sort l by nosort desc get # get w_*",
        "sort l by w_* by nosort",
        "sort l by nosort by w_*",
        // A pattern may name the sorted key's own elements' keys in another form.
        "mset 1_x b 2_x a",
        "sort l by *_x alpha get *_x",
        "sort_ro l by w_* get #",
        "sort_ro l by w_* get # store d",
        // Set members sorted with patterns.
        "sadd set 1 2 3 4",
        "sort set by w_* get h_*->f",
        "sort set by nosort store sdst",
        "lrange sdst 0 -1",
    ]);
}

#[test]
fn store_and_errors() {
    differential_lines(&[
        "rpush l 3 1 2",
        "sort l store d",
        "lrange d 0 -1",
        "type d",
        "object encoding d",
        "sort l store d limit 0 1 desc",
        "lrange d 0 -1",
        "sort l get nokey_* get # store d",
        "lrange d 0 -1",
        "sort l store l",
        "lrange l 0 -1",
        "sort l limit 5 5 store d",
        "exists d",
        "set d x",
        "sort nokey store d",
        "exists d",
        "sort l store a store b",
        "exists a b",
        "sort l store",
        "sort l limit 1",
        "sort l limit x 1",
        "sort l limit 1 99999999999999999999",
        "sort l bogus",
        "sort l by",
        "sort l get",
        "sort_ro l store d",
        "set str x",
        "sort str",
        "sort str bogus",
        "hset hash f v",
        "sort hash",
        "sort nokey",
        "sort nokey by w_* get #",
        "command getkeys sort l store a by x get y store b",
        "command getkeys sort l limit store x",
        "command getkeys sort_ro l by x",
    ]);
}

/// SORT with patterns locks the whole database: inside MULTI/EXEC too,
/// and next to other clients' writes.
#[test]
fn patterns_read_keys_in_any_shard() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let mut rng = Rng(0x2545f4914f6cdd1d);
    for i in 0..300 {
        let weight = rng.below(1000).to_string();
        pair.check(&["rpush", "l", &i.to_string()]);
        pair.check(&["set", &format!("w_{i}"), &weight]);
        pair.check(&[
            "hset",
            &format!("h_{i}"),
            "name",
            &format!("n{}", rng.below(50)),
        ]);
    }
    pair.check(&["sort", "l", "by", "w_*", "get", "#", "get", "h_*->name"]);
    pair.check(&["sort", "l", "by", "h_*->name", "alpha", "limit", "10", "20"]);
    pair.check(&[
        "sort",
        "l",
        "by",
        "w_*",
        "desc",
        "get",
        "h_*->name",
        "store",
        "out",
    ]);
    pair.check(&["lrange", "out", "0", "-1"]);
    pair.check(&["multi"]);
    pair.check(&["sort", "l", "by", "w_*", "get", "w_*", "limit", "0", "5"]);
    pair.check(&["set", "w_0", "-1"]);
    pair.check(&["sort", "l", "by", "w_*", "limit", "0", "5"]);
    pair.check(&["exec"]);
}

/// Random lists of numbers and words, sorted every way, with random LIMITs.
#[test]
fn random_lists_sort_as_in_redis() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let mut rng = Rng(0x5851f42d4c957f2d);
    for round in 0..6 {
        let key = format!("l{round}");
        let len = [5, 50, 200][round % 3];
        for _ in 0..len {
            let v = match rng.below(4) {
                0 => rng.below(100).to_string(),
                1 => format!("-{}.{}", rng.below(100), rng.below(100)),
                2 => format!("{}e{}", rng.below(10), rng.below(5)),
                _ => format!("{}", rng.below(1_000_000_000)),
            };
            pair.check(&["rpush", &key, &v]);
            pair.check(&["sadd", &format!("s{round}"), &v]);
            pair.check(&["zadd", &format!("z{round}"), &rng.below(10).to_string(), &v]);
        }
        for kind in ["l", "s", "z"] {
            let key = format!("{kind}{round}");
            for _ in 0..20 {
                let mut args = vec!["sort".to_string(), key.clone()];
                if rng.below(2) == 0 {
                    args.push("desc".into());
                }
                if rng.below(2) == 0 {
                    args.push("alpha".into());
                }
                if rng.below(2) == 0 {
                    let start = rng.below(len as u64 + 5) as i64 - 2;
                    let count = rng.below(len as u64 + 5) as i64 - 2;
                    args.extend(["limit".into(), start.to_string(), count.to_string()]);
                }
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                pair.check(&args);
            }
        }
    }
}
