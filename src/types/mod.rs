//! Collection data structures, one module per Redis type.

pub mod bitmap;
pub mod compact;
pub mod frontcoded;
pub mod geo;
pub mod hash;
pub mod hyperloglog;
pub mod indexed;
pub mod list;
pub mod memory;
pub mod set;
pub mod stream;
pub mod varint;
pub mod zset;
