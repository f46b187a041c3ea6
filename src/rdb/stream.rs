//! Streams in the RDB file and DUMP payloads: `RDB_TYPE_STREAM_LISTPACKS_2`
//! as Redis 7.0 writes it (rdb.c's OBJ_STREAM branch of `rdbSaveObject`,
//! `rdbSaveStreamPEL`, `rdbSaveStreamConsumers`), and that type and the
//! older `RDB_TYPE_STREAM_LISTPACKS` read back (`rdbLoadObject`).
//!
//! Each node is saved as its key (the master ID, 16 bytes big-endian, as
//! the radix tree key) and the listpack Redis holds for it (t_stream.c's
//! layout): the master entry `live, deleted, field count, names..., 0`,
//! then per record `flags, ms delta, seq delta, [field count, field, value
//! ...] | [value ...], lp-count`. Deleted records stay in the listpack, so
//! a loaded node is rebuilt record for record and saves the same bytes.

use bytes::Bytes;

use super::listpack::{self, Builder, Item};
use super::load::{Reader, Result};
use super::write::Writer;
use crate::types::stream::{Consumer, Group, Nack, NodeView, Stream, StreamId};

/// `STREAM_ITEM_FLAG_DELETED`, `STREAM_ITEM_FLAG_SAMEFIELDS`.
const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

/// An ID as Redis's radix tree keys it (`streamEncodeID`): big-endian ms
/// then seq, so byte order is ID order.
fn raw_id(id: StreamId) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&id.ms.to_be_bytes());
    out[8..].copy_from_slice(&id.seq.to_be_bytes());
    out
}

/// [`raw_id`] backwards; `None` unless exactly 16 bytes.
fn id_from_raw(raw: &[u8]) -> Option<StreamId> {
    let ms = u64::from_be_bytes(raw.get(..8)?.try_into().ok()?);
    let seq = u64::from_be_bytes(raw.get(8..)?.try_into().ok()?);
    (raw.len() == 16).then_some(StreamId::new(ms, seq))
}

/// The listpack Redis holds for a node (`streamAppendItem`'s layout, with
/// the flags and master counts XDEL and XTRIM leave).
fn node_listpack(node: NodeView<'_>) -> Vec<u8> {
    let mut lp = Builder::default();
    lp.push_int(node.live() as i64);
    lp.push_int(node.deleted() as i64);
    lp.push_int(node.master_field_count() as i64);
    for name in node.master_fields() {
        lp.push(name);
    }
    lp.push_int(0);
    let master = node.master();
    for record in node.records() {
        let flags = if record.deleted { FLAG_DELETED } else { 0 }
            | if record.same_fields {
                FLAG_SAMEFIELDS
            } else {
                0
            };
        lp.push_int(flags);
        // Redis subtracts as unsigned 64-bit and stores the result as a
        // signed integer: the seq delta wraps when the ms differ.
        let id = record.entry.id;
        lp.push_int(id.ms.wrapping_sub(master.ms) as i64);
        lp.push_int(id.seq.wrapping_sub(master.seq) as i64);
        let fields = if record.same_fields {
            let mut n = 0;
            for value in record.entry.values() {
                lp.push(value);
                n += 1;
            }
            n
        } else {
            let items = record.entry.item_count();
            lp.push_int((items / 2) as i64);
            for item in record.entry.items() {
                lp.push(item);
            }
            items / 2
        };
        // The record's element count, so it can be walked backwards.
        let lp_count = if record.same_fields {
            fields + 3
        } else {
            2 * fields + 4
        };
        lp.push_int(lp_count as i64);
    }
    lp.finish()
}

/// Writes a stream as `RDB_TYPE_STREAM_LISTPACKS_2`.
pub fn write(w: &mut Writer, stream: &Stream) {
    w.len(stream.node_count());
    for node in stream.node_views() {
        w.string(&raw_id(node.master()));
        w.string(&node_listpack(node));
    }
    w.len(stream.len() as usize);
    for id in [stream.last_id, stream.first_id, stream.max_deleted_id] {
        w.len(id.ms as usize);
        w.len(id.seq as usize);
    }
    w.len(stream.entries_added as usize);
    w.len(stream.groups.len());
    for (name, group) in &stream.groups {
        w.string(name);
        w.len(group.last_id.ms as usize);
        w.len(group.last_id.seq as usize);
        // -1 (unknown) is saved as the unsigned 64-bit length it casts to.
        w.len(group.entries_read as u64 as usize);
        w.len(group.pel.len());
        for (id, nack) in &group.pel {
            w.out.extend_from_slice(&raw_id(*id));
            w.out.extend_from_slice(&nack.delivery_time.to_le_bytes());
            w.len(nack.delivery_count as usize);
        }
        w.len(group.consumers.len());
        for (name, consumer) in &group.consumers {
            w.string(name);
            w.out.extend_from_slice(&consumer.seen_time.to_le_bytes());
            w.len(consumer.pel.len());
            for id in &consumer.pel {
                w.out.extend_from_slice(&raw_id(*id));
            }
        }
    }
}

/// A listpack element that must be an integer (`lpGetIntegerIfValid`:
/// one stored as text that reads as an integer counts too).
fn int(item: Option<&Item>) -> Result<i64> {
    match item {
        Some(Item::Int(n)) => Ok(*n),
        Some(Item::Str(s)) => crate::number::parse_i64(s).ok_or_else(bad_node),
        None => Err(bad_node()),
    }
}

fn bad_node() -> String {
    "Stream listpack integrity check failed".into()
}

/// A count read from a listpack: not negative and not more than the
/// elements that remain (so nothing is sized by a corrupt number).
fn item_count(item: Option<&Item>, remaining: usize) -> Result<usize> {
    usize::try_from(int(item)?)
        .ok()
        .filter(|&n| n <= remaining)
        .ok_or_else(bad_node)
}

/// One node's listpack, validated as `streamValidateListpackIntegrity`'s
/// deep check (and a little more: the master counts must match the
/// records' flags), added to `stream` after the nodes before it.
fn load_node(stream: &mut Stream, master: StreamId, blob: &[u8]) -> Result<()> {
    let items = listpack::read(blob).ok_or_else(bad_node)?;
    if items.is_empty() {
        return Err("Empty listpack inside stream".into());
    }
    let texts: Vec<Vec<u8>> = items.iter().map(|i| i.to_vec()).collect();
    // `next(n)`: where the next `n` elements start, refused past the end.
    let at = std::cell::Cell::new(0usize);
    let next = |n: usize| -> Result<usize> {
        let here = at.get();
        at.set(
            here.checked_add(n)
                .filter(|&a| a <= items.len())
                .ok_or_else(bad_node)?,
        );
        Ok(here)
    };
    let live = int(items.get(next(1)?))?;
    let deleted = int(items.get(next(1)?))?;
    let master_fields = item_count(items.get(next(1)?), items.len())?;
    let names_at = next(master_fields)?;
    if int(items.get(next(1)?))? != 0 {
        return Err(bad_node());
    }
    let names = &texts[names_at..names_at + master_fields];
    let mut records = Vec::new();
    let (mut seen_live, mut seen_deleted) = (0i64, 0i64);
    while at.get() < items.len() {
        let flags = int(items.get(next(1)?))?;
        if flags & !(FLAG_DELETED | FLAG_SAMEFIELDS) != 0 {
            return Err(bad_node());
        }
        let ms_delta = int(items.get(next(1)?))? as u64;
        let seq_delta = int(items.get(next(1)?))? as u64;
        let id = StreamId::new(
            master.ms.wrapping_add(ms_delta),
            master.seq.wrapping_add(seq_delta),
        );
        let mut pairs: Vec<&[u8]> = Vec::new();
        let fields = if flags & FLAG_SAMEFIELDS != 0 {
            let values_at = next(master_fields)?;
            for (name, value) in names
                .iter()
                .zip(&texts[values_at..values_at + master_fields])
            {
                pairs.push(name);
                pairs.push(value);
            }
            master_fields
        } else {
            let n = item_count(items.get(next(1)?), items.len())?;
            let pairs_at = next(n * 2)?;
            pairs.extend(texts[pairs_at..pairs_at + 2 * n].iter().map(Vec::as_slice));
            n
        };
        let lp_count = int(items.get(next(1)?))?;
        let want = if flags & FLAG_SAMEFIELDS != 0 {
            fields + 3
        } else {
            2 * fields + 4
        };
        if lp_count != want as i64 {
            return Err(bad_node());
        }
        let is_deleted = flags & FLAG_DELETED != 0;
        if is_deleted {
            seen_deleted += 1;
        } else {
            seen_live += 1;
        }
        records.push((id, is_deleted, pairs));
    }
    if (seen_live, seen_deleted) != (live, deleted) {
        return Err(bad_node());
    }
    stream
        .push_loaded_node(master, names.iter().map(Vec::as_slice), &records)
        .map_err(str::to_string)
}

/// Two lengths as an ID (how the stream's and groups' IDs are saved).
fn read_id(r: &mut Reader) -> Result<StreamId> {
    Ok(StreamId::new(r.length()?, r.length()?))
}

/// A 16-byte raw ID (the PELs').
fn read_raw_id(r: &mut Reader) -> Result<StreamId> {
    id_from_raw(r.bytes(16)?).ok_or_else(|| "bad stream ID".to_string())
}

/// Reads a stream of RDB type `STREAM_LISTPACKS` (15) or, with `v2`,
/// `STREAM_LISTPACKS_2` (19). Redis 7.0 knows no third version.
pub fn load(r: &mut Reader, v2: bool) -> Result<Stream> {
    let mut stream = Stream::new();
    let nodes = r.count()?;
    for _ in 0..nodes {
        let key = r.string()?;
        let master =
            id_from_raw(&key).ok_or("Stream node key entry is not the size of a stream ID")?;
        let blob = r.string()?;
        load_node(&mut stream, master, &blob)?;
    }
    let length = r.length()?;
    let (live, greatest) = stream.loaded_extent();
    if length != live {
        return Err("Stream length inconsistent with its entries".into());
    }
    stream.last_id = read_id(r)?;
    if greatest.is_some_and(|g| g > stream.last_id) {
        return Err("Stream entry past the stream's last ID".into());
    }
    if v2 {
        stream.first_id = read_id(r)?;
        stream.max_deleted_id = read_id(r)?;
        stream.entries_added = r.length()?;
    } else {
        // As Redis migrates an older stream: every entry counts as added,
        // no tombstone is known, and the first ID is the first live one
        // (`streamGetEdgeID`: the greatest ID when there is none).
        stream.max_deleted_id = StreamId::MIN;
        stream.entries_added = length;
        stream.first_id = stream.first_entry().map_or(StreamId::MAX, |e| e.id);
    }
    let groups = r.count()?;
    for _ in 0..groups {
        let name = Bytes::from(r.string()?.into_owned());
        let last_id = read_id(r)?;
        let entries_read = if v2 {
            // Saved as an unsigned length: -1 (unknown) comes back as such.
            r.length()? as i64
        } else {
            stream.estimate_distance(last_id)
        };
        if stream.groups.contains_key(&name) {
            return Err("Duplicated consumer group name".into());
        }
        let mut group = Group::new(last_id, entries_read);
        // The PEL's owners are not known until the consumers are read.
        let mut owners: std::collections::BTreeMap<StreamId, Option<Bytes>> =
            std::collections::BTreeMap::new();
        let pel = r.count()?;
        for _ in 0..pel {
            let id = read_raw_id(r)?;
            let nack = Nack {
                delivery_time: r.u64_le()?,
                delivery_count: r.length()?,
                consumer: Bytes::new(),
            };
            if group.pel.insert(id, nack).is_some() {
                return Err("Duplicated global PEL entry loading stream consumer group".into());
            }
            owners.insert(id, None);
        }
        let consumers = r.count()?;
        for _ in 0..consumers {
            let cname = Bytes::from(r.string()?.into_owned());
            if group.consumers.contains_key(&cname) {
                return Err("Duplicate stream consumer detected".into());
            }
            let mut consumer = Consumer {
                seen_time: r.u64_le()?,
                ..Consumer::default()
            };
            let n = r.count()?;
            for _ in 0..n {
                let id = read_raw_id(r)?;
                let owner = owners
                    .get_mut(&id)
                    .ok_or("Consumer entry not found in group global PEL")?;
                // Redis would let the last consumer win and leave the entry
                // in both consumer PELs; we refuse the inconsistency.
                if owner.is_some() || !consumer.pel.insert(id) {
                    return Err(
                        "Duplicated consumer PEL entry loading a stream consumer group".into(),
                    );
                }
                *owner = Some(cname.clone());
            }
            group.consumers.insert(cname, consumer);
        }
        for (id, owner) in owners {
            let owner = owner.ok_or("Stream CG PEL entry without consumer")?;
            if let Some(nack) = group.pel.get_mut(&id) {
                nack.consumer = owner;
            }
        }
        stream.groups.insert(name, group);
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ids_are_big_endian_and_round_trip() {
        let id = StreamId::new(0x0102, 7);
        let raw = raw_id(id);
        assert_eq!(raw[6..8], [1, 2]);
        assert_eq!(raw[15], 7);
        assert_eq!(id_from_raw(&raw), Some(id));
        assert_eq!(id_from_raw(&raw[1..]), None);
    }

    #[test]
    fn a_stream_round_trips_with_deleted_entries_and_groups() {
        let mut s = Stream::new();
        for ms in 1..=7u64 {
            let id = StreamId::new(ms, 0);
            let pairs: [&[u8]; 4] = if ms == 4 {
                [b"x", b"1", b"y", b"-5"]
            } else {
                [b"f", b"v", b"n", b"12345678901"]
            };
            s.append(id, &pairs, 3, 4096).expect("append");
        }
        assert!(s.delete(StreamId::new(2, 0)));
        let mut g = Group::new(StreamId::new(5, 0), 5);
        g.consumers.insert(Bytes::from("c"), Consumer::default());
        g.pel.insert(
            StreamId::new(3, 0),
            Nack {
                delivery_time: 99,
                delivery_count: 2,
                consumer: Bytes::from("c"),
            },
        );
        g.assign(StreamId::new(3, 0), b"c");
        s.groups.insert(Bytes::from("g"), g);
        let mut w = Writer::new(false);
        write(&mut w, &s);
        let mut r = Reader::new(&w.out);
        let back = load(&mut r, true).expect("loads");
        assert_eq!(r.remaining(), 0);
        let mut w2 = Writer::new(false);
        write(&mut w2, &back);
        assert_eq!(w.out, w2.out);
        assert_eq!(back.len(), 6);
        assert_eq!(back.node_count(), 3);
        assert_eq!(
            back.groups[&b"g"[..]].pel[&StreamId::new(3, 0)].consumer,
            "c"
        );
    }

    /// A stream with one group, two consumers and two pending entries.
    fn with_group() -> Stream {
        let mut s = Stream::new();
        for ms in 1..=3u64 {
            s.append(StreamId::new(ms, 0), &[b"f", b"v"], 100, 4096)
                .expect("append");
        }
        let mut g = Group::new(StreamId::new(3, 0), 3);
        for (c, ms) in [("a", 1), ("b", 2)] {
            g.consumers.insert(Bytes::from(c), Consumer::default());
            g.pel.insert(
                StreamId::new(ms, 0),
                Nack {
                    delivery_time: 1,
                    delivery_count: 1,
                    consumer: Bytes::from(c),
                },
            );
            g.assign(StreamId::new(ms, 0), c.as_bytes());
        }
        s.groups.insert(Bytes::from("g"), g);
        s
    }

    fn reload(s: &Stream) -> Result<Stream> {
        let mut w = Writer::new(false);
        write(&mut w, s);
        load(&mut Reader::new(&w.out), true)
    }

    #[test]
    fn inconsistent_streams_are_refused() {
        assert!(reload(&with_group()).is_ok());
        let group = |s: &mut Stream| s.groups.get_mut(&b"g"[..]).expect("group").clone();
        let cases: [fn(&mut Stream, &mut Group); 4] = [
            // A consumer's pending entry missing from the group's PEL.
            |_, g| {
                g.pel.remove(&StreamId::new(1, 0));
            },
            // A pending entry no consumer owns.
            |_, g| {
                if let Some(c) = g.consumers.get_mut(&b"a"[..]) {
                    c.pel.clear();
                }
            },
            // One pending entry owned by two consumers.
            |_, g| {
                if let Some(c) = g.consumers.get_mut(&b"a"[..]) {
                    c.pel.insert(StreamId::new(2, 0));
                }
            },
            // Entries past the stream's last ID.
            |s, _| s.last_id = StreamId::new(2, 0),
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut s = with_group();
            let mut g = group(&mut s);
            case(&mut s, &mut g);
            s.groups.insert(Bytes::from("g"), g);
            assert!(reload(&s).is_err(), "case {i}");
        }
    }
}
