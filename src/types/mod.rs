//! Collection data structures, one module per Redis type.

pub mod zset;
