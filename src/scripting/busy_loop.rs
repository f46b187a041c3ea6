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
//!
//! The first loop also accepts connections (Redis's event loop does so while
//! busy): its hook accepts what waits on the listeners, hands each socket
//! to the loop's adoption channel (its task starts once the script ends)
//! and meanwhile answers it as a new client: `-BUSY`, or `-NOAUTH` when a
//! password is needed, and AUTH when it succeeds (the task starts logged
//! in: [`take_login`]; a failing AUTH waits for the task, which logs it).
//! A connection dealt to another busy loop waits.

use std::cell::RefCell;
use std::os::fd::{AsRawFd, RawFd};

use bytes::BytesMut;
use tokio::sync::mpsc::UnboundedSender;

use super::BUSY;
use std::sync::atomic::Ordering;

use crate::acl::User;
use crate::client::{busy_tx, ClientHandle};
use crate::commands::Flags;
use crate::protocol::{Limits, RequestParser};
use crate::server::{Server, ShutdownFlags};
use std::sync::Arc;

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
        // Now: the loop a replica's acknowledgement would wake is the one
        // the script holds.
        let flags = ShutdownFlags {
            nosave: true,
            now: true,
            ..Default::default()
        };
        if server.prepare_shutdown(flags) == crate::server::Shutdown::Exit {
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

/// A socket and its peer, for the loop that will serve it.
pub type Handoff = crate::connection::Handoff;

/// This thread's listeners and where accepted sockets go (the first loop's).
#[derive(Default)]
struct Acceptor {
    listeners: Vec<RawFd>,
    adopt: Option<UnboundedSender<Handoff>>,
    /// Sockets accepted by this busy script's hook, served by it until
    /// the script ends (their task has not started).
    waiting: Vec<RawFd>,
    /// Who each of those logged in as (AUTH), for its task.
    logins: Vec<(RawFd, Arc<User>)>,
}

thread_local! {
    static ACCEPTOR: RefCell<Acceptor> = RefCell::default();
}

/// Where this thread's loop adopts sockets accepted while it was busy.
pub fn set_adopter(adopt: UnboundedSender<Handoff>) {
    ACCEPTOR.with(|a| a.borrow_mut().adopt = Some(adopt));
}

/// A listener of this thread's loop, accepted from while a script is busy;
/// it stops being used when the guard drops (the listener is replaced).
pub fn register_listener(fd: RawFd) -> ListenerGuard {
    ACCEPTOR.with(|a| a.borrow_mut().listeners.push(fd));
    ListenerGuard(fd)
}

pub struct ListenerGuard(RawFd);

impl Drop for ListenerGuard {
    fn drop(&mut self) {
        let _ = ACCEPTOR.try_with(|a| a.borrow_mut().listeners.retain(|&fd| fd != self.0));
    }
}

/// The script is over: the sockets it accepted are their tasks' now.
pub fn script_ended() {
    ACCEPTOR.with(|a| a.borrow_mut().waiting.clear());
}

/// The user a socket accepted by a busy script's hook logged in as.
pub fn take_login(fd: RawFd) -> Option<Arc<User>> {
    ACCEPTOR.with(|a| {
        let mut a = a.borrow_mut();
        let at = a.logins.iter().position(|(f, _)| *f == fd)?;
        Some(a.logins.swap_remove(at).1)
    })
}

fn logged_in(fd: RawFd) -> bool {
    ACCEPTOR.with(|a| a.borrow().logins.iter().any(|(f, _)| *f == fd))
}

/// AUTH [user] password from a socket accepted here: true when it
/// succeeded (recorded for its task).
fn login(server: &Server, fd: RawFd, args: &[&[u8]]) -> bool {
    let (user, pass) = match args {
        [_, pass] => (b"default".as_slice(), *pass),
        [_, user, pass] => (*user, *pass),
        _ => return false,
    };
    let Some(user) = server.acl.authenticate(user, pass) else {
        return false;
    };
    ACCEPTOR.with(|a| a.borrow_mut().logins.push((fd, user)));
    true
}

/// Answers what the other clients of this thread's loop sent meanwhile.
pub fn serve_others(server: &Server, own: u64) {
    accept_waiting(server);
    for handle in server.clients.on_this_thread(own) {
        // A replica's link carries the stream, not requests.
        if handle.fd >= 0 && !server.replication.is_replica(handle.id) {
            serve(server, Peer::Client(&handle));
        }
    }
    let waiting = ACCEPTOR.with(|a| a.borrow().waiting.clone());
    for fd in waiting {
        serve(server, Peer::New(fd));
    }
}

/// Accepts the connections waiting on this loop's listeners.
fn accept_waiting(server: &Server) {
    ACCEPTOR.with(|a| {
        let mut a = a.borrow_mut();
        let Some(adopt) = a.adopt.clone() else {
            return;
        };
        for listener in a.listeners.clone() {
            loop {
                // SAFETY: a listening socket of ours; accept4 writes nothing
                // when given null address pointers.
                let fd = unsafe {
                    libc::accept4(
                        listener,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    )
                };
                if fd < 0 {
                    break;
                }
                // SAFETY: accept4 gave us this descriptor to own.
                let socket =
                    unsafe { <std::net::TcpStream as std::os::fd::FromRawFd>::from_raw_fd(fd) };
                let Ok(addr) = socket.peer_addr() else {
                    continue;
                };
                // Served here only if its task would serve it at all.
                let served = !crate::connection::denied_by_protected_mode(
                    server,
                    &crate::transport::PeerAddr::Ip(addr),
                ) && (server.clients.len() + a.waiting.len())
                    < server.config.maxclients() as usize;
                let raw = socket.as_raw_fd();
                // The socket stays open in the channel until its task runs.
                if adopt.send(Handoff::Tcp(socket, addr, false)).is_ok() && served {
                    a.waiting.push(raw);
                }
            }
        }
    });
}

/// A client the busy loop answers: a connected one, or one accepted by
/// this script's hook whose task has not started.
enum Peer<'a> {
    Client(&'a ClientHandle),
    New(RawFd),
}

fn serve(server: &Server, peer: Peer) {
    let (fd, resp, mut in_multi, handle) = match peer {
        Peer::Client(handle) => {
            let info = handle.info();
            let mut in_multi = info.multi.is_some();
            // What an earlier pass answered and the task has not applied yet.
            let pending = handle.busy_tx.load(Ordering::Relaxed);
            if pending & busy_tx::ENTERED != 0 {
                in_multi = true;
            } else if pending & busy_tx::DISCARDED != 0 {
                in_multi = false;
            }
            (handle.fd as i32, info.resp, in_multi, Some(handle))
        }
        Peer::New(fd) => (fd, crate::protocol::Resp::V2, false, None),
    };
    // Redis's NOAUTH comes before the busy refusal (a new client has not
    // authenticated).
    let authenticated = match handle {
        Some(h) => h.authenticated.load(Ordering::Relaxed),
        None => logged_in(fd),
    };
    let mut needs_auth = !authenticated && server.acl.default_requires_auth();
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
        let action = if handle.is_none() && args[0].eq_ignore_ascii_case(b"auth") {
            if !login(server, fd, &args) {
                break;
            }
            needs_auth = false;
            Action::Reply(b"+OK\r\n")
        } else if needs_auth {
            match server.commands.lookup(&args) {
                Ok(cmd) if cmd.flags.contains(Flags::NO_AUTH) => Action::Leave,
                _ => Action::Reply(b"-NOAUTH Authentication required.\r\n"),
            }
        } else {
            decide(server, &args)
        };
        match (action, handle) {
            (Action::Leave, _) => break,
            // Only a client's task can hold its transaction.
            (Action::Multi, None) => break,
            (Action::AbortExec, Some(handle)) if in_multi => {
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
            (Action::Multi, Some(_)) if in_multi => {
                replies.extend_from_slice(b"-ERR MULTI calls can not be nested\r\n");
            }
            (Action::Multi, Some(handle)) => {
                replies.extend_from_slice(b"+OK\r\n");
                handle.busy_tx.fetch_or(busy_tx::ENTERED, Ordering::Relaxed);
                in_multi = true;
            }
            (Action::AbortExec, _) => replies.extend_from_slice(busy),
            (Action::Reply(reply), handle) => {
                if let Some(handle) = handle.filter(|_| in_multi && reply.starts_with(b"-BUSY")) {
                    handle.busy_tx.fetch_or(busy_tx::FAILED, Ordering::Relaxed);
                }
                replies.extend_from_slice(reply)
            }
            (Action::Stats, _) => {
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
