//! What a key holds: the value types and their Redis-visible encodings.

use bytes::{Bytes, BytesMut};

use super::CommandClock;
use crate::number::parse_i64;
use crate::types::compact::CompactBytes;
use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::memory::bytes_size;
use crate::types::set::Set;
use crate::types::stream::Stream;
use crate::types::zset::ZSet;

/// Strings up to this length are "embstr" in Redis (`OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
const EMBSTR_SIZE_LIMIT: usize = 44;

/// Embstrs up to this length are held inline: with 36 a `Value` is 40 bytes,
/// so a keyspace slot (key, value, access record) is 72 bytes.
const EMBSTR_INLINE: usize = 36;

/// Raw strings up to this length are copied, not shared, when read out
/// ([`StringValue::to_bytes`]): sharing a `Bytes` built from one buffer
/// allocates its reference count (32 bytes) on the first clone, kept for
/// the value's life, so every key a GET had read cost 10% more (a 200-byte
/// value: 322 bytes a key, 354 once read), and under `maxmemory` fewer keys
/// fit. Copying a few KB costs less than the reply's own copy into the
/// output buffer; Redis copies every reply.
const RAW_COPY_LIMIT: usize = 4096;

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
            Value::String(StringValue::Embstr(s)) => s.heap_size(),
            Value::String(StringValue::Int(_)) => 0,
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

    /// The value as bytes: integers are formatted, embstrs and raw strings
    /// up to [`RAW_COPY_LIMIT`] copied, longer raw strings shared.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            StringValue::Int(n) => {
                Bytes::copy_from_slice(itoa::Buffer::new().format(*n).as_bytes())
            }
            StringValue::Embstr(s) => Bytes::copy_from_slice(s),
            StringValue::Raw(b) if b.len() <= RAW_COPY_LIMIT => Bytes::copy_from_slice(b),
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

/// The bytes of an "embstr", stored inline in the value up to 36 bytes:
/// like Redis's embstr, which shares one allocation with its object header,
/// a short string costs no allocation of its own (and no pointer to chase on
/// GET). The 37-44-byte embstrs (Redis's limit) take a heap chunk.
#[derive(Clone, Debug)]
pub struct Embstr(CompactBytes<EMBSTR_INLINE>);

impl Embstr {
    /// `data`, if it is short enough to be an embstr.
    fn new(data: &[u8]) -> Option<Embstr> {
        (data.len() <= EMBSTR_SIZE_LIMIT).then(|| Embstr(data.into()))
    }

    /// MEMORY USAGE: the heap bytes (none inline).
    fn heap_size(&self) -> usize {
        CompactBytes::<EMBSTR_INLINE>::heap_size(self)
    }
}

impl std::ops::Deref for Embstr {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// A key's bytes: up to 22 inline, longer ones on the heap. Keys are short
/// as a rule (`user:1000`, `key:000000012345`), so most cost no allocation of
/// their own: the keyspace stores the key and its entry in one allocation.
pub type Key = CompactBytes;

// The layouts the keyspace's memory use depends on (see ARCHITECTURE.md).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(
    std::mem::size_of::<Key>() == 24
        && std::mem::size_of::<Value>() == 40
        && std::mem::size_of::<Entry>() == 56
        && std::mem::size_of::<Access>() == 8
);

/// One keyspace entry taken on its own: a value, its absolute expiry time
/// and its access record. This is what is stored and what a removal hands
/// back (pre-images, RESTORE, RENAME carry it); in a shard the expiry lives
/// apart (see `shard.rs`), and a stored entry is seen as an [`EntryRef`].
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
        Entry::from_parts(value, Access::new(now_ms), expires_at)
    }

    /// An entry put together from what a shard keeps of it.
    pub(super) fn from_parts(value: Value, mut access: Access, expires_at: Option<u64>) -> Entry {
        access.slot = 0;
        Entry {
            value,
            expires_at: expires_at.unwrap_or(NO_EXPIRY),
            access,
        }
    }

    /// The value, the access record and the expiry, for a shard to store.
    pub(super) fn into_parts(self) -> (Value, Access, Option<u64>) {
        let expires_at = self.expires_at();
        (self.value, self.access, expires_at)
    }

    pub fn expires_at(&self) -> Option<u64> {
        (self.expires_at != NO_EXPIRY).then_some(self.expires_at)
    }

    /// Redis keeps a key alive through the very millisecond it expires at
    /// (`now > when`). A key without a TTL reads no clock.
    pub fn is_expired(&self, clock: &CommandClock) -> bool {
        self.view().is_expired(clock)
    }

    /// The entry seen as a stored one is (for code that reads both: the
    /// snapshot writers get pre-images and stored keys alike).
    pub fn view(&self) -> EntryRef<'_> {
        EntryRef::new(&self.value, &self.access, self.expires_at())
    }
}

/// A stored entry, read: its value and access record in the key's slot, its
/// expiry from the shard's table of expiry times.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    pub value: &'a Value,
    pub access: &'a Access,
    /// As [`Entry`]'s: [`NO_EXPIRY`] without a TTL.
    expires_at: u64,
}

impl<'a> EntryRef<'a> {
    pub(super) fn new(value: &'a Value, access: &'a Access, expires_at: Option<u64>) -> Self {
        EntryRef {
            value,
            access,
            expires_at: expires_at.unwrap_or(NO_EXPIRY),
        }
    }

    pub fn expires_at(&self) -> Option<u64> {
        (self.expires_at != NO_EXPIRY).then_some(self.expires_at)
    }

    /// Redis keeps a key alive through the very millisecond it expires at
    /// (`now > when`). A key without a TTL reads no clock.
    pub fn is_expired(&self, clock: &CommandClock) -> bool {
        self.expires_at != NO_EXPIRY && clock.expires_keys() && self.expires_at < clock.now_ms()
    }

    /// A copy taken on its own (a snapshot's pre-image, COPY).
    pub fn to_entry(&self) -> Entry {
        Entry::from_parts(self.value.clone(), *self.access, self.expires_at())
    }
}

/// Redis's `LFU_INIT_VAL`: the counter of a new key, so it is not evicted at once.
const LFU_INIT_VAL: u8 = 5;
/// Redis's `LRU_CLOCK_MAX`: the LRU clock is 24 bits of seconds, wrapping
/// about every 194 days.
const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
/// An access record's LRU time also keeps the 256ths of its second, in the
/// 8 bits Redis's 24-bit field leaves of a `u32`: see [`Access::idle_ticks`].
const TICKS_PER_SECOND: u64 = 256;

/// What a key access updates, by `maxmemory-policy`: Redis's `robj.lru`
/// holds either the LRU clock or the LFU time and counter, and a lookup
/// updates only the one the policy uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMode {
    Lru,
    /// `lfu-log-factor` and `lfu-decay-time` (minutes).
    Lfu {
        log_factor: u32,
        decay_minutes: u32,
    },
}

/// A key's access record: Redis's `robj.lru` field. Both halves are kept
/// (8 bytes either way); the LFU half is updated only under an LFU policy,
/// so after switching to one its data is stale until keys are used again,
/// as in Redis, and the LRU half always (see [`Access::touch`]). Its last
/// byte is the shard's, for the slot (see [`Access::slot`]).
#[derive(Debug, Clone, Copy)]
pub struct Access {
    /// The LRU clock of the last access: Redis's 24 bits of seconds, then
    /// 8 bits of 256ths of a second.
    lru: u32,
    /// Unix minutes (mod 2^16) of the last LFU decrement, as Redis's `ldt`.
    lfu_minutes: u16,
    /// Logarithmic access counter, 0..=255.
    lfu_counter: u8,
    /// What the shard keeps of the slot, in what was this record's padding
    /// byte ([`SLOT_VOLATILE`], [`SLOT_MARK`]); 0 outside a slot.
    slot: u8,
}

/// [`Access::slot`]'s flag: the shard's table of expiry times holds the
/// key's. A key without a TTL never looks there.
const SLOT_VOLATILE: u8 = 0x80;

/// [`Access::slot`]'s other 7 bits: the mark of the last snapshot that
/// copied the key, or that found it created after its cut (0: none). A
/// running snapshot skips the keys with its own mark (see `snapshot.rs`).
const SLOT_MARK: u8 = 0x7f;

impl Access {
    /// A key just created (`createObject`): last access now, and the LFU
    /// counter at its initial value.
    pub fn new(now_ms: u64) -> Access {
        Access {
            lru: lru_ticks(now_ms),
            lfu_minutes: lfu_minutes(now_ms),
            lfu_counter: LFU_INIT_VAL,
            slot: 0,
        }
    }

    /// Whether the key has a TTL in its shard's table of expiry times.
    pub(super) fn volatile(&self) -> bool {
        self.slot & SLOT_VOLATILE != 0
    }

    pub(super) fn set_volatile(&mut self, volatile: bool) {
        self.slot = (self.slot & SLOT_MARK) | if volatile { SLOT_VOLATILE } else { 0 };
    }

    /// The mark of the last snapshot that copied the key (0: none).
    pub(super) fn snapshot_mark(&self) -> u8 {
        self.slot & SLOT_MARK
    }

    pub(super) fn set_snapshot_mark(&mut self, mark: u8) {
        debug_assert!(mark <= SLOT_MARK);
        self.slot = (self.slot & SLOT_VOLATILE) | mark;
    }

    /// A key looked up without `LOOKUP_NOTOUCH`: `val->lru = LRU_CLOCK()`
    /// under an LRU (or no) policy, `updateLFU` under an LFU one. The LRU
    /// time is kept under LFU too, where it is not shown (Redis refuses
    /// OBJECT IDLETIME then) but breaks eviction's ties between keys of the
    /// same counter, as most keys' counters are (see `evict.rs`).
    pub fn touch(&mut self, now_ms: u64, mode: AccessMode) {
        self.lru = lru_ticks(now_ms);
        if let AccessMode::Lfu {
            log_factor,
            decay_minutes,
        } = mode
        {
            let counter = self.frequency(now_ms, decay_minutes);
            self.lfu_counter = lfu_log_incr(counter, log_factor, unit_random());
            self.lfu_minutes = lfu_minutes(now_ms);
        }
    }

    /// RESTORE IDLETIME: the last access `idle_secs` ago.
    pub fn set_idle(&mut self, idle_secs: u64, now_ms: u64) {
        let now = lru_clock(now_ms);
        let idle = (idle_secs % u64::from(LRU_CLOCK_MAX)) as u32;
        // Back from now, across the wrap the way `idle_ms` reads it.
        let secs = if now >= idle {
            now - idle
        } else {
            LRU_CLOCK_MAX - (idle - now)
        };
        self.lru = secs << 8 | (lru_ticks(now_ms) & 0xff);
    }

    /// RESTORE FREQ: the counter set, decay counted from now.
    pub fn set_frequency(&mut self, freq: u8, now_ms: u64) {
        self.lfu_counter = freq;
        self.lfu_minutes = lfu_minutes(now_ms);
    }

    /// Redis's 24-bit `robj.lru` of an LRU policy (DEBUG OBJECT `lru:`).
    pub fn lru_field(&self) -> u32 {
        self.lru >> 8
    }

    /// `estimateObjectIdleTime`: milliseconds since the last access, at the
    /// LRU clock's one-second resolution, across its wrap.
    pub fn idle_ms(&self, now_ms: u64) -> u64 {
        let (now, lru) = (lru_clock(now_ms), self.lru_field());
        let secs = if now >= lru {
            now - lru
        } else {
            now + (LRU_CLOCK_MAX - lru)
        };
        u64::from(secs) * 1000
    }

    /// Time since the last access in 256ths of a second, across the wrap:
    /// what LRU eviction ranks keys by. Redis ranks them by whole seconds,
    /// so a cache that turns its keys over in about a second (a busy one)
    /// sees nearly all of them as idle 0 or 1 s, and picks among them at
    /// random.
    ///
    /// An access stamped by another event loop just after `now_ms` was read
    /// is idle 0, not almost a whole wrap (which would make the key
    /// eviction's first choice).
    pub fn idle_ticks(&self, now_ms: u64) -> u64 {
        let now = lru_ticks(now_ms);
        if now < self.lru && self.lru - now < TICKS_PER_SECOND as u32 {
            return 0;
        }
        u64::from(now.wrapping_sub(self.lru))
    }

    /// Whole seconds since the last access (OBJECT IDLETIME).
    pub fn idle_secs(&self, now_ms: u64) -> u64 {
        self.idle_ms(now_ms) / 1000
    }

    /// The counter after decay (`LFUDecrAndReturn`, OBJECT FREQ): one less
    /// per `decay_minutes` since it was last decremented (none when 0).
    pub fn frequency(&self, now_ms: u64, decay_minutes: u32) -> u8 {
        if decay_minutes == 0 {
            return self.lfu_counter;
        }
        let now = lfu_minutes(now_ms);
        // `LFUTimeElapsed`, wrap included as Redis computes it.
        let elapsed = if now >= self.lfu_minutes {
            u64::from(now - self.lfu_minutes)
        } else {
            65535 - u64::from(self.lfu_minutes) + u64::from(now)
        };
        let periods = elapsed / u64::from(decay_minutes);
        self.lfu_counter.saturating_sub(periods.min(255) as u8)
    }
}

/// `LRU_CLOCK()` at `now_ms`: seconds, 24 bits.
fn lru_clock(now_ms: u64) -> u32 {
    ((now_ms / 1000) & u64::from(LRU_CLOCK_MAX)) as u32
}

/// The LRU clock at `now_ms` with the 256ths of its second below it.
fn lru_ticks(now_ms: u64) -> u32 {
    lru_clock(now_ms) << 8 | ((now_ms % 1000 * TICKS_PER_SECOND / 1000) as u32)
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
fn lfu_log_incr(counter: u8, log_factor: u32, r: f64) -> u8 {
    if counter == u8::MAX {
        return counter;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * f64::from(log_factor) + 1.0);
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
        assert_eq!(lfu_log_incr(LFU_INIT_VAL, 10, 0.999), LFU_INIT_VAL + 1);
        // At 6 the chance is 1/11.
        assert_eq!(lfu_log_incr(6, 10, 0.05), 7);
        assert_eq!(lfu_log_incr(6, 10, 0.5), 6);
        assert_eq!(lfu_log_incr(255, 10, 0.0), 255);
        let t = 1_700_000_000_000;
        let a = Access::new(t);
        assert_eq!(a.frequency(t, 1), LFU_INIT_VAL);
        assert_eq!(a.frequency(t + 3 * 60_000, 1), LFU_INIT_VAL - 3);
        assert_eq!(a.frequency(t + 6 * 60_000, 2), LFU_INIT_VAL - 3);
        assert_eq!(a.frequency(t + 60 * 60_000, 1), 0);
        assert_eq!(a.frequency(t + 60 * 60_000, 0), LFU_INIT_VAL);
        assert_eq!(a.idle_secs(t + 2_500), 2);
    }

    #[test]
    fn embstrs_up_to_44_bytes_whether_inline_or_not() {
        for len in [
            0,
            1,
            EMBSTR_INLINE,
            EMBSTR_INLINE + 1,
            EMBSTR_SIZE_LIMIT,
            45,
        ] {
            let data = vec![b'x'; len];
            let v = StringValue::from_bytes(&data);
            let want = if len <= EMBSTR_SIZE_LIMIT {
                "embstr"
            } else {
                "raw"
            };
            assert_eq!(v.encoding_name(), want, "{len}");
            assert_eq!(v.to_bytes(), data);
            let heap = Value::String(v).memory(5);
            assert_eq!(heap > 0, len > EMBSTR_INLINE, "{len}");
        }
    }

    #[test]
    fn a_lookup_counts_frequency_only_under_lfu() {
        let t = 1_700_000_000_000;
        let lfu = AccessMode::Lfu {
            log_factor: 10,
            decay_minutes: 1,
        };
        let mut a = Access::new(t);
        a.touch(t + 5_000, AccessMode::Lru);
        assert_eq!(
            (a.idle_secs(t + 5_000), a.frequency(t, 1)),
            (0, LFU_INIT_VAL)
        );
        a.touch(t + 9_000, lfu);
        assert_eq!(
            (a.idle_secs(t + 9_000), a.frequency(t, 1)),
            (0, LFU_INIT_VAL + 1)
        );
    }

    #[test]
    fn eviction_ranks_idle_keys_within_a_second() {
        let t = 1_700_000_000_000;
        let (older, newer) = (Access::new(t + 100), Access::new(t + 600));
        assert_eq!(older.idle_ms(t + 900), newer.idle_ms(t + 900));
        assert!(older.idle_ticks(t + 900) > newer.idle_ticks(t + 900));
        assert_eq!(newer.idle_ticks(t + 600), 0);
        // Stamped a moment after `now` was read: just used, not wrapped.
        assert_eq!(newer.idle_ticks(t + 500), 0);
        assert_eq!(older.lru_field(), lru_clock(t));
    }

    #[test]
    fn the_lru_clock_wraps_at_24_bits_as_in_redis() {
        let wrap = u64::from(LRU_CLOCK_MAX + 1) * 1000;
        let mut a = Access::new(wrap - 2_000);
        assert_eq!(a.idle_ms(wrap + 3_000), 4_000);
        // Redis's formula counts a second less across the wrap; eviction
        // ranks by the time that passed.
        assert_eq!(a.idle_ticks(wrap + 3_000), 5 * TICKS_PER_SECOND);
        a.set_idle(10, wrap + 1_000);
        assert_eq!(a.idle_secs(wrap + 1_000), 10);
        a.set_idle(10, wrap + 20_500);
        assert_eq!(a.idle_ticks(wrap + 20_500), 10 * TICKS_PER_SECOND);
    }
}
