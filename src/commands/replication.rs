//! SYNC, PSYNC, REPLCONF and ROLE: what a replica says to its master (Redis's
//! `syncCommand`, `replconfCommand`). The replication state and the link
//! itself are in [`crate::replication`].

use super::args::{int_in_range, is};
use super::{cmd_locking, CmdResult, Ctx, Locks, Registration};
use crate::protocol::Reply;
use crate::rdb;
use crate::replication::{ReplicaStart, WaitAcks};

pub static COMMANDS: &[Registration] = &[
    // Every shard locked: the snapshot and the start of the stream must
    // be one instant.
    cmd_locking("sync", sync, Locks::All),
    cmd_locking("psync", psync, Locks::All),
    cmd_locking("replconf", replconf, Locks::Keys),
    cmd_locking("role", role, Locks::Keys),
    cmd_locking("wait", wait, Locks::Keys),
];

/// WAIT numreplicas timeout (Redis's `waitCommand`): the replicas that
/// acknowledged the stream up to now; when fewer than asked, the client
/// waits for more (the connection runs `WaitAcks::wait`), at most `timeout`
/// ms (0: no limit). Inside EXEC it answers at once.
fn wait(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let wanted = crate::number::parse_i64(args[1])
        .ok_or(Reply::error("ERR value is not an integer or out of range"))?;
    let timeout = crate::number::parse_i64(args[2]).ok_or(Reply::error(
        "ERR timeout is not an integer or out of range",
    ))?;
    if timeout < 0 {
        return Err(Reply::error("ERR timeout is negative"));
    }
    let replication = &ctx.server.replication;
    let offset = replication.offset();
    let acked = replication.acked_at_least(offset);
    if acked as i64 >= wanted || ctx.client.in_multi() {
        return Ok(Reply::from(acked as i64));
    }
    ctx.client.wait_acks = Some(WaitAcks {
        replicas: usize::try_from(wanted).unwrap_or(usize::MAX),
        offset,
        deadline: (timeout > 0).then(|| {
            tokio::time::Instant::now() + std::time::Duration::from_millis(timeout as u64)
        }),
    });
    Ok(Reply::from(acked as i64))
}

fn sync(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    full_sync(ctx, false)
}

/// PSYNC replid offset: there is no backlog, so every PSYNC is a full
/// resynchronisation (`+FULLRESYNC`), as Redis answers one it cannot continue.
fn psync(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    full_sync(ctx, true)
}

/// Attaches the client as a replica: the snapshot, then the stream. Every
/// shard is locked (`Locks::All`), so the snapshot and the stream's start
/// are one moment: no write can fall between them.
fn full_sync(ctx: &mut Ctx, psync: bool) -> CmdResult {
    if ctx.client.replica.is_some() {
        return Ok(Reply::OK);
    }
    let databases = ctx.server.keyspace.databases();
    let options = rdb::Options::from_config(&ctx.server.config);
    let server = ctx.server;
    let replication = &server.replication;
    let (client_id, addr) = (ctx.client.id, ctx.client.handle.addr);
    let (stream, acked, offset) = replication.add(client_id, addr, ctx.client.listening_port);
    let (snapshot, _) = rdb::snapshot(
        ctx.guard(),
        databases,
        options,
        Some(&rdb::ReplicationInfo {
            replid: &replication.replid,
            offset,
        }),
        super::server::used_memory(),
    );
    let mut preamble = Vec::new();
    if psync {
        preamble.extend_from_slice(
            format!("+FULLRESYNC {} {offset}\r\n", replication.replid).as_bytes(),
        );
    }
    preamble.extend_from_slice(format!("${}\r\n", snapshot.len()).as_bytes());
    preamble.extend_from_slice(&snapshot);
    tracing::info!("Replica {addr} asks for synchronization");
    ctx.client.replica = Some(ReplicaStart {
        preamble,
        stream,
        acked,
    });
    // The preamble is the answer; the connection writes it.
    ctx.client.skip_reply = true;
    Ok(Reply::OK)
}

/// REPLCONF option value ...: what a replica tells its master before PSYNC.
/// `listening-port` is kept for INFO; `ip-address` and `capa` need no action
/// (the snapshot is always sent with a length, which every replica reads);
/// `ack` and `getack` are not answered, as in Redis.
fn replconf(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(super::args::syntax_error());
    }
    for pair in args[1..].chunks(2) {
        let (option, value) = (pair[0], pair[1]);
        if is(option, "listening-port") {
            let port = int_in_range(value, 0, 65535, None)?;
            ctx.client.listening_port = u16::try_from(port).unwrap_or(0);
        } else if is(option, "ack") || is(option, "getack") {
            ctx.client.skip_reply = true;
            return Ok(Reply::OK);
        } else if !(is(option, "ip-address") || is(option, "capa") || is(option, "rdb-only")) {
            return Err(Reply::error_owned(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(option)
            )));
        }
    }
    Ok(Reply::OK)
}

/// ROLE: always a master here (there is no replica side yet), with its
/// offset and its replicas as `[ip, port, acked offset]`.
fn role(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let replication = &ctx.server.replication;
    let replicas = replication
        .replicas()
        .into_iter()
        .map(|r| {
            Reply::Array(vec![
                Reply::bulk(r.ip),
                Reply::bulk(r.port.to_string()),
                Reply::bulk(r.offset.to_string()),
            ])
        })
        .collect();
    Ok(Reply::Array(vec![
        Reply::bulk("master"),
        Reply::from(replication.offset() as i64),
        Reply::Array(replicas),
    ]))
}
