//! DEBUG DIGEST and DIGEST-VALUE: Redis's dataset signature, computed the
//! way debug.c computes it so that the same data gives the same 40 hex
//! digits on reddish and on redis-server (Redis's test suite compares a
//! digest taken before and after an operation; we compare across servers).
//!
//! Two primitives build everything: [`xor`] adds an element whose order does
//! not matter (set members, hash fields, keys of a database), [`mix`] one
//! whose order does (list elements, a key's type then its value). Both
//! hash what they add. A key's digest is its name mixed with its value's;
//! the dataset's is its keys' digests xored in, each database's preceded
//! by its index mixed in.

use sha1_smol::Sha1;

use crate::commands::Ctx;
use crate::keyspace::{EntryRef, StringValue, Value};
use crate::number::format_double;
use crate::types::stream::StreamId;

/// A running 20-byte digest (a SHA1's size).
pub type Digest = [u8; 20];

fn sha1(data: &[u8]) -> Digest {
    Sha1::from(data).digest().bytes()
}

/// Redis's `xorDigest`: `digest ^= SHA1(data)`, order-independent.
fn xor(digest: &mut Digest, data: &[u8]) {
    for (d, h) in digest.iter_mut().zip(sha1(data)) {
        *d ^= h;
    }
}

/// Redis's `mixDigest`: `digest = SHA1(digest ^ SHA1(data))`, so the order
/// of what is mixed in matters, and "fo" + "obar" differs from "foo" + "bar".
fn mix(digest: &mut Digest, data: &[u8]) {
    xor(digest, data);
    *digest = sha1(digest);
}

/// Redis's type codes (`OBJ_STRING` ...), which the digest mixes in first.
fn type_code(value: &Value) -> u32 {
    match value {
        Value::String(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    }
}

/// Redis's `xorObjectDigest`: mixes the value of `entry` into `digest`.
/// Elements are digested as the strings Redis would decode them to
/// (integers in decimal, scores as `%.17g`), and a key with a TTL adds the
/// text `!!expire!!` (the TTL itself is not part of the digest).
fn mix_entry(digest: &mut Digest, entry: EntryRef<'_>) {
    mix(digest, &type_code(entry.value).to_be_bytes());
    match &entry.value {
        Value::String(s) => match s {
            StringValue::Int(n) => mix(digest, itoa::Buffer::new().format(*n).as_bytes()),
            StringValue::Embstr(e) => mix(digest, e),
            StringValue::Raw(b) => mix(digest, b),
        },
        Value::List(list) => {
            let mut elements = list.iter();
            while let Some(element) = elements.next_element() {
                mix(digest, element);
            }
        }
        Value::Set(set) => {
            for member in set.iter() {
                member.with_bytes(|bytes| xor(digest, bytes));
            }
        }
        Value::ZSet(zset) => {
            let mut score = Vec::with_capacity(24);
            for (member, value) in zset.iter_from(0, false) {
                score.clear();
                format_double(value, &mut score);
                xor(digest, &pair_digest(member, &score));
            }
        }
        Value::Hash(hash) => {
            hash.for_each(|field, value| xor(digest, &pair_digest(field, value)));
        }
        // Entries in order, each its `ms.seq` then fields and values;
        // consumer groups are not part of it, as in Redis.
        Value::Stream(stream) => {
            for entry in stream.range(StreamId::MIN, StreamId::MAX, false) {
                mix(
                    digest,
                    format!("{}.{}", entry.id.ms, entry.id.seq).as_bytes(),
                );
                for item in entry.items() {
                    mix(digest, item);
                }
            }
        }
    }
    if entry.expires_at().is_some() {
        xor(digest, b"!!expire!!");
    }
}

/// An element of two parts (field and value, member and score) as one
/// unordered element: both mixed, in that order, into a fresh digest.
fn pair_digest(first: &[u8], second: &[u8]) -> Digest {
    let mut digest = Digest::default();
    mix(&mut digest, first);
    mix(&mut digest, second);
    digest
}

/// DEBUG DIGEST-VALUE of one key of the client's database: its value's
/// digest (not including the key's name), 20 zero bytes when it is missing.
/// As in Redis, a key past its TTL that is still stored counts.
pub fn key(ctx: &mut Ctx, key: &[u8]) -> Digest {
    let mut digest = Digest::default();
    if let Some(entry) = ctx.db().stored(key) {
        mix_entry(&mut digest, entry);
    }
    digest
}

/// Redis's `computeDatasetDigest` over every database (the command locks
/// them all): 20 zero bytes for an empty dataset. Keys past their TTL that
/// are still stored count, as Redis's dict iteration sees them.
pub fn dataset(ctx: &mut Ctx) -> Digest {
    let mut total = Digest::default();
    for db in 0..ctx.server.keyspace.databases() {
        let mut view = ctx.db_at(db);
        let mut keys = Digest::default();
        let mut any = false;
        view.for_each_stored(|key, entry| {
            let mut digest = Digest::default();
            mix(&mut digest, key);
            mix_entry(&mut digest, entry);
            xor(&mut keys, &digest);
            any = true;
        });
        if any {
            // The database's index first, so the same data in another
            // database gives another digest. The keys' part is an xor, so
            // adding it after the index is adding each key after it.
            mix(&mut total, &(db as u32).to_be_bytes());
            for (t, k) in total.iter_mut().zip(keys) {
                *t ^= k;
            }
        }
    }
    total
}

/// The digest as DEBUG replies it: 40 lowercase hex digits.
pub fn hex(digest: &Digest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_is_ordered_and_xor_is_not() {
        let (mut a, mut b) = (Digest::default(), Digest::default());
        mix(&mut a, b"foo");
        mix(&mut a, b"bar");
        mix(&mut b, b"bar");
        mix(&mut b, b"foo");
        assert_ne!(a, b);
        let (mut a, mut b) = (Digest::default(), Digest::default());
        xor(&mut a, b"foo");
        xor(&mut a, b"bar");
        xor(&mut b, b"bar");
        xor(&mut b, b"foo");
        assert_eq!(a, b);
    }

    #[test]
    fn xor_of_one_string_is_its_sha1() {
        let mut d = Digest::default();
        xor(&mut d, b"abc");
        assert_eq!(hex(&d), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }
}
