//! reddish: a Redis 7 compatible server.
//!
//! The data path, one request: [`connection`] reads bytes, [`protocol`] cuts
//! them into requests, [`commands`] looks each up in the command table, locks
//! the shards of its keys in the [`keyspace`] and runs its handler, and the
//! handler's [`protocol::Reply`] is encoded for the client's protocol.
//! See ARCHITECTURE.md for the map.

pub mod acl;
pub mod alloc;
pub mod aof;
pub mod blocking;
pub mod child;
pub mod cli;
pub mod client;
pub mod client_memory;
pub mod commands;
pub mod config;
pub mod connection;
pub mod counters;
pub mod cron;
pub mod evict;
pub mod glob;
pub mod keyspace;
pub mod latency;
pub mod lazyfree;
pub mod log;
pub mod monitor;
pub mod number;
pub mod oom_score;
pub mod pause;
pub mod persistence;
pub mod pqsort;
pub mod propagate;
pub mod protocol;
pub mod pubsub;
pub mod rdb;
pub mod replica;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod slowlog;
pub mod tls;
pub mod tracking;
pub mod transport;
pub mod types;
pub mod util;
