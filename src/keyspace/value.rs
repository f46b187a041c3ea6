//! What a key holds: the value types and their Redis-visible encodings.

use bytes::Bytes;

use crate::number::parse_i64;
use crate::types::zset::ZSet;

/// Strings up to this length are "embstr" in Redis (`OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
const EMBSTR_SIZE_LIMIT: usize = 44;

/// A stored value. Each Redis type gets a variant; the collection types arrive
/// with their own issue and module.
#[derive(Debug, Clone)]
pub enum Value {
    String(StringValue),
    ZSet(ZSet),
}

impl Value {
    /// The name `TYPE` answers.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::ZSet(_) => "zset",
        }
    }

    /// The name `OBJECT ENCODING` answers.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::String(s) => s.encoding_name(),
            Value::ZSet(z) => z.encoding_name(),
        }
    }
}

/// A string value, remembering which of Redis's three encodings it would have,
/// because `OBJECT ENCODING` shows it and clients (and our differential tests) see that.
#[derive(Debug, Clone)]
pub enum StringValue {
    /// A canonical decimal that fits an i64 ("int").
    Int(i64),
    /// A short string created in one piece ("embstr").
    Embstr(Bytes),
    /// A long string, or one modified in place by APPEND or SETRANGE ("raw").
    Raw(Bytes),
}

impl StringValue {
    /// The encoding Redis's `tryObjectEncoding` picks for a freshly set value.
    pub fn from_bytes(data: Bytes) -> StringValue {
        if data.len() <= 20 {
            if let Some(n) = parse_i64(&data) {
                return StringValue::Int(n);
            }
        }
        Self::from_bytes_no_int(data)
    }

    /// The encoding of a string Redis creates without trying the integer form
    /// (`createStringObject`), e.g. the result of INCRBYFLOAT.
    pub fn from_bytes_no_int(data: Bytes) -> StringValue {
        if data.len() <= EMBSTR_SIZE_LIMIT {
            StringValue::Embstr(data)
        } else {
            StringValue::Raw(data)
        }
    }

    /// The value as bytes. Integers are formatted, the rest is a cheap clone.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            StringValue::Int(n) => Bytes::from(n.to_string()),
            StringValue::Embstr(b) | StringValue::Raw(b) => b.clone(),
        }
    }

    /// Byte length as STRLEN reports it.
    pub fn len(&self) -> usize {
        match self {
            StringValue::Int(n) => itoa::Buffer::new().format(*n).len(),
            StringValue::Embstr(b) | StringValue::Raw(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            StringValue::Int(_) => "int",
            StringValue::Embstr(_) => "embstr",
            StringValue::Raw(_) => "raw",
        }
    }
}

/// One keyspace entry: a value and its absolute expiry time.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    /// Unix time in milliseconds after which the key no longer exists.
    /// Private so every change goes through [`crate::keyspace::DbView`], which keeps
    /// the per-database count of volatile keys that INFO and active expiry use.
    pub(crate) expires_at: Option<u64>,
}

impl Entry {
    pub fn new(value: Value) -> Entry {
        Entry {
            value,
            expires_at: None,
        }
    }

    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }

    /// Redis keeps a key alive through the very millisecond it expires at (`now > when`).
    pub fn is_expired(&self, now_ms: u64) -> bool {
        matches!(self.expires_at, Some(t) if t < now_ms)
    }
}
