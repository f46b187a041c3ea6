//! Micro-benchmarks of the per-request hot path, piece by piece: cutting a
//! pipelined batch into requests, encoding replies, a keyspace GET/SET through
//! a Guard and its DbView, and the command-table lookup. Run with
//! `cargo bench --bench hot_paths`; bench/compare.py measures the whole server.

use std::hint::black_box;

use bytes::{Buf, Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use reddish::commands::CommandTable;
use reddish::keyspace::{CommandClock, Keyspace, LockSet, StringValue, Value};
use reddish::protocol::{encode, Limits, Reply, RequestParser, Resp};

/// Redis's default `proto-max-bulk-len`, an authenticated client.
const LIMITS: Limits = Limits {
    max_bulk_len: 512 * 1024 * 1024,
    unauthenticated: false,
};

/// Sixteen requests, as `redis-benchmark -t set,get -P 16` pipelines them.
const PIPELINE: usize = 16;

fn set_request(i: usize) -> Vec<u8> {
    let key = format!("key:{i:012}");
    format!(
        "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$3\r\nxxx\r\n",
        key.len()
    )
    .into_bytes()
}

fn decode(c: &mut Criterion) {
    let batch: Vec<u8> = (0..PIPELINE).flat_map(set_request).collect();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(PIPELINE as u64));
    group.bench_function("set_x16", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(&batch[..]);
            let mut parser = RequestParser::default();
            let mut n = 0;
            while let Ok(Some(req)) = parser.parse(&mut buf, LIMITS) {
                n += parser.args(&req, &buf).len();
                buf.advance(req.len);
            }
            black_box(n)
        })
    });
    group.finish();
}

fn reply_encoding(c: &mut Criterion) {
    let bulk = Reply::bulk(Bytes::from_static(b"xxx"));
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(PIPELINE as u64));
    for (name, reply) in [("ok_x16", Reply::OK), ("bulk_x16", bulk)] {
        group.bench_function(name, |b| {
            let mut out = BytesMut::with_capacity(4096);
            b.iter(|| {
                out.clear();
                for _ in 0..PIPELINE {
                    encode(black_box(&reply), Resp::V2, &mut out);
                }
                black_box(out.len())
            })
        });
    }
    group.finish();
}

fn keyspace(c: &mut Criterion) {
    let keyspace = Keyspace::new(16);
    let keys: Vec<Bytes> = (0..10_000)
        .map(|i| Bytes::from(format!("key:{i:012}")))
        .collect();
    let lock = |key: &[u8]| {
        let mut set = LockSet::new();
        set.add_key(&keyspace, 0, key);
        keyspace.lock(set)
    };
    let mut group = c.benchmark_group("keyspace");
    group.bench_function("set", |b| {
        let mut i = 0;
        b.iter(|| {
            let key = &keys[i % keys.len()];
            i += 1;
            let mut guard = lock(key);
            let value = Value::String(StringValue::from_bytes(Bytes::from_static(b"xxx")));
            black_box(
                guard
                    .db(0, &CommandClock::default())
                    .set(key, value, None)
                    .is_some(),
            )
        })
    });
    group.bench_function("get", |b| {
        let mut i = 0;
        b.iter(|| {
            let key = &keys[i % keys.len()];
            i += 1;
            let mut guard = lock(key);
            black_box(guard.db(0, &CommandClock::default()).get(key).is_some())
        })
    });
    group.finish();
}

fn lookup(c: &mut Criterion) {
    let table = CommandTable::build();
    let mut group = c.benchmark_group("lookup");
    for name in ["GET", "set", "CLIENT"] {
        let args: [&[u8]; 2] = [name.as_bytes(), b"id"];
        group.bench_function(name, |b| b.iter(|| black_box(table.lookup(&args).is_ok())));
    }
    group.finish();
}

criterion_group!(benches, decode, reply_encoding, keyspace, lookup);
criterion_main!(benches);
