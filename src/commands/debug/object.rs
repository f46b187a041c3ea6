//! DEBUG OBJECT, LISTPACK and QUICKLIST: low-level looks at one value.
//!
//! DEBUG OBJECT answers Redis's one status line,
//! `Value at:0x... refcount:1 encoding:<enc> serializedlength:<n> lru:<n>
//! lru_seconds_idle:<n>`, plus the quicklist fields for lists. Tests parse
//! it with `regexp` for a field or two (`serializedlength` most often, to see
//! a value grow), so the fields and their order are Redis's; the numbers
//! describe our own structures. The encoding is OBJECT ENCODING's.
//!
//! `serializedlength` is an estimate of what Redis's RDB writer would write
//! for the value (`rdbSavedObjectLen`): RDB length prefixes, integer-encoded
//! strings and listpack blobs sized by Redis's listpack rules. It leaves out
//! LZF compression (`rdbcompression`), which Redis tries on strings over 20
//! bytes: exact figures would need LZF itself, and RDB support will bring it.

use crate::commands::keys::{is_shared_integer, object_lookup, refcount};
use crate::commands::{CmdResult, Ctx};
use crate::keyspace::{Entry, StringValue, Value};
use crate::number::{format_double, parse_i64};
use crate::protocol::Reply;
use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::set::Set;
use crate::types::zset::ZSet;

const NO_SUCH_KEY: &str = "ERR no such key";

/// DEBUG OBJECT <key>. Like Redis it finds the key without touching it or
/// expiring it (`dictFind`): a key past its TTL that is still stored is
/// described, which the suite uses to tell whether a key was reclaimed.
pub fn describe(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let now = ctx.server.keyspace.lru_clock.now_ms();
    let compressed = ctx.server.config.list_compress_depth() != 0;
    let (shared, line) = ctx
        .db()
        .stored(key)
        .map(|entry| {
            (
                is_shared_integer(&entry.value),
                describe_line(entry, now, compressed),
            )
        })
        .ok_or_else(|| Reply::error(NO_SUCH_KEY))?;
    let refcount = refcount(ctx, shared);
    let (address, rest) = line;
    Ok(Reply::Simple(
        format!("Value at:{address} refcount:{refcount} {rest}")
            .into_bytes()
            .into(),
    ))
}

/// The value's address and its line after the refcount.
fn describe_line(entry: &Entry, now_ms: u64, compressed: bool) -> (String, String) {
    let address = format!("{:p}", entry as *const Entry);
    let mut rest = format!(
        "encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        entry.value.encoding_name(),
        serialized_len(&entry.value),
        entry.access.lru_field(),
        entry.access.idle_secs(now_ms),
    );
    if let Value::List(list) = &entry.value {
        rest.push_str(&quicklist_fields(list, compressed));
    }
    (address, rest)
}

/// The quicklist fields DEBUG OBJECT appends for a list. Node sizes are
/// the listpack sizes Redis would have for the same entries.
fn quicklist_fields(list: &List, compressed: bool) -> String {
    let nodes = list.nodes();
    let uncompressed: usize = node_listpacks(list).map(|(_, bytes)| bytes).sum();
    format!(
        " ql_nodes:{nodes} ql_avg_node:{:.2} ql_listpack_max:{} ql_compressed:{} ql_uncompressed_size:{uncompressed}",
        list.len() as f64 / nodes as f64,
        list.fill(),
        u8::from(compressed),
    )
}

/// Each node's entry count and the size of the listpack Redis would hold
/// its entries in.
fn node_listpacks(list: &List) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut elements = list.iter();
    list.node_sizes().map(move |(count, _)| {
        let bytes = listpack_size(elements.by_ref().take(count).map(Element::Bytes));
        (count, bytes)
    })
}

/// DEBUG LISTPACK <key>: prints a listpack-encoded hash or sorted set on
/// stdout, as Redis's `lpRepr` does, and says so.
pub fn listpack_dump(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let dump = object_lookup(ctx, key, false, |entry| match &entry.value {
        Value::Hash(hash @ Hash::Listpack(_)) => Some(hash_dump(hash)),
        Value::ZSet(zset @ ZSet::Listpack(_)) => Some(zset_dump(zset)),
        _ => None,
    })
    .ok_or_else(|| Reply::error(NO_SUCH_KEY))?
    .ok_or_else(|| Reply::error("ERR Not a listpack encoded object."))?;
    println!("{dump}");
    Ok(Reply::simple("Listpack structure printed on stdout"))
}

fn hash_dump(hash: &Hash) -> String {
    let pairs: Vec<_> = hash.iter().collect();
    let elements = pairs.iter().flat_map(|(f, v)| [*f, *v]);
    let mut out = listpack_header(
        listpack_size(elements.clone().map(Element::Bytes)),
        2 * pairs.len(),
    );
    for (index, element) in elements.enumerate() {
        out.push_str(&format!(
            "{{{index}: {}}}\n",
            String::from_utf8_lossy(element)
        ));
    }
    out + "{end}"
}

fn zset_dump(zset: &ZSet) -> String {
    let items: Vec<_> = zset.iter_from(0, false).collect();
    let size = listpack_size(
        items
            .iter()
            .flat_map(|(m, s)| [Element::Bytes(m), Element::Score(*s)]),
    );
    let mut out = listpack_header(size, 2 * items.len());
    for (index, (member, score)) in items.iter().enumerate() {
        let mut text = Vec::new();
        format_double(*score, &mut text);
        out.push_str(&format!(
            "{{{}: {}}}\n{{{}: {}}}\n",
            2 * index,
            String::from_utf8_lossy(member),
            2 * index + 1,
            String::from_utf8_lossy(&text),
        ));
    }
    out + "{end}"
}

fn listpack_header(bytes: usize, entries: usize) -> String {
    format!("{{total bytes {bytes}}} {{num entries {entries}}}\n")
}

/// DEBUG QUICKLIST <key> [<0|1>]: prints a list's nodes on stdout (their
/// entries too when the level, read as C's `atoi`, is not 0), as Redis's
/// `quicklistRepr` does, and says so.
pub fn quicklist_dump(ctx: &mut Ctx, key: &[u8], level: Option<&[u8]>) -> CmdResult {
    let full = level.is_some_and(|l| super::atoi(l) != 0);
    let compress = ctx.server.config.list_compress_depth();
    let dump = object_lookup(ctx, key, false, |entry| match &entry.value {
        Value::List(list) => Some(list_dump(list, compress, full)),
        _ => None,
    })
    .ok_or_else(|| Reply::error(NO_SUCH_KEY))?
    .ok_or_else(|| Reply::error("ERR Not a quicklist encoded object."))?;
    println!("{dump}");
    Ok(Reply::simple("Quicklist structure printed on stdout"))
}

fn list_dump(list: &List, compress: u64, full: bool) -> String {
    let mut out = format!(
        "{{count : {}}}\n{{len : {}}}\n{{fill : {}}}\n{{compress : {compress}}}\n{{bookmark_count : 0}}\n",
        list.len(),
        list.nodes(),
        list.fill(),
    );
    let mut elements = list.iter();
    for (i, (count, bytes)) in node_listpacks(list).enumerate() {
        out.push_str(&format!(
            "{{quicklist node({i})\n{{container : PACKED, encoding: RAW, recompress: 0, attempted_compress: 0}}\n{{sz: {bytes}, count: {count}}}\n"
        ));
        for element in elements.by_ref().take(count) {
            if full {
                out.push_str(&format!("{}\n", String::from_utf8_lossy(element)));
            }
        }
        out.push_str("}\n");
    }
    out
}

/// One listpack entry: a string (stored as an integer when it is one) or a
/// sorted set score (stored as an integer when it is integral).
#[derive(Clone, Copy)]
enum Element<'a> {
    Bytes(&'a [u8]),
    Score(f64),
}

/// Redis's `lpBytes` for these entries: a 6-byte header, the entries
/// (encoding, data, back-length), an end byte.
fn listpack_size<'a>(elements: impl Iterator<Item = Element<'a>>) -> usize {
    6 + elements.map(listpack_entry_size).sum::<usize>() + 1
}

fn listpack_entry_size(element: Element) -> usize {
    let integer = match element {
        Element::Bytes(b) => parse_i64(b),
        Element::Score(s) => (s.fract() == 0.0 && s.abs() < 9.0e15).then_some(s as i64),
    };
    let encoded = match integer {
        Some(n) if (0..=127).contains(&n) => 1,
        Some(n) if (-4096..4096).contains(&n) => 2,
        Some(n) if i16::try_from(n).is_ok() => 3,
        Some(n) if (-(1 << 23)..1 << 23).contains(&n) => 4,
        Some(n) if i32::try_from(n).is_ok() => 5,
        Some(_) => 9,
        None => {
            let len = match element {
                Element::Bytes(b) => b.len(),
                Element::Score(s) => {
                    let mut text = Vec::new();
                    format_double(s, &mut text);
                    text.len()
                }
            };
            len + match len {
                0..=63 => 1,
                64..=4095 => 2,
                _ => 5,
            }
        }
    };
    let backlen = match encoded {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    encoded + backlen
}

/// `rdbSaveLen`'s size for a length.
fn length_size(len: usize) -> usize {
    match len {
        0..=63 => 1,
        64..=16383 => 2,
        _ if u32::try_from(len).is_ok() => 5,
        _ => 9,
    }
}

/// `rdbSaveRawString`'s size (without LZF): a short string that is a
/// 32-bit integer is saved as one, others as length and bytes.
fn rdb_string_size(bytes: &[u8]) -> usize {
    if bytes.len() <= 11 {
        if let Some(size) = parse_i64(bytes).and_then(rdb_integer_size) {
            return size;
        }
    }
    length_size(bytes.len()) + bytes.len()
}

/// `rdbEncodeInteger`: 8, 16 and 32-bit integers take a type byte and the value.
fn rdb_integer_size(n: i64) -> Option<usize> {
    if i8::try_from(n).is_ok() {
        Some(2)
    } else if i16::try_from(n).is_ok() {
        Some(3)
    } else if i32::try_from(n).is_ok() {
        Some(5)
    } else {
        None
    }
}

/// A blob Redis saves as one RDB string (a listpack, an intset).
fn rdb_blob_size(bytes: usize) -> usize {
    length_size(bytes) + bytes
}

/// The estimate of `rdbSavedObjectLen` (see the module comment).
fn serialized_len(value: &Value) -> usize {
    match value {
        Value::String(StringValue::Int(n)) => rdb_integer_size(*n)
            .unwrap_or_else(|| rdb_string_size(itoa::Buffer::new().format(*n).as_bytes())),
        Value::String(StringValue::Embstr(e)) => rdb_string_size(e),
        Value::String(StringValue::Raw(b)) => rdb_string_size(b),
        // Quicklist 2: node count, then each node's container type and listpack.
        Value::List(list) => {
            length_size(list.nodes())
                + node_listpacks(list)
                    .map(|(_, bytes)| 1 + rdb_blob_size(bytes))
                    .sum::<usize>()
        }
        Value::Set(set @ Set::Intset(ints)) => {
            rdb_blob_size(8 + set.len() * (ints.width() as usize / 8))
        }
        Value::Set(set) => {
            length_size(set.len())
                + set
                    .iter()
                    .map(|m| m.with_bytes(rdb_string_size))
                    .sum::<usize>()
        }
        Value::Hash(hash @ Hash::Listpack(_)) => rdb_blob_size(listpack_size(
            hash.iter()
                .flat_map(|(f, v)| [Element::Bytes(f), Element::Bytes(v)]),
        )),
        Value::Hash(hash) => {
            length_size(hash.len())
                + hash
                    .iter()
                    .map(|(f, v)| rdb_string_size(f) + rdb_string_size(v))
                    .sum::<usize>()
        }
        Value::ZSet(zset @ ZSet::Listpack(_)) => rdb_blob_size(listpack_size(
            zset.iter_from(0, false)
                .flat_map(|(m, s)| [Element::Bytes(m), Element::Score(s)]),
        )),
        // Members with their scores as 8-byte binary doubles.
        Value::ZSet(zset) => {
            length_size(zset.len())
                + zset
                    .iter_from(0, false)
                    .map(|(m, _)| rdb_string_size(m) + 8)
                    .sum::<usize>()
        }
        // A rough estimate: Redis saves a stream's listpack nodes, whose
        // bytes are most of its memory.
        Value::Stream(stream) => stream.memory(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_sizes_follow_redis() {
        // lpNew + "a" + "1": 6 + (1+1+1) + (1+1) + 1.
        let elements = [Element::Bytes(b"a"), Element::Bytes(b"1")];
        assert_eq!(listpack_size(elements.into_iter()), 12);
        assert_eq!(listpack_entry_size(Element::Bytes(&[b'x'; 100])), 102 + 1);
        assert_eq!(listpack_entry_size(Element::Score(1.5)), 5);
        assert_eq!(listpack_entry_size(Element::Score(1000.0)), 3);
    }

    #[test]
    fn rdb_strings() {
        assert_eq!(rdb_string_size(b"12"), 2);
        assert_eq!(rdb_string_size(b"1000"), 3);
        assert_eq!(rdb_string_size(b"012"), 4);
        assert_eq!(rdb_string_size(b"hello"), 6);
        assert_eq!(
            serialized_len(&Value::String(StringValue::Int(1 << 40))),
            14
        );
    }
}
