//! DEBUG OBJECT, LISTPACK and QUICKLIST: low-level looks at one value.
//!
//! DEBUG OBJECT answers Redis's one status line,
//! `Value at:0x... refcount:1 encoding:<enc> serializedlength:<n> lru:<n>
//! lru_seconds_idle:<n>`, plus the quicklist fields for lists. Tests parse
//! it with `regexp` for a field or two (`serializedlength` most often, to see
//! a value grow), so the fields and their order are Redis's; the numbers
//! describe our own structures. The encoding is OBJECT ENCODING's.
//!
//! `serializedlength` is what the RDB writer writes for the value
//! (Redis's `rdbSavedObjectLen`), LZF compression included when
//! `rdbcompression` is on.

use crate::commands::keys::{is_shared_integer, object_lookup, refcount};
use crate::commands::{CmdResult, Ctx};
use crate::keyspace::{EntryRef, Value};
use crate::number::format_double;
use crate::protocol::Reply;
use crate::rdb::listpack;
use crate::rdb::write::Writer;
use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::zset::ZSet;

const NO_SUCH_KEY: &str = "ERR no such key";

/// DEBUG OBJECT <key>. Like Redis it finds the key without touching it or
/// expiring it (`dictFind`): a key past its TTL that is still stored is
/// described, which the suite uses to tell whether a key was reclaimed.
pub fn describe(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let now = ctx.server.keyspace.lru_clock.now_ms();
    let compressed = ctx.server.config.list_compress_depth() != 0;
    let rdb_compression = ctx.server.config.rdbcompression();
    let (shared, line) = ctx
        .db()
        .stored(key)
        .map(|entry| {
            (
                is_shared_integer(entry.value),
                describe_line(entry, now, compressed, rdb_compression),
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
fn describe_line(
    entry: EntryRef<'_>,
    now_ms: u64,
    compressed: bool,
    rdb_compression: bool,
) -> (String, String) {
    let address = format!("{:p}", entry.value as *const Value);
    let mut rest = format!(
        "encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        entry.value.encoding_name(),
        serialized_len(entry.value, rdb_compression),
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

/// Each node's entry count and its listpack's size.
fn node_listpacks(list: &List) -> impl Iterator<Item = (usize, usize)> + '_ {
    list.node_sizes()
}

/// Redis's `lpBytes` for these elements.
fn listpack_size<'a>(elements: impl Iterator<Item = &'a [u8]>) -> usize {
    listpack::OVERHEAD + elements.map(listpack::entry_size).sum::<usize>()
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
    let mut elements = Vec::with_capacity(2 * hash.len());
    hash.for_each(|field, value| elements.extend([field.to_vec(), value.to_vec()]));
    let elements = elements.iter().map(Vec::as_slice);
    let mut out = listpack_header(listpack_size(elements.clone()), elements.len());
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
    let scores: Vec<Vec<u8>> = items
        .iter()
        .map(|(_, score)| {
            let mut text = Vec::new();
            listpack::score_text(*score, &mut text);
            text
        })
        .collect();
    let size = listpack_size(
        items
            .iter()
            .zip(&scores)
            .flat_map(|((m, _), s)| [*m, s.as_slice()]),
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
        for _ in 0..count {
            match elements.next_element() {
                Some(element) if full => {
                    out.push_str(&format!("{}\n", String::from_utf8_lossy(element)));
                }
                _ => {}
            }
        }
        out.push_str("}\n");
    }
    out
}

/// `rdbSavedObjectLen`: the bytes the RDB writer writes for the value.
fn serialized_len(value: &Value, compress: bool) -> usize {
    let mut w = Writer::new(compress);
    w.value(value);
    w.out.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::StringValue;

    #[test]
    fn listpack_sizes_follow_redis() {
        // lpNew + "a" + "1": 6 + (1+1+1) + (1+1) + 1.
        assert_eq!(listpack_size([&b"a"[..], b"1"].into_iter()), 12);
    }

    #[test]
    fn serialized_lengths() {
        let int = Value::String(StringValue::Int(1 << 40));
        assert_eq!(serialized_len(&int, true), 14);
        let small = Value::String(StringValue::Int(1000));
        assert_eq!(serialized_len(&small, true), 3);
    }
}
