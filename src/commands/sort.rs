//! SORT and SORT_RO (Redis 7.0's sort.c).
//!
//! SORT reads keys its arguments only describe: BY and GET patterns name a
//! key per element (`weight_*`, `obj_*->field`). They cannot be locked
//! beforehand one by one, so a SORT with such a pattern locks the client's
//! whole database (`sort_locks`); without one it locks its source and
//! STORE keys like any command.

use std::cmp::Ordering;

use bytes::Bytes;

use super::args::{int_arg, is, syntax_error, wrong_type};
use super::table::c_string;
use super::{cmd_locking, CmdResult, Ctx, Locks, Registration};
use crate::config::notify;
use crate::keyspace::{DbView, Keyspace, LockSet, Value};
use crate::number::strtod_sort_weight;
use crate::pqsort::pqsort;
use crate::protocol::Reply;
use crate::server::Server;
use crate::types::list::{End, List};

pub static COMMANDS: &[Registration] = &[
    cmd_locking("sort", sort, Locks::Custom(sort_locks)),
    cmd_locking("sort_ro", sort_ro, Locks::Custom(sort_ro_locks)),
];

/// SORT's options, as `sortCommandGeneric` parses them.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    store: Option<&'a [u8]>,
    by: Option<&'a [u8]>,
    /// BY a pattern without `*`: nothing to sort by (`BY nosort`).
    dontsort: bool,
    gets: Vec<&'a [u8]>,
}

impl<'a> Options<'a> {
    /// The options from `args[2]` on; STORE only when not `readonly`. BY
    /// with a pattern and GET need a user who may read every key.
    fn parse(
        args: &[&'a [u8]],
        readonly: bool,
        reads_every_key: bool,
    ) -> Result<Options<'a>, Reply> {
        let mut o = Options {
            desc: false,
            alpha: false,
            limit_start: 0,
            limit_count: -1,
            store: None,
            by: None,
            dontsort: false,
            gets: Vec::new(),
        };
        let mut j = 2;
        while j < args.len() {
            let left = args.len() - j - 1;
            let arg = args[j];
            if is(arg, "asc") {
                o.desc = false;
            } else if is(arg, "desc") {
                o.desc = true;
            } else if is(arg, "alpha") {
                o.alpha = true;
            } else if is(arg, "limit") && left >= 2 {
                o.limit_start = int_arg(args[j + 1])?;
                o.limit_count = int_arg(args[j + 2])?;
                j += 2;
            } else if !readonly && is(arg, "store") && left >= 1 {
                o.store = Some(args[j + 1]);
                j += 1;
            } else if is(arg, "by") && left >= 1 {
                o.by = Some(args[j + 1]);
                // Once a BY without `*` was seen nothing is sorted, even
                // if a later BY has a pattern (as in Redis).
                if !has_star(args[j + 1]) {
                    o.dontsort = true;
                } else if !reads_every_key {
                    return Err(Reply::error(
                        "ERR BY option of SORT denied due to insufficient ACL permissions.",
                    ));
                }
                j += 1;
            } else if is(arg, "get") && left >= 1 {
                if !reads_every_key {
                    return Err(Reply::error(
                        "ERR GET option of SORT denied due to insufficient ACL permissions.",
                    ));
                }
                o.gets.push(args[j + 1]);
                j += 1;
            } else {
                return Err(syntax_error());
            }
            j += 1;
        }
        Ok(o)
    }

    /// Whether a BY or GET pattern will name other keys.
    fn reads_patterns(&self) -> bool {
        let by = self.by.is_some_and(has_star);
        by || self.gets.iter().any(|g| !is_hash_sign(g) && has_star(g))
    }
}

/// `strchr(pattern, '*')`: the pattern as a C string holds a `*`.
fn has_star(pattern: &[u8]) -> bool {
    c_string(pattern, usize::MAX).contains(&b'*')
}

/// GET's `#` (the element itself), compared as a C string as Redis does.
fn is_hash_sign(pattern: &[u8]) -> bool {
    c_string(pattern, usize::MAX) == b"#"
}

fn sort_locks(keyspace: &Keyspace, db: usize, args: &[&[u8]], set: &mut LockSet) {
    locks(keyspace, db, args, set, false);
}

fn sort_ro_locks(keyspace: &Keyspace, db: usize, args: &[&[u8]], set: &mut LockSet) {
    locks(keyspace, db, args, set, true);
}

/// The whole database when a pattern names keys, else the source and STORE
/// keys. Arguments SORT will refuse lock just the source: nothing is read.
fn locks(keyspace: &Keyspace, db: usize, args: &[&[u8]], set: &mut LockSet, readonly: bool) {
    match Options::parse(args, readonly, true) {
        Ok(o) if o.reads_patterns() => set.add_db(db),
        Ok(o) => {
            set.add_key(keyspace, db, args[1]);
            if let Some(dst) = o.store {
                set.add_key(keyspace, db, dst);
            }
        }
        Err(_) => set.add_key(keyspace, db, args[1]),
    }
}

fn sort(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, args, true)
}

/// Redis `lookupKeyByPattern`: `#` is the element itself; otherwise the
/// first `*` is replaced by the element and the key read, as a string, or
/// with `->field` (not last) as a hash field. None when the pattern has no
/// `*`, or the key, its type or the field is not there.
fn by_pattern(server: &Server, db: &mut DbView, pattern: &[u8], element: &[u8]) -> Option<Bytes> {
    if is_hash_sign(pattern) {
        return Some(Bytes::copy_from_slice(element));
    }
    let c_pattern = c_string(pattern, usize::MAX);
    let star = memchr::memchr(b'*', c_pattern)?;
    // `strstr(p+1, "->")` with something after it; the field runs to the
    // pattern's real end, NUL bytes and all.
    let after = &c_pattern[star + 1..];
    let field = memchr::memmem::find(after, b"->")
        .map(|at| star + 1 + at)
        .filter(|&at| at + 2 < c_pattern.len());
    let postfix_end = field.unwrap_or(pattern.len());
    let mut key = Vec::with_capacity(pattern.len() + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(&pattern[star + 1..postfix_end]);
    let found = db.get_read(&key);
    server.stats.lookup(found.is_some());
    match (&found?.value, field) {
        (Value::Hash(h), Some(at)) => h.get(&pattern[at + 2..]).map(Bytes::copy_from_slice),
        (Value::String(s), None) => Some(s.to_bytes()),
        _ => None,
    }
}

/// Redis converts a listpack sorted set to a skiplist before sorting it,
/// SORT_RO too (OBJECT ENCODING and DUMP show it afterwards). Not a change
/// of the value: not counted, propagated or signalled to WATCH.
fn to_skiplist(db: &mut DbView, key: &[u8]) {
    let listpack = matches!(db.peek(key).map(|e| e.value), Some(Value::ZSet(z)) if z.is_listpack());
    if listpack {
        if let Some(Value::ZSet(z)) = db.get_mut_unwatched(key) {
            z.convert_to_skiplist();
        }
        db.changed_nothing();
    }
}

/// One element to sort (`redisSortObject`): its weight, or the bytes it
/// compares by under ALPHA with BY (None when the BY key is missing).
struct Item {
    element: Bytes,
    score: f64,
    cmp: Option<Bytes>,
}

/// Redis `sortCommandGeneric`.
fn sort_generic(ctx: &mut Ctx, args: &[&[u8]], readonly: bool) -> CmdResult {
    let reads_every_key = match ctx.server.commands.lookup(args) {
        Ok(cmd) => crate::acl::reads_every_key(ctx.client.permissions(&ctx.server.acl), cmd, args),
        Err(_) => true,
    };
    let mut o = Options::parse(args, readonly, reads_every_key)?;
    let server = ctx.server;
    let fill = server.config.list_max_listpack_size();
    let in_script = ctx.client.in_script;
    let mut db = ctx.db();
    to_skiplist(&mut db, args[1]);
    // Redis loads every element (or, when the order is the stored one, the
    // LIMIT range) before looking any other key up.
    let (mut items, start, end) = {
        let found = db.get_read(args[1]);
        server.stats.lookup(found.is_some());
        let value = found.map(|e| e.value);
        if matches!(value, Some(Value::Set(_))) && o.dontsort && (o.store.is_some() || in_script) {
            // A set's order is its hash table's: a stored result, or one a
            // script sees, is sorted so replicas get the same.
            o.dontsort = false;
            o.alpha = true;
            o.by = None;
        }
        let len = match value {
            None => 0,
            Some(Value::List(l)) => l.len(),
            Some(Value::Set(s)) => s.len(),
            Some(Value::ZSet(z)) => z.len(),
            Some(_) => return Err(wrong_type()),
        } as i64;
        // Redis's LIMIT sanitising, signed arithmetic and all.
        let mut start = o.limit_start.max(0).min(len);
        let count = o.limit_count.max(-1).min(len);
        let mut end = if count < 0 {
            len - 1
        } else {
            start + count - 1
        };
        if start >= len {
            start = len - 1;
            end = len - 2;
        }
        end = end.min(len - 1);
        let ordered = matches!(value, None | Some(Value::List(_)) | Some(Value::ZSet(_)));
        let elements: Vec<Bytes> = if ordered && o.dontsort {
            // The stored order, reversed by DESC, only the LIMIT range.
            let take = usize::try_from(end - start + 1).unwrap_or(0);
            let first = usize::try_from(start).unwrap_or(0);
            let out = match value {
                Some(Value::List(l)) if o.desc => {
                    let mut elements = l.iter_rev();
                    elements.skip_elements(first);
                    elements.copied().take(take).map(Bytes::from).collect()
                }
                Some(Value::List(l)) => l
                    .iter_from(first)
                    .copied()
                    .take(take)
                    .map(Bytes::from)
                    .collect(),
                Some(Value::ZSet(z)) if take > 0 => {
                    let rank = if o.desc { z.len() - 1 - first } else { first };
                    z.iter_from(rank, o.desc)
                        .take(take)
                        .map(|(m, _)| Bytes::copy_from_slice(m))
                        .collect()
                }
                _ => Vec::new(),
            };
            end -= start;
            start = 0;
            out
        } else {
            match value {
                Some(Value::List(l)) => l.iter().copied().map(Bytes::from).collect(),
                Some(Value::Set(s)) => s.iter().map(|m| m.to_bytes()).collect(),
                Some(Value::ZSet(z)) => z
                    .iter_from(0, false)
                    .map(|(m, _)| Bytes::copy_from_slice(m))
                    .collect(),
                _ => Vec::new(),
            }
        };
        let items: Vec<Item> = elements
            .into_iter()
            .map(|element| Item {
                element,
                score: 0.0,
                cmp: None,
            })
            .collect();
        (items, start, end)
    };
    let mut conversion_error = false;
    if !o.dontsort {
        for item in &mut items {
            let weight = match o.by {
                Some(pattern) => match by_pattern(server, &mut db, pattern, &item.element) {
                    Some(w) => w,
                    None => continue,
                },
                None => item.element.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    item.cmp = Some(weight);
                }
            } else {
                match strtod_sort_weight(&weight) {
                    Some(score) => item.score = score,
                    None => conversion_error = true,
                }
            }
        }
        // A weight that is not a number fails the command, and an empty
        // range shows nothing: no need to sort.
        if !conversion_error && end >= start {
            let by = o.by.is_some();
            let store = o.store.is_some();
            let mut compare = |a: &Item, b: &Item| {
                let ord = compare_items(a, b, o.alpha, by, store);
                if o.desc {
                    ord.reverse()
                } else {
                    ord
                }
            };
            let whole = start == 0 && end == items.len() as i64 - 1;
            if by && !whole {
                pqsort(&mut items, &mut compare, start as usize, end as usize);
            } else {
                // glibc's qsort is a stable merge sort, so ties keep their order.
                items.sort_by(compare);
            }
        }
    }
    let range = usize::try_from(start).unwrap_or(0)..usize::try_from(end + 1).unwrap_or(0);
    let selected = items.get(range).unwrap_or(&[]);
    let per_item = o.gets.len().max(1);
    if conversion_error {
        return Err(Reply::error(
            "ERR One or more scores can't be converted into double",
        ));
    }
    let mut out: Vec<Option<Bytes>> = Vec::with_capacity(selected.len() * per_item);
    for item in selected {
        if o.gets.is_empty() {
            out.push(Some(item.element.clone()));
        }
        for pattern in &o.gets {
            out.push(by_pattern(server, &mut db, pattern, &item.element));
        }
    }
    let Some(dst) = o.store else {
        return Ok(Reply::Array(
            out.into_iter()
                .map(|v| v.map_or(Reply::Null, Reply::Bulk))
                .collect(),
        ));
    };
    let stored = out.len();
    if stored > 0 {
        let mut list = List::new(fill);
        for v in &out {
            list.push(End::Tail, v.as_deref().unwrap_or(b""));
        }
        db.set(dst, Value::List(Box::new(list)), None);
        db.notify(notify::LIST, "sortstore", dst);
        // Redis counts one change per stored element.
        db.add_changes(stored as u64 - 1);
    } else {
        db.delete(dst);
    }
    Ok(Reply::from(stored as i64))
}

/// Redis `sortCompare` before DESC: weights, ties by the elements' bytes;
/// ALPHA by the BY values (missing ones first) or the elements, compared as
/// C strings in the C.UTF-8 locale's byte order (`strcoll`), or as whole
/// byte strings when storing (`compareStringObjects`).
fn compare_items(a: &Item, b: &Item, alpha: bool, by: bool, store: bool) -> Ordering {
    let text = |x: &[u8], y: &[u8]| {
        if store {
            x.cmp(y)
        } else {
            c_string(x, usize::MAX).cmp(c_string(y, usize::MAX))
        }
    };
    if !alpha {
        return match a.score.partial_cmp(&b.score) {
            Some(Ordering::Equal) | None => a.element.cmp(&b.element),
            Some(ord) => ord,
        };
    }
    if !by {
        return text(&a.element, &b.element);
    }
    match (&a.cmp, &b.cmp) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => text(x, y),
    }
}
