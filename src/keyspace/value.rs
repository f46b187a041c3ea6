//! What a key holds: the value types and their Redis-visible encodings.

use bytes::{Bytes, BytesMut};

use super::CommandClock;
use crate::number::parse_i64;
use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::memory::bytes_size;
use crate::types::set::Set;
use crate::types::stream::Stream;
use crate::types::zset::ZSet;

/// Strings up to this length are "embstr" in Redis (`OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
const EMBSTR_SIZE_LIMIT: usize = 44;

/// A stored value. Each Redis type gets a variant; the collection types arrive
/// with their own issue and module.
#[derive(Debug, Clone)]
pub enum Value {
    String(StringValue),
    /// Boxed: a list's deque header would make every `Value` bigger.
    List(Box<List>),
    Hash(Hash),
    Set(Set),
    ZSet(ZSet),
    /// Boxed: the stream header (groups, IDs, counters) is bigger than a `Value`.
    Stream(Box<Stream>),
}

impl Value {
    /// MEMORY USAGE's estimate of the value's heap bytes beyond the entry
    /// (ints and embstrs live in it), `samples` elements measured.
    pub fn memory(&self, samples: usize) -> usize {
        match self {
            Value::String(StringValue::Raw(bytes)) => bytes_size(bytes),
            Value::String(_) => 0,
            Value::List(list) => list.memory(samples),
            Value::Hash(hash) => hash.memory(samples),
            Value::Set(set) => set.memory(samples),
            Value::ZSet(zset) => zset.memory(samples),
            Value::Stream(stream) => stream.memory(samples),
        }
    }

    /// The name `TYPE` answers.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The name `OBJECT ENCODING` answers.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::String(s) => s.encoding_name(),
            // Redis 7.0 lists are always quicklists (listpack lists came in 7.2).
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding_name(),
            Value::Set(s) => s.encoding_name(),
            Value::ZSet(z) => z.encoding_name(),
            Value::Stream(_) => "stream",
        }
    }
}

/// A string value, remembering which of Redis's three encodings it would have,
/// because `OBJECT ENCODING` shows it and clients (and our differential tests) see that.
#[derive(Debug, Clone)]
pub enum StringValue {
    /// A canonical decimal that fits an i64 ("int").
    Int(i64),
    /// A short string created in one piece ("embstr"), held inline.
    Embstr(Embstr),
    /// A long string, or one modified in place by APPEND or SETRANGE ("raw").
    Raw(Bytes),
}

impl StringValue {
    /// The encoding Redis's `tryObjectEncoding` picks for a freshly set
    /// value. The bytes are copied: a stored value must not pin the request
    /// buffer it came in.
    pub fn from_bytes(data: impl AsRef<[u8]>) -> StringValue {
        let data = data.as_ref();
        if data.len() <= 20 {
            if let Some(n) = parse_i64(data) {
                return StringValue::Int(n);
            }
        }
        Self::from_bytes_no_int(data)
    }

    /// The encoding of a string Redis creates without trying the integer form
    /// (`createStringObject`), e.g. the result of INCRBYFLOAT.
    pub fn from_bytes_no_int(data: impl AsRef<[u8]>) -> StringValue {
        let data = data.as_ref();
        match Embstr::new(data) {
            Some(embstr) => StringValue::Embstr(embstr),
            None => StringValue::Raw(Bytes::copy_from_slice(data)),
        }
    }

    /// The value as bytes: integers are formatted, embstrs copied (they are
    /// at most 44 bytes), raw strings shared.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            StringValue::Int(n) => {
                Bytes::copy_from_slice(itoa::Buffer::new().format(*n).as_bytes())
            }
            StringValue::Embstr(s) => Bytes::copy_from_slice(s),
            StringValue::Raw(b) => b.clone(),
        }
    }

    /// Byte length as STRLEN reports it.
    pub fn len(&self) -> usize {
        match self {
            StringValue::Int(n) => itoa::Buffer::new().format(*n).len(),
            StringValue::Embstr(s) => s.len(),
            StringValue::Raw(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with the value's bytes without copying them (an integer is
    /// formatted on the stack): BITCOUNT of a 512 MB bitmap reads it in place.
    pub fn with_bytes<T>(&self, f: impl FnOnce(&[u8]) -> T) -> T {
        match self {
            StringValue::Int(n) => f(itoa::Buffer::new().format(*n).as_bytes()),
            StringValue::Embstr(s) => f(s),
            StringValue::Raw(b) => f(b),
        }
    }

    /// The bytes of a string held as bytes (Redis's `sdsEncodedObject`):
    /// None for an "int", which HyperLogLog commands refuse as not theirs.
    pub fn as_sds(&self) -> Option<&[u8]> {
        match self {
            StringValue::Int(_) => None,
            StringValue::Embstr(s) => Some(s),
            StringValue::Raw(b) => Some(b),
        }
    }

    /// The bytes as a growable buffer, for the commands that change a string
    /// in place (APPEND, SETRANGE, SETBIT, BITFIELD, PFADD, ...), which like
    /// Redis's `dbUnshareStringValue` always leave it "raw": store the
    /// buffer back as [`StringValue::Raw`]. The value is left empty meanwhile.
    /// The allocation is reused when nothing else holds it, so repeated
    /// appends stay amortised O(1) and a PFADD does not copy its HLL.
    pub fn take_raw_mut(&mut self) -> BytesMut {
        match std::mem::replace(self, StringValue::Raw(Bytes::new())) {
            StringValue::Int(n) => BytesMut::from(itoa::Buffer::new().format(n).as_bytes()),
            StringValue::Embstr(s) => BytesMut::from(&s[..]),
            StringValue::Raw(b) => b
                .try_into_mut()
                .unwrap_or_else(|shared| BytesMut::from(&shared[..])),
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            StringValue::Int(_) => "int",
            StringValue::Embstr(_) => "embstr",
            StringValue::Raw(_) => "raw",
        }
    }
}

/// The bytes of an "embstr", stored inline in the value: like Redis's embstr,
/// which shares one allocation with its object header, a short string costs
/// no allocation of its own (and no pointer to chase on GET).
#[derive(Clone)]
pub struct Embstr {
    len: u8,
    bytes: [u8; EMBSTR_SIZE_LIMIT],
}

impl Embstr {
    /// `data` inline, if it is short enough to be an embstr.
    fn new(data: &[u8]) -> Option<Embstr> {
        let mut bytes = [0; EMBSTR_SIZE_LIMIT];
        bytes.get_mut(..data.len())?.copy_from_slice(data);
        Some(Embstr {
            len: data.len() as u8,
            bytes,
        })
    }
}

impl std::ops::Deref for Embstr {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl std::fmt::Debug for Embstr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self))
    }
}

/// A key's bytes: up to 22 inline, longer ones on the heap. Keys are short
/// as a rule (`user:1000`, `key:000000012345`), so most cost no allocation of
/// their own: the keyspace stores the key and its entry in one allocation.
#[derive(Clone)]
pub struct Key(KeyRepr);

/// Longest key held inline: what fits in a `Box<[u8]>`'s 16 bytes, the tag's
/// padding and a length byte.
const INLINE_KEY: usize = 22;

#[derive(Clone)]
enum KeyRepr {
    Inline { len: u8, bytes: [u8; INLINE_KEY] },
    Heap(Box<[u8]>),
}

// The layouts the keyspace's memory use depends on (see ARCHITECTURE.md).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(
    std::mem::size_of::<Key>() == 24
        && std::mem::size_of::<Value>() == 48
        && std::mem::size_of::<Entry>() == 64
);

impl Key {
    /// MEMORY USAGE: the heap bytes of a key of these bytes (none inline).
    pub fn heap_size(key: &[u8]) -> usize {
        if key.len() > INLINE_KEY {
            bytes_size(key)
        } else {
            0
        }
    }
}

impl From<&[u8]> for Key {
    fn from(data: &[u8]) -> Key {
        let mut bytes = [0; INLINE_KEY];
        Key(match bytes.get_mut(..data.len()) {
            Some(inline) => {
                inline.copy_from_slice(data);
                KeyRepr::Inline {
                    len: data.len() as u8,
                    bytes,
                }
            }
            None => KeyRepr::Heap(data.into()),
        })
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            KeyRepr::Inline { len, bytes } => &bytes[..*len as usize],
            KeyRepr::Heap(bytes) => bytes,
        }
    }
}

impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self
    }
}

/// Hashes as the bytes do, so maps keyed by `Key` can be looked up by `&[u8]`.
impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        **self == **other
    }
}

impl Eq for Key {}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self))
    }
}

/// One keyspace entry: a value, its absolute expiry time and its access record.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    /// Unix time in milliseconds after which the key no longer exists, or
    /// [`NO_EXPIRY`]: 8 bytes where an `Option<u64>` takes 16. Private so
    /// every change goes through [`crate::keyspace::DbView`], which keeps the
    /// per-database count of volatile keys that INFO and active expiry use.
    expires_at: u64,
    /// When and how often the key is used (OBJECT IDLETIME / FREQ).
    pub access: Access,
}

/// `expires_at` of a key without a TTL. Redis refuses expiry times past
/// `i64::MAX` ms, so no real TTL can collide with it.
const NO_EXPIRY: u64 = u64::MAX;

impl Entry {
    /// A key created at `now_ms` (LRU clock), expiring at `expires_at` if given.
    pub fn new(value: Value, expires_at: Option<u64>, now_ms: u64) -> Entry {
        Entry {
            value,
            expires_at: expires_at.unwrap_or(NO_EXPIRY),
            access: Access::new(now_ms),
        }
    }

    pub fn expires_at(&self) -> Option<u64> {
        (self.expires_at != NO_EXPIRY).then_some(self.expires_at)
    }

    /// Sets or clears the TTL, returning the previous one.
    pub(crate) fn set_expires_at(&mut self, expires_at: Option<u64>) -> Option<u64> {
        let old = self.expires_at();
        self.expires_at = expires_at.unwrap_or(NO_EXPIRY);
        old
    }

    /// Redis keeps a key alive through the very millisecond it expires at
    /// (`now > when`). A key without a TTL reads no clock.
    pub fn is_expired(&self, clock: &CommandClock) -> bool {
        self.expires_at != NO_EXPIRY && clock.expires_keys() && self.expires_at < clock.now_ms()
    }
}

/// Redis's `LFU_INIT_VAL`: the counter of a new key, so it is not evicted at once.
const LFU_INIT_VAL: u8 = 5;
/// The defaults of `lfu-log-factor` and `lfu-decay-time` (minutes), which
/// reddish always uses: a key's counter is kept up to date on every access,
/// whatever the maxmemory policy, so OBJECT FREQ is meaningful the moment an
/// LFU policy is selected.
const LFU_LOG_FACTOR: f64 = 10.0;
const LFU_DECAY_MINUTES: u64 = 1;

/// A key's access record: Redis's `robj.lru` field, which holds either the
/// LRU clock or the LFU time and counter depending on the maxmemory policy.
/// We keep both, so switching policies needs no conversion.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    /// Unix seconds of the last access (the LRU clock has 1 s resolution).
    secs: u32,
    /// Unix minutes (mod 2^16) of the last LFU decrement, as Redis's `ldt`.
    lfu_minutes: u16,
    /// Logarithmic access counter, 0..=255.
    lfu_counter: u8,
}

impl Access {
    /// A key just created (`createObject`).
    pub fn new(now_ms: u64) -> Access {
        Access {
            secs: (now_ms / 1000) as u32,
            lfu_minutes: lfu_minutes(now_ms),
            lfu_counter: LFU_INIT_VAL,
        }
    }

    /// A key looked up without `LOOKUP_NOTOUCH`: Redis's `val->lru = LRU_CLOCK()`
    /// and `updateLFU` in one.
    pub fn touch(&mut self, now_ms: u64) {
        self.secs = (now_ms / 1000) as u32;
        let counter = self.frequency(now_ms);
        self.lfu_counter = lfu_log_incr(counter, unit_random());
        self.lfu_minutes = lfu_minutes(now_ms);
    }

    /// RESTORE IDLETIME: the last access `idle_secs` ago.
    pub fn set_idle(&mut self, idle_secs: u64, now_ms: u64) {
        self.secs = ((now_ms / 1000).saturating_sub(idle_secs)) as u32;
    }

    /// RESTORE FREQ: the counter set, decay counted from now.
    pub fn set_frequency(&mut self, freq: u8, now_ms: u64) {
        self.lfu_counter = freq;
        self.lfu_minutes = lfu_minutes(now_ms);
    }

    /// Redis's 24-bit `robj.lru` of an LRU policy: the last access in
    /// seconds of its LRU clock, which wraps at 2^24 (DEBUG OBJECT `lru:`).
    pub fn lru_field(&self) -> u32 {
        self.secs & ((1 << 24) - 1)
    }

    /// Whole seconds since the last access (OBJECT IDLETIME).
    pub fn idle_secs(&self, now_ms: u64) -> u64 {
        ((now_ms / 1000) as u32).wrapping_sub(self.secs) as u64
    }

    /// The counter after decay (`LFUDecrAndReturn`, OBJECT FREQ).
    pub fn frequency(&self, now_ms: u64) -> u8 {
        let elapsed = lfu_minutes(now_ms).wrapping_sub(self.lfu_minutes) as u64;
        let periods = elapsed / LFU_DECAY_MINUTES;
        self.lfu_counter.saturating_sub(periods.min(255) as u8)
    }
}

/// Uniform in [0, 1), for `LFULogIncr`'s coin (Redis uses `rand()`). Runs on
/// every key access, so a per-thread xorshift64* seeded once from `rand`
/// rather than `rand::random`'s ChaCha thread generator: statistical quality
/// is all the counter needs.
fn unit_random() -> f64 {
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(rand::random::<u64>() | 1);
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        // The top 53 bits of the xorshift64* output, scaled to [0, 1).
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// `LFUGetTimeInMinutes`: unix minutes, truncated to 16 bits.
fn lfu_minutes(now_ms: u64) -> u16 {
    (now_ms / 60_000) as u16
}

/// `LFULogIncr`: the more hits a key has, the less likely one more counts.
/// `r` is uniform in [0, 1).
fn lfu_log_incr(counter: u8, r: f64) -> u8 {
    if counter == u8::MAX {
        return counter;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * LFU_LOG_FACTOR + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays_per_minute() {
        // A new key always counts its first hits (p = 1 until the counter passes 5).
        assert_eq!(lfu_log_incr(LFU_INIT_VAL, 0.999), LFU_INIT_VAL + 1);
        // At 6 the chance is 1/11.
        assert_eq!(lfu_log_incr(6, 0.05), 7);
        assert_eq!(lfu_log_incr(6, 0.5), 6);
        assert_eq!(lfu_log_incr(255, 0.0), 255);
        let t = 1_700_000_000_000;
        let a = Access::new(t);
        assert_eq!(a.frequency(t), LFU_INIT_VAL);
        assert_eq!(a.frequency(t + 3 * 60_000), LFU_INIT_VAL - 3);
        assert_eq!(a.frequency(t + 60 * 60_000), 0);
        assert_eq!(a.idle_secs(t + 2_500), 2);
    }
}
