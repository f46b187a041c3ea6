//! SYNC, PSYNC, REPLCONF and ROLE: what a replica says to its master (Redis's
//! `syncCommand`, `replconfCommand`), and REPLICAOF/SLAVEOF, which makes this
//! server a replica. The replication state and the links themselves are in
//! [`crate::replication`] (master side) and [`crate::replica`].

use super::args::{int_in_range, is};
use super::{cmd_locking, CmdResult, Ctx, Locks, Registration};
use crate::protocol::Reply;
use crate::replication::{ReplicaLink, ReplicaStart, SyncRequest, WaitAcks};

pub static COMMANDS: &[Registration] = &[
    // Every shard locked: the snapshot and the start of the stream must
    // be one instant.
    cmd_locking("sync", sync, Locks::All),
    cmd_locking("psync", psync, Locks::All),
    cmd_locking("replconf", replconf, Locks::Keys),
    cmd_locking("role", role, Locks::Keys),
    cmd_locking("wait", wait, Locks::Keys),
    cmd_locking("replicaof", replicaof, Locks::Keys),
    cmd_locking("slaveof", replicaof, Locks::Keys),
];

/// REPLICAOF host port | NO ONE (Redis's `replicaofCommand`).
fn replicaof(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    if server.config.cluster_enabled() {
        return Err(Reply::error("ERR REPLICAOF not allowed in cluster mode."));
    }
    if is(args[1], "no") && is(args[2], "one") {
        if server.master_link.is_replica() {
            crate::replica::unset_master(server);
            tracing::info!(
                "MASTER MODE enabled (user request from '{}')",
                ctx.client.handle.describe()
            );
        }
        return Ok(Reply::OK);
    }
    if ctx.client.replica.is_some() {
        return Err(Reply::error(
            "ERR Command is not valid when client is a replica.",
        ));
    }
    let port = int_in_range(args[2], 0, 65535, Some("ERR Invalid master port"))?;
    let host = String::from_utf8_lossy(args[1]).into_owned();
    let port = u16::try_from(port).unwrap_or(0);
    if let Some((current, current_port)) = server.master_link.master() {
        if current.eq_ignore_ascii_case(&host) && current_port == port {
            tracing::info!("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
            return Ok(Reply::simple("OK Already connected to specified master"));
        }
    }
    let Some(me) = server.arc() else {
        return Err(Reply::error("ERR the server is not running yet"));
    };
    crate::replica::set_master(&me, &host, port);
    tracing::info!(
        "REPLICAOF {host}:{port} enabled (user request from '{}')",
        ctx.client.handle.describe()
    );
    Ok(Reply::OK)
}

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
    ctx.client.wait_acks = Some(Box::new(WaitAcks {
        replicas: usize::try_from(wanted).unwrap_or(usize::MAX),
        offset,
        deadline: (timeout > 0).then(|| {
            tokio::time::Instant::now() + std::time::Duration::from_millis(timeout as u64)
        }),
    }));
    Ok(Reply::from(acked as i64))
}

fn sync(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.replica.is_some() {
        return Ok(Reply::OK);
    }
    sync_allowed(ctx)?;
    full_sync(ctx, false)
}

/// Redis's `syncCommand` checks: a replica whose own link is down serves no
/// sync, nor does one ask for a filtered snapshot it cannot read.
fn sync_allowed(ctx: &Ctx) -> Result<(), Reply> {
    let link = &ctx.server.master_link;
    if link.is_replica() && !link.is_connected() {
        return Err(Reply::error(
            "NOMASTERLINK Can't SYNC while not connected with my master",
        ));
    }
    filter_needs_eof(ctx)
}

/// PSYNC replid offset: `+CONTINUE` and the missed bytes when the backlog
/// still holds them for that history, otherwise a full resynchronisation
/// (`+FULLRESYNC`), as Redis's `syncCommand`.
fn psync(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if ctx.client.replica.is_some() {
        return Ok(Reply::OK);
    }
    sync_allowed(ctx)?;
    let addr = ctx.client.handle.addr.ip_or_loopback();
    let Some(offset) = crate::number::parse_i64(args[2]) else {
        tracing::info!("Replica {addr} asks for synchronization");
        tracing::warn!("Replica {addr} asks for synchronization but with a wrong offset");
        return Err(Reply::error("ERR value is not an integer or out of range"));
    };
    let replid = String::from_utf8_lossy(args[1]).into_owned();
    let offset = u64::try_from(offset).ok();
    let resumed = offset.and_then(|offset| {
        let (id, port) = (ctx.client.id, ctx.client.listening_port);
        ctx.server
            .replication
            .try_continue(&replid, offset, id, addr, port)
    });
    let Some((preamble, stream, acked)) = resumed else {
        if replid != "?" {
            tracing::info!("Partial resynchronization not accepted: the replication ID or offset asked by {addr} is not in this backlog");
        }
        return full_sync(ctx, true);
    };
    ctx.client.replica = Some(Box::new(ReplicaLink::Start(ReplicaStart {
        preamble,
        stream_on_ack: false,
        snapshot: None,
        stream,
        acked,
    })));
    ctx.client.skip_reply = true;
    Ok(Reply::OK)
}

/// A full sync (Redis's `syncCommand`; its callers ignore a client that is
/// a replica already): the client becomes a replica, to
/// get the snapshot and then the stream, now or once its snapshot can start
/// ([`crate::replication::wait_reason`]). Every shard is locked
/// (`Locks::All`): a sync that starts now cuts its snapshot at the moment
/// it joins the stream.
fn full_sync(ctx: &mut Ctx, psync: bool) -> CmdResult {
    let server = ctx.server;
    let request = SyncRequest {
        client_id: ctx.client.id,
        addr: ctx.client.handle.addr.ip_or_loopback(),
        listening_port: ctx.client.listening_port,
        psync,
        capa_eof: ctx.client.capa_eof,
    };
    tracing::info!("Replica {} asks for synchronization", request.addr);
    let filter = ctx.client.rdb_functions_only;
    let waits = filter
        .is_none()
        .then(|| crate::replication::wait_reason(server, &request))
        .flatten();
    let link = match waits {
        Some(why) => {
            tracing::info!("{why}");
            ReplicaLink::Waiting(server.replication.wait_for_snapshot(request))
        }
        None => {
            let requests = std::slice::from_ref(&request);
            let mut starts =
                crate::replication::start_full_syncs(server, ctx.guard(), requests, filter);
            let Some(start) = starts.pop() else {
                return Err(Reply::error("ERR the sync could not start"));
            };
            ReplicaLink::Start(start)
        }
    };
    ctx.client.replica = Some(Box::new(link));
    // The link's preamble is the answer; the connection writes it.
    ctx.client.skip_reply = true;
    Ok(Reply::OK)
}

/// Redis's `syncCommand`: a filtered snapshot is only sent to a replica
/// that reads one of unknown length (Redis streams it from a socket).
fn filter_needs_eof(ctx: &Ctx) -> Result<(), Reply> {
    if ctx.client.rdb_functions_only.is_some() && !ctx.client.capa_eof {
        return Err(Reply::error("ERR Filtered replica requires EOF capability"));
    }
    Ok(())
}

/// REPLCONF option value ...: what a replica tells its master before PSYNC.
/// `listening-port` is kept for INFO, `capa eof` says the snapshot may be
/// streamed (`$EOF:`); `rdb-filter-only` leaves the keys (and, unless it
/// names `functions`, the libraries) out of the snapshot; `ip-address` and
/// `rdb-only` need no action; `ack` and `getack` are not answered, as in
/// Redis.
fn replconf(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(super::args::syntax_error());
    }
    for pair in args[1..].chunks(2) {
        let (option, value) = (pair[0], pair[1]);
        if is(option, "listening-port") {
            let port = int_in_range(value, 0, 65535, None)?;
            ctx.client.listening_port = u16::try_from(port).unwrap_or(0);
        } else if is(option, "capa") {
            ctx.client.capa_eof |= is(value, "eof");
        } else if is(option, "ack") || is(option, "getack") {
            ctx.client.skip_reply = true;
            return Ok(Reply::OK);
        } else if is(option, "rdb-filter-only") {
            // Include filters; only "functions" exists. Nothing by default.
            let Some(filters) = crate::protocol::inline::split_args(value) else {
                return Err(Reply::error("ERR Missing rdb-filter-only values"));
            };
            let mut functions = false;
            for filter in &filters {
                if !is(filter, "functions") {
                    return Err(Reply::error_owned(format!(
                        "ERR Unsupported rdb-filter-only option: {}",
                        String::from_utf8_lossy(filter)
                    )));
                }
                functions = true;
            }
            ctx.client.rdb_functions_only = Some(functions);
        } else if !(is(option, "ip-address") || is(option, "rdb-only")) {
            return Err(Reply::error_owned(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(option)
            )));
        }
    }
    Ok(Reply::OK)
}

/// ROLE: a master with its offset and its replicas as `[ip, port, acked
/// offset]`, or a replica as `[slave, host, port, link state, offset]`
/// (the offset -1 while the link is not up).
fn role(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let replication = &ctx.server.replication;
    if let Some(link) = ctx.server.master_link.info() {
        let connected = link.state == crate::replica::LinkState::Connected;
        let offset = if connected {
            replication.offset() as i64
        } else {
            -1
        };
        return Ok(Reply::Array(vec![
            Reply::bulk("slave"),
            Reply::bulk(link.host),
            Reply::from(i64::from(link.port)),
            Reply::bulk(link.state.name()),
            Reply::from(offset),
        ]));
    }
    let replicas = replication
        .online_replicas()
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
