//! The hash type (Redis's t_hash.c data side): a listpack while small, a
//! hash table once it outgrows `hash-max-listpack-entries` or gets a field or
//! value longer than `hash-max-listpack-value`. Conversion is one-way, as in Redis.

use super::compact::{CompactPair, PackedBytes};
use super::frontcoded::common_prefix;
use super::indexed::{IndexedDict, Keyed};
use super::varint;

/// One field of a hash in its "hashtable" encoding: field and value inline
/// when short, else in one allocation (see [`CompactPair`]).
#[derive(Clone, Debug)]
pub struct Pair(CompactPair);

impl Pair {
    fn new(field: &[u8], value: &[u8]) -> Pair {
        Pair(CompactPair::new(field, value))
    }

    pub fn field(&self) -> &[u8] {
        self.0.first()
    }

    pub fn value(&self) -> &[u8] {
        self.0.second()
    }
}

impl Keyed for Pair {
    fn key(&self) -> &[u8] {
        self.0.first()
    }
}

/// The two settings that decide a hash's encoding.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `hash-max-listpack-entries`: more fields than this means a hash table.
    pub max_entries: u64,
    /// `hash-max-listpack-value`: a longer field or value means a hash table.
    pub max_value: u64,
}

#[derive(Clone, Debug)]
pub enum Hash {
    /// "listpack": field, value, field, value ... in insertion order.
    Listpack(Listpack),
    /// "hashtable".
    Table(Box<IndexedDict<Pair>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Listpack::default())
    }
}

impl Hash {
    /// The name `OBJECT ENCODING` answers.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// MEMORY USAGE's estimate of the hash's heap bytes.
    pub fn memory(&self, samples: usize) -> usize {
        match self {
            Hash::Listpack(lp) => lp.buf.heap_size(),
            Hash::Table(t) => t.memory(samples, |p| p.0.heap_size()),
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(lp) => lp.buf.count(),
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Listpack(lp) => lp.find(field).ok().map(|p| p.value),
            Hash::Table(t) => t.get(field).map(Pair::value),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Redis `hashTypeSet`: sets `field` to `value`, converting to a hash
    /// table first when either is too long for a listpack and afterwards when
    /// the listpack has too many fields. Returns true if the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        let too_long =
            field.len() as u64 > limits.max_value || value.len() as u64 > limits.max_value;
        if too_long {
            self.convert();
        }
        match self {
            Hash::Listpack(lp) => {
                let added = lp.set(field, value);
                if lp.buf.count() as u64 > limits.max_entries {
                    self.convert();
                }
                added
            }
            Hash::Table(t) => match t.get_mut(field) {
                Some(pair) => {
                    pair.0.set_second(value);
                    false
                }
                None => t.insert(Pair::new(field, value)),
            },
        }
    }

    /// Removes `field`; returns whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(lp) => lp.remove(field),
            Hash::Table(t) => t.remove(field).is_some(),
        }
    }

    /// Redis `hashTypeConvert` to `OBJ_ENCODING_HT`.
    fn convert(&mut self) {
        if let Hash::Listpack(lp) = self {
            let mut table = IndexedDict::with_capacity(lp.buf.count());
            lp.for_each(|field, value| {
                table.insert(Pair::new(field, value));
            });
            *self = Hash::Table(Box::new(table));
        }
    }

    /// Calls `visit` with every (field, value), in the encoding's order
    /// (insertion order for a listpack). A visitor, not an iterator: a
    /// listpack's fields are front-coded, so each is rebuilt into one
    /// scratch buffer and lent until the next; a table's are lent as stored.
    pub fn for_each<'a>(&'a self, mut visit: impl FnMut(&[u8], &'a [u8])) {
        match self {
            Hash::Listpack(lp) => lp.for_each(visit),
            Hash::Table(t) => t.entries().iter().for_each(|p| {
                let (field, value) = p.0.parts();
                visit(field, value)
            }),
        }
    }

    /// The fields by position, for random picks (HRANDFIELD). A listpack is
    /// decoded once; a table is indexed directly.
    pub fn by_position(&self) -> ByPosition<'_> {
        match self {
            Hash::Listpack(lp) => {
                let mut fields = Vec::new();
                let mut pairs = Vec::with_capacity(lp.buf.count());
                lp.for_each(|field, value| {
                    fields.extend_from_slice(field);
                    pairs.push((fields.len(), value));
                });
                ByPosition::Listed { fields, pairs }
            }
            Hash::Table(t) => ByPosition::Table(t.entries()),
        }
    }

    /// One HSCAN step (see [`IndexedDict::scan`]); a listpack is visited
    /// whole and ends the scan, as in Redis.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            Hash::Listpack(lp) => {
                lp.for_each(visit);
                0
            }
            Hash::Table(t) => t.scan(cursor, count, |p| {
                let (field, value) = p.0.parts();
                visit(field, value)
            }),
        }
    }
}

/// Random access to a hash's fields: see [`Hash::by_position`].
pub enum ByPosition<'a> {
    /// A listpack's fields decoded end to end into `fields`; each pair is
    /// where its field ends there, and its value.
    Listed {
        fields: Vec<u8>,
        pairs: Vec<(usize, &'a [u8])>,
    },
    Table(&'a [Pair]),
}

impl ByPosition<'_> {
    pub fn len(&self) -> usize {
        match self {
            ByPosition::Listed { pairs, .. } => pairs.len(),
            ByPosition::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, pos: usize) -> Option<(&[u8], &[u8])> {
        match self {
            ByPosition::Listed { fields, pairs } => {
                let &(end, value) = pairs.get(pos)?;
                let start = pos.checked_sub(1).map_or(0, |before| pairs[before].0);
                Some((fields.get(start..end)?, value))
            }
            ByPosition::Table(t) => t.get(pos).map(|p| p.0.parts()),
        }
    }
}

/// A compact hash: one exactly sized buffer of entries in insertion order,
/// like Redis's listpack (whose per-entry headers and integer encodings are
/// not visible to clients), inline in the value while short (see
/// [`PackedBytes`]). An entry is
///
/// `varint(rest.len() * 2 + 1) varint(shared) rest varint(value.len()) value`
///
/// or, when the field shares nothing, `varint(rest.len() * 2) rest ...`:
/// the field is the first `shared` bytes of the field before it (none for
/// the first) followed by `rest`, and `shared` is always the longest
/// beginning the two have in common. The fields of one hash often share a
/// beginning (`field:1`, `field:2`; `user:name`, `user:email`), so front
/// coding stores it once (issue 22: 100 fields `field:K` -> `value:K` take
/// 1,204 bytes, 1,780 plain). A field sharing nothing costs what a plain
/// length-prefixed one does (but for a length of 64 to 127: a byte more),
/// so a hash of 2 short fields still fits inline. Values stay plain, so a lookup still lends
/// one. Lookups are linear, which is fine for the few hundred short entries
/// a listpack holds, and rebuild no field (see [`Listpack::find`]).
#[derive(Clone, Debug, Default)]
pub struct Listpack {
    /// The entries; its count is how many.
    buf: PackedBytes,
}

/// A pair found in a listpack: where its entry starts and ends, where its
/// value's length starts, and the value.
struct Found<'a> {
    start: usize,
    value_start: usize,
    end: usize,
    value: &'a [u8],
}

/// One entry of a listpack, as stored (see [`Listpack`]).
struct Entry<'a> {
    shared: usize,
    rest: &'a [u8],
    /// Where the value's length starts.
    value_start: usize,
    value: &'a [u8],
    /// Where the next entry starts.
    end: usize,
}

impl<'a> Entry<'a> {
    /// The entry at `pos`, `None` past the end or if it does not fit.
    #[inline]
    fn read(buf: &'a [u8], pos: usize) -> Option<Entry<'a>> {
        let (head, pos) = varint::read_number(buf, pos)?;
        let rest_len = head >> 1;
        let (shared, rest_start) = match head & 1 {
            0 => (0, pos),
            _ => varint::read_number(buf, pos)?,
        };
        let value_start = rest_start.checked_add(rest_len)?;
        let rest = buf.get(rest_start..value_start)?;
        let (value_len, value_pos) = varint::read_number(buf, value_start)?;
        let end = value_pos.checked_add(value_len)?;
        let value = buf.get(value_pos..end)?;
        Some(Entry {
            shared,
            rest,
            value_start,
            value,
            end,
        })
    }
}

/// How a field is coded against the one before it (see [`Listpack`]).
#[derive(Clone, Copy)]
struct FieldCode<'a> {
    shared: usize,
    rest: &'a [u8],
}

impl FieldCode<'_> {
    /// The rest's length and whether a shared count follows.
    fn head(&self) -> usize {
        self.rest.len() * 2 + usize::from(self.shared > 0)
    }

    /// Bytes the coded field takes.
    fn len(&self) -> usize {
        let shared = if self.shared > 0 {
            varint::number_len(self.shared)
        } else {
            0
        };
        varint::number_len(self.head()) + shared + self.rest.len()
    }

    /// Writes the coded field at the start of `out`, returning the rest of `out`.
    fn write<'o>(&self, out: &'o mut [u8]) -> &'o mut [u8] {
        let mut out = varint::write_number(out, self.head());
        if self.shared > 0 {
            out = varint::write_number(out, self.shared);
        }
        let (rest, after) = out.split_at_mut(self.rest.len());
        rest.copy_from_slice(self.rest);
        after
    }
}

/// Walks a listpack's entries, rebuilding each field into `field`. A
/// malformed entry (one sharing more than the field before it has, or
/// running past the end) ends the walk.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    field: Vec<u8>,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor {
            buf,
            pos: 0,
            field: Vec::new(),
        }
    }

    /// The next entry, its field rebuilt into `self.field`.
    fn next_entry(&mut self) -> Option<Entry<'a>> {
        let entry = Entry::read(self.buf, self.pos).filter(|e| e.shared <= self.field.len());
        let Some(entry) = entry else {
            self.pos = self.buf.len();
            return None;
        };
        self.field.truncate(entry.shared);
        self.field.extend_from_slice(entry.rest);
        self.pos = entry.end;
        Some(entry)
    }
}

impl Listpack {
    /// Calls `visit` with each (field, value) in order; see [`Hash::for_each`].
    fn for_each<'a>(&'a self, mut visit: impl FnMut(&[u8], &'a [u8])) {
        let mut cursor = Cursor::new(&self.buf);
        while let Some(entry) = cursor.next_entry() {
            visit(&cursor.field, entry.value);
        }
    }

    /// The entry of `field`, or if it is not there, how many leading bytes
    /// it has in common with the last field (what an append shares).
    ///
    /// No field is rebuilt: the walk keeps `matched`, how many leading bytes
    /// the field before the current entry has in common with `field`. An
    /// entry sharing `shared` bytes with the field before it:
    /// - `shared < matched`: its field has byte `shared` of the one before
    ///   it (that one is longer than `matched`) and so of `field`, in common
    ///   with neither, or it ends there while `field` goes on: not it, and
    ///   it has `shared` bytes in common with `field`;
    /// - `shared > matched`: its field has the byte at `matched` of the one
    ///   before it, which differs from `field`'s there (or `field` ends
    ///   there): not it, and `matched` stays;
    /// - `shared == matched`: it has `field`'s first `matched` bytes, so it
    ///   is `field` if its rest is the rest of `field`; else `matched` grows
    ///   by what the two rests have in common.
    ///
    /// This relies on `shared` being the longest common beginning (which
    /// every writer here keeps), and stops at an entry that shares more than
    /// the field before it has.
    fn find(&self, field: &[u8]) -> Result<Found<'_>, usize> {
        let buf: &[u8] = &self.buf;
        let (mut pos, mut matched, mut previous_len) = (0, 0, 0);
        while let Some(entry) = Entry::read(buf, pos) {
            if entry.shared > previous_len {
                break;
            }
            if entry.shared == matched {
                let wanted = &field[matched..];
                let common = common_prefix(entry.rest, wanted);
                if common == wanted.len() && common == entry.rest.len() {
                    return Ok(Found {
                        start: pos,
                        value_start: entry.value_start,
                        end: entry.end,
                        value: entry.value,
                    });
                }
                matched += common;
            } else if entry.shared < matched {
                matched = entry.shared;
            }
            previous_len = entry.shared + entry.rest.len();
            pos = entry.end;
        }
        Err(matched)
    }

    /// Replaces `range` of the buffer with a coded field and a value
    /// (length-prefixed), either of them left out, written in place.
    fn put(
        &mut self,
        range: std::ops::Range<usize>,
        field: Option<FieldCode>,
        value: Option<&[u8]>,
    ) {
        let len = field.map_or(0, |f| f.len()) + value.map_or(0, |v| varint::prefixed_len(v.len()));
        self.buf.replace(range, len, |mut out| {
            if let Some(field) = field {
                out = field.write(out);
            }
            if let Some(value) = value {
                varint::write_prefixed(out, value);
            }
        });
    }

    /// Updates in place or appends; returns true if the field is new.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self
            .find(field)
            .map(|f| (f.value_start, f.end, f.value.len()))
        {
            // Same length: overwrite the data, no re-encoding or
            // reallocation (HSET of a field to a value of its size).
            Ok((_, end, old_len)) if old_len == value.len() => {
                self.buf[end - old_len..end].copy_from_slice(value);
                false
            }
            // The field's coding does not change, nor does the next one's.
            Ok((value_start, end, _)) => {
                self.put(value_start..end, None, Some(value));
                false
            }
            Err(shared) => {
                let end = self.buf.len();
                let rest = &field[shared..];
                self.put(end..end, Some(FieldCode { shared, rest }), Some(value));
                self.buf.set_count(self.buf.count() + 1);
                true
            }
        }
    }

    /// Removes `field`'s entry, coding the field after it (which shared
    /// bytes with the removed one) against the field before it instead.
    fn remove(&mut self, field: &[u8]) -> bool {
        let Ok(found) = self.find(field) else {
            return false;
        };
        let (start, end) = (found.start, found.end);
        let next = Entry::read(&self.buf, end).and_then(|next| {
            let mut next_field = field.get(..next.shared)?.to_vec();
            next_field.extend_from_slice(next.rest);
            Some((next.value_start, next_field))
        });
        match next {
            Some((next_value_start, next_field)) => {
                let shared = common_prefix(&self.field_before(start), &next_field);
                let rest = &next_field[shared..];
                self.put(
                    start..next_value_start,
                    Some(FieldCode { shared, rest }),
                    None,
                );
            }
            None => self.buf.splice(start..end, &[]),
        }
        self.buf.set_count(self.buf.count() - 1);
        true
    }

    /// The field of the entry before the one at `start` (empty for the first).
    fn field_before(&self, start: usize) -> Vec<u8> {
        let mut cursor = Cursor::new(&self.buf);
        while cursor.pos < start && cursor.next_entry().is_some() {}
        cursor.field
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        max_entries: 4,
        max_value: 8,
    };

    #[test]
    fn listpack_keeps_insertion_order_and_updates_in_place() {
        let mut h = Hash::default();
        assert!(h.set(b"a", b"1", SMALL));
        assert!(h.set(b"b", b"", SMALL));
        assert!(h.set(b"", b"3", SMALL));
        assert!(!h.set(b"a", b"long one", SMALL));
        assert_eq!(
            pairs(&h),
            [
                (b"a".to_vec(), b"long one".to_vec()),
                (b"b".to_vec(), b"".to_vec()),
                (b"".to_vec(), b"3".to_vec())
            ]
        );
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!(h.len(), 2);
        assert_eq!(h.get(b""), Some(&b"3"[..]));
        assert_eq!(h.encoding_name(), "listpack");
    }

    #[test]
    fn converts_on_too_many_fields_or_a_long_string() {
        let mut h = Hash::default();
        for f in [b"1", b"2", b"3", b"4"] {
            h.set(f, b"v", SMALL);
        }
        assert_eq!(h.encoding_name(), "listpack");
        h.set(b"5", b"v", SMALL);
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.len(), 5);

        let mut h = Hash::default();
        h.set(b"f", b"123456789", SMALL);
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.get(b"f"), Some(&b"123456789"[..]));
    }

    #[test]
    fn listpack_bytes_front_code_fields_and_keep_values_plain() {
        let mut lp = Listpack::default();
        lp.set(b"f", &[b'v'; 0x80]);
        lp.set(b"fg", b"1");
        let mut want = vec![2, b'f', 0x80, 0x01];
        want.extend_from_slice(&[b'v'; 0x80]);
        want.extend_from_slice(&[3, 1, b'g', 1, b'1']);
        assert_eq!(&*lp.buf, &want[..]);
    }

    #[test]
    fn fields_sharing_nothing_cost_no_more_than_plain_ones() {
        // bench/memory.py's `smallhash`: 28 bytes, inline (29 at most).
        let mut h = Hash::default();
        h.set(b"name", b"user:999999", SMALL_VALUES);
        h.set(b"visits", b"999", SMALL_VALUES);
        let Hash::Listpack(lp) = &h else {
            panic!("a listpack")
        };
        assert_eq!(lp.buf.len(), 28);
        assert_eq!(h.memory(0), 0);
    }

    const SMALL_VALUES: Limits = Limits {
        max_entries: 128,
        max_value: 64,
    };

    /// The (field, value) pairs `for_each` visits.
    fn pairs(h: &Hash) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        h.for_each(|f, v| out.push((f.to_vec(), v.to_vec())));
        out
    }

    /// Checks `h` against `model` through every read path.
    fn check(h: &Hash, model: &[(Vec<u8>, Vec<u8>)]) {
        assert_eq!(pairs(h), model);
        assert_eq!(h.len(), model.len());
        for (f, v) in model {
            assert_eq!(h.get(f), Some(&v[..]), "{f:?}");
        }
        let by_position = h.by_position();
        assert_eq!(by_position.len(), model.len());
        for (i, (f, v)) in model.iter().enumerate() {
            assert_eq!(by_position.get(i), Some((&f[..], &v[..])));
        }
        assert_eq!(by_position.get(model.len()), None);
        let mut scanned = Vec::new();
        assert_eq!(
            h.scan(0, 10, |f, v| scanned.push((f.to_vec(), v.to_vec()))),
            0
        );
        assert_eq!(scanned, model);
    }

    /// Sets `field` in both, asserting they agree on whether it was new.
    fn set_both(h: &mut Hash, model: &mut Vec<(Vec<u8>, Vec<u8>)>, field: &[u8], value: &[u8]) {
        let new = match model.iter_mut().find(|(f, _)| f == field) {
            Some(pair) => {
                pair.1 = value.to_vec();
                false
            }
            None => {
                model.push((field.to_vec(), value.to_vec()));
                true
            }
        };
        assert_eq!(h.set(field, value, UNLIMITED), new, "{field:?}");
    }

    /// Removes `field` from both, asserting they agree on whether it was there.
    fn remove_both(h: &mut Hash, model: &mut Vec<(Vec<u8>, Vec<u8>)>, field: &[u8]) {
        let at = model.iter().position(|(f, _)| f == field);
        if let Some(at) = at {
            model.remove(at);
        }
        assert_eq!(h.remove(field), at.is_some(), "{field:?}");
    }

    const UNLIMITED: Limits = Limits {
        max_entries: u64::MAX,
        max_value: u64::MAX,
    };

    #[test]
    fn front_coding_survives_deletes_updates_and_odd_fields() {
        let long = |c: u8, tail: &[u8]| [&[c; 200][..], tail].concat();
        let fields: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"user:name".to_vec(),
            b"user:email".to_vec(),
            b"user:e".to_vec(),
            b"user".to_vec(),
            b"other".to_vec(),
            b"user:email".to_vec(), // again: an update
            long(b'x', b"1"),
            long(b'x', b"2"),
            long(b'x', b""),
            long(b'y', b"1"),
            b"x".to_vec(),
            b"xx".to_vec(),
        ];
        let mut h = Hash::default();
        let mut model = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            set_both(&mut h, &mut model, f, format!("v{i}").as_bytes());
            check(&h, &model);
        }
        assert_eq!(h.encoding_name(), "listpack");
        assert_eq!(h.get(b"user:"), None);
        assert_eq!(h.get(b"user:emai"), None);
        assert_eq!(h.get(b"user:emails"), None);
        assert_eq!(h.get(&long(b'x', b"3")), None);
        // Same-length and other-length updates leave the fields alone.
        set_both(&mut h, &mut model, b"user:e", b"V3");
        set_both(&mut h, &mut model, b"user:e", b"a much longer value");
        set_both(&mut h, &mut model, b"", b"");
        check(&h, &model);
        // Removing from the middle re-codes the field after it against
        // the one before it: sharing less, more, or the same as before.
        for f in [&b"user:email"[..], &long(b'x', b"2"), b"user:name", b"user"] {
            remove_both(&mut h, &mut model, f);
            check(&h, &model);
        }
        remove_both(&mut h, &mut model, b"not there");
        // First and last.
        remove_both(&mut h, &mut model, b"");
        remove_both(&mut h, &mut model, b"xx");
        check(&h, &model);
        // An append after a removal codes against the new last field.
        set_both(&mut h, &mut model, b"xxy", b"z");
        check(&h, &model);
        while let Some((f, _)) = model.first().cloned() {
            remove_both(&mut h, &mut model, &f);
            check(&h, &model);
        }
    }

    #[test]
    fn hundreds_of_fields_with_a_common_beginning_take_a_third_of_the_bytes() {
        let mut h = Hash::default();
        let mut model = Vec::new();
        for i in 0..250 {
            set_both(&mut h, &mut model, format!("field:{i}").as_bytes(), b"v");
        }
        check(&h, &model);
        let Hash::Listpack(lp) = &h else {
            panic!("a listpack")
        };
        // "field:1" to "field:249": one shared count, one length, 1-2 digits.
        let fields: usize = model.iter().map(|(f, _)| f.len() + 1).sum();
        assert!(lp.buf.len() - 250 * 2 < fields / 2, "{}", lp.buf.len());
        for i in (0..250).step_by(3) {
            remove_both(&mut h, &mut model, format!("field:{i}").as_bytes());
        }
        check(&h, &model);
    }

    #[test]
    fn malformed_buffers_end_walks_early() {
        // A first entry claiming to share 3 bytes with nothing; a length
        // past the end.
        for bytes in [&[3, 3, b'a', 0][..], &[18, b'a']] {
            let h = Hash::Listpack(Listpack {
                buf: PackedBytes::new(bytes, 1),
            });
            assert_eq!(pairs(&h), Vec::new());
            assert_eq!(h.get(b"a"), None);
            assert_eq!(h.by_position().len(), 0);
        }
    }

    proptest::proptest! {
        #[test]
        fn listpack_matches_a_vec_model(
            ops in proptest::collection::vec(
                (0u8..3, proptest::collection::vec(0u8..3, 0..6), proptest::collection::vec(0u8..3, 0..3)),
                0..120,
            )
        ) {
            let mut h = Hash::default();
            let mut model = Vec::new();
            for (op, field, value) in ops {
                if op == 0 {
                    remove_both(&mut h, &mut model, &field);
                } else {
                    set_both(&mut h, &mut model, &field, &value);
                }
                check(&h, &model);
            }
        }
    }

    #[test]
    fn long_strings_survive_the_varint_lengths() {
        let big = vec![b'x'; 70_000];
        let mut h = Hash::default();
        let limits = Limits {
            max_entries: 10,
            max_value: u64::MAX,
        };
        h.set(&big, &big[..300], limits);
        h.set(b"k", &big, limits);
        assert_eq!(h.get(&big).map(<[u8]>::len), Some(300));
        assert_eq!(h.get(b"k").map(<[u8]>::len), Some(70_000));
        assert_eq!(h.encoding_name(), "listpack");
    }

    #[test]
    fn compact_forms_stay_small() {
        assert!(std::mem::size_of::<Hash>() <= 32);
    }
}
