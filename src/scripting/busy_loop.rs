//! Serving the other clients of a busy script's own event loop (Redis's
//! `processEventsWhileBlocked` from its script hook).
//!
//! The script runs on its client's event loop thread, so that loop's other
//! connection tasks cannot run until it ends. Past `busy-reply-threshold`,
//! the script's hook calls [`serve_others`]: it looks at the sockets of
//! the other clients of this loop (peeking, so bytes it does not handle
//! stay for their task), answers every complete request as Redis does
//! while a script is busy (`-BUSY`), acts on SCRIPT KILL / FUNCTION KILL
//! and SHUTDOWN NOSAVE, lets MULTI through as Redis does (recorded in
//! `busy_tx` for the client's task, which holds the transaction), and
//! stops at the first other command allowed while busy, which its task
//! runs once the script is over. Clients of other
//! loops are served by their loops, where `commands::execute` refuses with
//! `-BUSY`.

use bytes::BytesMut;

use super::BUSY;
use std::sync::atomic::Ordering;

use crate::client::{busy_tx, ClientHandle};
use crate::commands::Flags;
use crate::protocol::{Limits, RequestParser};
use crate::server::{Server, ShutdownFlags};

/// What a busy loop does with one request.
enum Action {
    Reply(&'static [u8]),
    /// FUNCTION STATS, in the client's protocol.
    Stats,
    /// Leave it (and what follows) to the client's task.
    Leave,
    /// EXEC: `-EXECABORT` with the busy error inside MULTI, as Redis's
    /// `rejectCommand` aborts a refused EXEC; plain `-BUSY` outside.
    AbortExec,
    /// MULTI, which Redis allows while busy: `+OK`, and the client's task
    /// enters the transaction when it next runs.
    Multi,
}

fn decide(server: &Server, args: &[&[u8]]) -> Action {
    let is = |a: &[u8], s: &str| a.eq_ignore_ascii_case(s.as_bytes());
    let sub = args.get(1).copied().unwrap_or_default();
    // A script run by loading (an AOF's EVAL): Redis refuses what may not
    // run while loading before it looks at the busy script.
    if server.is_loading() {
        if let Ok(cmd) = server.commands.lookup(args) {
            if !cmd.flags.contains(Flags::LOADING) {
                return Action::Reply(b"-LOADING Redis is loading the dataset in memory\r\n");
            }
        }
    }
    if args.len() == 2 && (is(args[0], "script") || is(args[0], "function")) && is(sub, "kill") {
        let eval = is(args[0], "script");
        return Action::Reply(match BUSY.kill(eval) {
            super::KillOutcome::Killed => b"+OK\r\n",
            super::KillOutcome::NotBusy => b"-NOTBUSY No scripts in execution right now.\r\n",
            super::KillOutcome::Unkillable => b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n",
            super::KillOutcome::OtherKind if eval => b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n",
            super::KillOutcome::OtherKind => b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n",
        });
    }
    if is(args[0], "shutdown") && args[1..].iter().any(|a| is(a, "nosave")) {
        let flags = ShutdownFlags {
            nosave: true,
            ..Default::default()
        };
        if server.prepare_shutdown(flags) {
            let pidfile = server.config.pidfile();
            if !pidfile.is_empty() {
                let _ = std::fs::remove_file(pidfile);
            }
            tracing::warn!("{} is now ready to exit, bye bye...", crate::server::NAME);
            std::process::exit(0);
        }
    }
    if args.len() == 2 && is(args[0], "function") && is(sub, "stats") {
        return Action::Stats;
    }
    match server.commands.lookup(args) {
        // MULTI is answered here: left to the task, which cannot run until
        // the script ends, its client would wait for the reply, and could
        // never send the SCRIPT KILL it may be about to send elsewhere.
        Ok(cmd) if cmd.name == "multi" => Action::Multi,
        Ok(cmd) if cmd.flags.contains(Flags::ALLOW_BUSY) => Action::Leave,
        Ok(cmd) if cmd.name == "exec" => Action::AbortExec,
        _ if BUSY.is_eval() => Action::Reply(
            b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n",
        ),
        _ => Action::Reply(
            b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n",
        ),
    }
}

/// Answers what the other clients of this thread's loop sent meanwhile.
pub fn serve_others(server: &Server, own: u64) {
    for handle in server.clients.on_this_thread(own) {
        // A replica's link carries the stream, not requests.
        if handle.fd >= 0 && !server.replication.is_replica(handle.id) {
            serve(server, &handle);
        }
    }
}

fn serve(server: &Server, handle: &ClientHandle) {
    let fd = handle.fd as i32;
    let (resp, mut in_multi) = {
        let info = handle.info();
        (info.resp, info.multi.is_some())
    };
    // What an earlier pass answered and the task has not applied yet.
    let pending = handle.busy_tx.load(Ordering::Relaxed);
    if pending & busy_tx::ENTERED != 0 {
        in_multi = true;
    } else if pending & busy_tx::DISCARDED != 0 {
        in_multi = false;
    }
    let busy: &[u8] = if BUSY.is_eval() {
        b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    } else {
        b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
    };
    let mut peek = vec![0u8; 64 * 1024];
    // SAFETY: `peek` is writable for its length; MSG_PEEK leaves the bytes queued.
    let n = unsafe {
        libc::recv(
            fd,
            peek.as_mut_ptr().cast(),
            peek.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    let Ok(n) = usize::try_from(n) else {
        return;
    };
    if n == 0 {
        return;
    }
    let mut buf = BytesMut::from(&peek[..n]);
    let mut parser = RequestParser::default();
    let mut replies = Vec::new();
    let mut consumed = 0;
    let limits = Limits {
        max_bulk_len: server.config.proto_max_bulk_len(),
        unauthenticated: false,
    };
    while let Ok(Some(request)) = parser.parse(&mut buf, limits) {
        let args = parser.args(&request, &buf);
        if args.is_empty() {
            break;
        }
        match decide(server, &args) {
            Action::Leave => break,
            Action::AbortExec if in_multi => {
                replies.extend_from_slice(b"-EXECABORT Transaction discarded because of: ");
                replies.extend_from_slice(&busy[1..]);
                handle
                    .busy_tx
                    .fetch_and(!(busy_tx::ENTERED | busy_tx::FAILED), Ordering::Relaxed);
                handle
                    .busy_tx
                    .fetch_or(busy_tx::DISCARDED, Ordering::Relaxed);
                in_multi = false;
            }
            Action::Multi if in_multi => {
                replies.extend_from_slice(b"-ERR MULTI calls can not be nested\r\n");
            }
            Action::Multi => {
                replies.extend_from_slice(b"+OK\r\n");
                handle.busy_tx.fetch_or(busy_tx::ENTERED, Ordering::Relaxed);
                in_multi = true;
            }
            Action::AbortExec => replies.extend_from_slice(busy),
            Action::Reply(reply) => {
                if in_multi && reply.starts_with(b"-BUSY") {
                    handle.busy_tx.fetch_or(busy_tx::FAILED, Ordering::Relaxed);
                }
                replies.extend_from_slice(reply)
            }
            Action::Stats => {
                let reply = super::functions::stats_reply();
                let mut out = BytesMut::new();
                crate::protocol::encode(&reply, resp, &mut out);
                replies.extend_from_slice(&out);
            }
        }
        drop(args);
        bytes::Buf::advance(&mut buf, request.len);
        consumed = n - buf.len();
    }
    if consumed == 0 {
        return;
    }
    // SAFETY: `peek` holds at least `consumed` bytes, which the socket has.
    unsafe {
        libc::recv(fd, peek.as_mut_ptr().cast(), consumed, libc::MSG_DONTWAIT);
        libc::write(fd, replies.as_ptr().cast(), replies.len());
    }
}
