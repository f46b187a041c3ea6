//! Redis's RDB file format (version 10, Redis 7.0), as far as reddish writes
//! it today: the snapshot of an **empty** dataset that a full
//! resynchronisation sends a replica before the command stream. Snapshots of
//! data come with the RDB issue; until then a replica asking for a full sync
//! of a non-empty dataset is refused ([`crate::replication`]).
//!
//! Written by hand because it must be byte-compatible with Redis's loader:
//! `REDIS0010`, auxiliary fields (`0xFA` name value), `0xFF`, then the
//! CRC-64 (Jones, Redis's `crc64`) of everything before, little-endian.

use crc::{Crc, CRC_64_REDIS};

use crate::server::REDIS_VERSION;

/// RDB version 10: Redis 7.0's.
const MAGIC: &[u8] = b"REDIS0010";
const OPCODE_AUX: u8 = 0xFA;
const OPCODE_EOF: u8 = 0xFF;

/// Redis's `crc64`.
const CRC64: Crc<u64> = Crc::<u64>::new(&CRC_64_REDIS);

/// An RDB file being written.
struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn new() -> Writer {
        Writer {
            out: MAGIC.to_vec(),
        }
    }

    /// Redis's `rdbSaveLen`: 6, 14 or 32 bits (or 64 beyond u32).
    fn len(&mut self, n: usize) {
        match n {
            0..0x40 => self.out.push(n as u8),
            0x40..0x4000 => self
                .out
                .extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]),
            _ => match u32::try_from(n) {
                Ok(n) => {
                    self.out.push(0x80);
                    self.out.extend_from_slice(&n.to_be_bytes());
                }
                Err(_) => {
                    self.out.push(0x81);
                    self.out.extend_from_slice(&(n as u64).to_be_bytes());
                }
            },
        }
    }

    /// Redis's `rdbSaveRawString`: a string that is a canonical integer
    /// within 32 bits is stored as that integer (`rdbTryIntegerEncoding`).
    fn string(&mut self, s: &[u8]) {
        let int = std::str::from_utf8(s)
            .ok()
            .and_then(|t| t.parse::<i32>().ok())
            .filter(|n| n.to_string().as_bytes() == s);
        match int {
            Some(n) if i8::try_from(n).is_ok() => self.out.extend_from_slice(&[0xC0, n as u8]),
            Some(n) if i16::try_from(n).is_ok() => {
                self.out.push(0xC1);
                self.out.extend_from_slice(&(n as i16).to_le_bytes());
            }
            Some(n) => {
                self.out.push(0xC2);
                self.out.extend_from_slice(&n.to_le_bytes());
            }
            None => {
                self.len(s.len());
                self.out.extend_from_slice(s);
            }
        }
    }

    fn aux(&mut self, name: &str, value: &str) {
        self.out.push(OPCODE_AUX);
        self.string(name.as_bytes());
        self.string(value.as_bytes());
    }

    fn finish(mut self) -> Vec<u8> {
        self.out.push(OPCODE_EOF);
        let checksum = CRC64.checksum(&self.out);
        self.out.extend_from_slice(&checksum.to_le_bytes());
        self.out
    }
}

/// Where a replica's stream starts (the `repl-*` auxiliary fields).
pub struct ReplicationInfo<'a> {
    pub replid: &'a str,
    pub offset: u64,
}

/// The RDB file of an empty dataset, with the auxiliary fields Redis 7.0
/// writes (`rdbSaveInfoAuxFields`).
pub fn empty(repl: &ReplicationInfo, used_memory: u64) -> Vec<u8> {
    let mut w = Writer::new();
    w.aux("redis-ver", REDIS_VERSION);
    w.aux("redis-bits", &(usize::BITS).to_string());
    w.aux("ctime", &(crate::util::now_ms() / 1000).to_string());
    w.aux("used-mem", &used_memory.to_string());
    w.aux("repl-stream-db", "0");
    w.aux("repl-id", repl.replid);
    w.aux("repl-offset", &repl.offset.to_string());
    w.aux("aof-base", "0");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_strings_use_redis_encodings() {
        let mut w = Writer::new();
        w.string(b"64");
        w.string(b"-200");
        w.string(b"100000");
        w.string(b"007");
        w.len(300);
        assert_eq!(
            &w.out[MAGIC.len()..],
            [
                0xC0, 64, 0xC1, 0x38, 0xFF, 0xC2, 0xA0, 0x86, 0x01, 0x00, 3, b'0', b'0', b'7',
                0x41, 0x2C
            ]
        );
    }

    #[test]
    fn the_checksum_is_redis_crc64() {
        // Redis's crc64 test vector (crc64.c): "123456789".
        assert_eq!(CRC64.checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
        let file = empty(
            &ReplicationInfo {
                replid: "0123456789012345678901234567890123456789",
                offset: 0,
            },
            1,
        );
        let (body, sum) = file.split_at(file.len() - 8);
        assert!(body.starts_with(b"REDIS0010"));
        assert_eq!(body.last(), Some(&OPCODE_EOF));
        assert_eq!(sum, CRC64.checksum(body).to_le_bytes());
    }
}
