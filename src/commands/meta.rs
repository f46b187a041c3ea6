//! What Redis says about its own commands, replayed.
//!
//! `COMMAND INFO` and `COMMAND DOCS` of Redis 7.0 were captured from a real
//! redis-server as raw RESP3 (`tools/capture_command_meta.py`). At start-up we
//! decode them into [`Reply`] trees. From the INFO entry
//! of each command we take arity, flags and key specs (which drive dispatch and
//! locking); both trees are replayed, filtered to the subcommands we implement,
//! when a client asks COMMAND. One source, so what we do and what we say we do
//! cannot drift apart, and redis-cli's hints come out exactly as with Redis.
//!
//! Commands Redis 7.0 does not have (or that reddish adds) carry their metadata
//! in `reddish-extra-*.resp3`, in the same form. The flags Redis keeps out of
//! COMMAND INFO (`may_replicate`, `protected`, ...) come from its command
//! table, in `redis-7.0-hidden-flags.resp3`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use bytes::Bytes;

use crate::protocol::Reply;

static REDIS_INFO: &[u8] = include_bytes!("redis-7.0-info.resp3");
static REDIS_DOCS: &[u8] = include_bytes!("redis-7.0-docs.resp3");
static EXTRA_INFO: &[u8] = include_bytes!("reddish-extra-info.resp3");
static EXTRA_DOCS: &[u8] = include_bytes!("reddish-extra-docs.resp3");
static HIDDEN_FLAGS: &[u8] = include_bytes!("redis-7.0-hidden-flags.resp3");

/// The captured metadata, by lowercase full name (`get`, `client|id`).
pub struct Catalog {
    pub info: HashMap<String, Reply>,
    pub docs: HashMap<String, Reply>,
    /// The flags COMMAND INFO does not show (`may_replicate`, `protected`,
    /// ...), a set of names for each command that has any, read from Redis's
    /// command table by `tools/hidden_command_flags.py`.
    pub hidden: HashMap<String, Reply>,
}

/// Reads one RESP3 value of the captured files from `buf[*pos..]`. The files
/// use only bulk and simple strings, integers, arrays, sets and maps. (We read
/// them ourselves: redis-protocol keeps RESP3 sets in a hash set, which loses
/// Redis's order and cannot hold the maps Redis puts in sets.)
fn read(buf: &[u8], pos: &mut usize) -> Option<Reply> {
    read_noting(buf, pos, &mut |_, _| {})
}

/// [`read`], telling `aggregate` where each array, set and map read is
/// (start and end offsets in `buf`), the nested ones too.
fn read_noting(
    buf: &[u8],
    pos: &mut usize,
    aggregate: &mut impl FnMut(usize, usize),
) -> Option<Reply> {
    let start = *pos;
    let kind = *buf.get(*pos)?;
    let end = *pos + memchr::memchr(b'\r', &buf[*pos..])?;
    let line = &buf[*pos + 1..end];
    *pos = end + 2;
    let n = || crate::number::parse_i64(line);
    let mut many = |pos: &mut usize, count: i64| -> Option<Vec<Reply>> {
        (0..count)
            .map(|_| read_noting(buf, pos, aggregate))
            .collect()
    };
    let reply = match kind {
        b'+' => Reply::Simple(line.to_vec().into()),
        b'_' => Reply::Null,
        b':' => Reply::Integer(n()?),
        b'$' => {
            let len = usize::try_from(n()?).ok()?;
            let data = Bytes::copy_from_slice(buf.get(*pos..*pos + len)?);
            *pos += len + 2;
            Reply::Bulk(data)
        }
        b'*' => Reply::Array(many(pos, n()?)?),
        b'~' => Reply::Set(many(pos, n()?)?),
        b'%' => {
            let flat = many(pos, 2 * n()?)?;
            let mut it = flat.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            Reply::Map(pairs)
        }
        _ => return None,
    };
    if matches!(kind, b'*' | b'~' | b'%') {
        aggregate(start, *pos);
    }
    Some(reply)
}

/// A COMMAND INFO entry or DOCS value kept as its RESP3 bytes, decoded when
/// a client asks. Decoded trees of every command cost about 3 MB of small
/// allocations, three times all the rest of an idle server's `used_memory`
/// (Redis starts at 0.9 MB), which a small `maxmemory` would then not have
/// for data. Most entries are, byte for byte, part of the captured files
/// built into the binary: those are kept as a slice of them, allocating
/// nothing (copies of them were another 0.3 MB); the entries patched or
/// filtered here own their bytes. COMMAND INFO and DOCS copied the trees
/// before, so decoding instead costs them about the same.
pub struct Packed(Cow<'static, [u8]>);

/// Every array, set and map in the captured files, by its bytes: where
/// [`Packed::new`] finds an entry's encoding to borrow it. Built once while
/// the command table is (searching the files for each entry instead took
/// 40 ms of start-up).
pub struct BuiltIn(HashSet<&'static [u8]>);

impl BuiltIn {
    pub fn index() -> BuiltIn {
        let mut found = HashSet::new();
        for file in [REDIS_INFO, REDIS_DOCS, EXTRA_INFO, EXTRA_DOCS] {
            read_noting(file, &mut 0, &mut |start, end| {
                found.insert(&file[start..end]);
            });
        }
        BuiltIn(found)
    }
}

impl Packed {
    pub fn new(reply: &Reply, built_in: &BuiltIn) -> Packed {
        let mut out = bytes::BytesMut::new();
        crate::protocol::encode(reply, crate::protocol::Resp::V3, &mut out);
        Packed(match built_in.0.get(&out[..]) {
            Some(bytes) => Cow::Borrowed(bytes),
            None => Cow::Owned(out[..].into()),
        })
    }

    pub fn unpack(&self) -> Reply {
        decode_all(&self.0)
    }
}

fn decode_all(bytes: &[u8]) -> Reply {
    // The files are part of the build; a broken one is caught by the tests.
    read(bytes, &mut 0).unwrap_or(Reply::Array(Vec::new()))
}

/// The name of a COMMAND INFO entry (its first element).
pub fn info_name(entry: &Reply) -> Option<String> {
    match entry {
        Reply::Array(items) => match items.first() {
            Some(Reply::Bulk(name)) => Some(String::from_utf8_lossy(name).to_lowercase()),
            _ => None,
        },
        _ => None,
    }
}

fn add_info(into: &mut HashMap<String, Reply>, all: Reply) {
    if let Reply::Array(entries) = all {
        for entry in entries {
            if let Some(name) = info_name(&entry) {
                into.insert(name, entry);
            }
        }
    }
}

/// Adds the entries of a map keyed by command name (COMMAND DOCS, the
/// hidden flags), under the lowercase name.
fn add_by_name(into: &mut HashMap<String, Reply>, all: Reply) {
    if let Reply::Map(pairs) = all {
        for (name, doc) in pairs {
            if let Reply::Bulk(name) = name {
                into.insert(String::from_utf8_lossy(&name).to_lowercase(), doc);
            }
        }
    }
}

impl Catalog {
    pub fn load() -> Catalog {
        let mut info = HashMap::new();
        let mut docs = HashMap::new();
        add_info(&mut info, decode_all(REDIS_INFO));
        add_by_name(&mut docs, decode_all(REDIS_DOCS));
        // Extras patch Redis's entries: a whole command, or a subcommand of one.
        if let Reply::Array(entries) = decode_all(EXTRA_INFO) {
            for entry in entries {
                let Some(name) = info_name(&entry) else {
                    continue;
                };
                match name.split_once('|') {
                    Some((parent, _)) => {
                        if let Some(Reply::Array(items)) = info.get_mut(parent) {
                            if let Some(Reply::Array(subs)) = items.get_mut(9) {
                                subs.push(entry);
                            }
                        }
                    }
                    None => {
                        info.insert(name, entry);
                    }
                }
            }
        }
        if let Reply::Map(pairs) = decode_all(EXTRA_DOCS) {
            for (name, doc) in pairs {
                let Reply::Bulk(name) = name else { continue };
                let name = String::from_utf8_lossy(&name).to_lowercase();
                match name.split_once('|') {
                    Some((parent, _)) => {
                        if let Some(Reply::Map(fields)) = docs.get_mut(parent) {
                            if let Some((_, Reply::Map(subs))) = fields.iter_mut().find(
                                |(k, _)| matches!(k, Reply::Bulk(b) if &b[..] == b"subcommands"),
                            ) {
                                subs.push((Reply::Bulk(name.into()), doc));
                            }
                        }
                    }
                    None => {
                        docs.insert(name, doc);
                    }
                }
            }
        }
        let mut hidden = HashMap::new();
        add_by_name(&mut hidden, decode_all(HIDDEN_FLAGS));
        Catalog { info, docs, hidden }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_files_decode() {
        for file in [REDIS_INFO, REDIS_DOCS, EXTRA_INFO, EXTRA_DOCS, HIDDEN_FLAGS] {
            let mut pos = 0;
            assert!(read(file, &mut pos).is_some());
            assert_eq!(pos, file.len());
        }
        let catalog = Catalog::load();
        assert!(catalog.info.contains_key("get"));
        assert!(catalog.docs.contains_key("get"));
        assert!(catalog.hidden.contains_key("publish"));
    }
}
