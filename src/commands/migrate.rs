//! MIGRATE (Redis's `migrateCommand` in cluster.c): hand keys to another
//! server as RESTORE commands and delete them here once it has acknowledged.
//!
//! Like Redis, the transfer is synchronous: the command holds its keys'
//! shards (and its event loop) while it talks to the target, so no client
//! sees a key both here and there, or neither, and the deletion propagates
//! as the `DEL` of exactly the keys the target accepted. Connections are
//! cached per `host:port` (at most 64, closed after 10 s unused by the cron),
//! remembering the database last SELECTed on them.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::args::{int_arg, is, syntax_error};
use super::{argv, cmd_locking, CmdResult, Ctx, Locks, Registration};
use crate::keyspace::{Keyspace, LockSet};
use crate::protocol::Reply;

pub static COMMANDS: &[Registration] = &[cmd_locking("migrate", migrate, Locks::Custom(locks))];

/// Redis's `migrateGetKeys`: where MIGRATE's keys are, the third argument
/// or everything after `KEYS` (none when both are given: the command
/// answers that error). COMMAND GETKEYS and locking both read it, because
/// the key specs cannot tell an `AUTH` password `keys` from the keyword.
pub fn key_range(args: &[&[u8]]) -> std::ops::Range<usize> {
    let mut i = 6;
    while i < args.len() {
        if is(args[i], "keys") {
            return match args[3].is_empty() {
                true => i + 1..args.len(),
                false => 3..3,
            };
        }
        if is(args[i], "auth") {
            i += 1;
        } else if is(args[i], "auth2") {
            i += 2;
        }
        i += 1;
    }
    3..4.min(args.len())
}

fn locks(keyspace: &Keyspace, db: usize, args: &[&[u8]], set: &mut LockSet) {
    for key in &args[key_range(args)] {
        set.add_key(keyspace, db, key);
    }
}

/// Redis's `MIGRATE_SOCKET_CACHE_ITEMS`.
const MAX_CACHED: usize = 64;
/// Redis's `MIGRATE_SOCKET_CACHE_TTL`.
const CACHE_TTL: Duration = Duration::from_secs(10);
/// Redis reads each reply line into a 1 KiB buffer.
const MAX_LINE: usize = 1023;

/// One cached connection to a target.
struct Target {
    conn: BufReader<TcpStream>,
    /// The database last selected on it, or None when unknown (new, or
    /// after the target answered an error).
    last_db: Option<i64>,
    last_use: Instant,
}

/// The MIGRATE connections by `host:port` (INFO `migrate_cached_sockets`).
#[derive(Default)]
pub struct SocketCache {
    targets: Mutex<HashMap<Vec<u8>, Target>>,
}

impl SocketCache {
    /// How many connections are cached.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// The cron's once-a-second sweep (`migrateCloseTimedoutSockets`).
    pub fn close_idle(&self) {
        self.lock()
            .retain(|_, target| target.last_use.elapsed() <= CACHE_TTL);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Target>> {
        self.targets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached connection to `name`, or a new one (Redis drops a random
    /// one when the cache is full). Taken out of the cache while in use.
    fn take(
        &self,
        name: &[u8],
        host: &[u8],
        port: &[u8],
        timeout: Duration,
    ) -> Result<Target, ConnectFailure> {
        let mut targets = self.lock();
        if let Some(mut target) = targets.remove(name) {
            target.last_use = Instant::now();
            return Ok(target);
        }
        if targets.len() >= MAX_CACHED {
            if let Some(victim) = targets.keys().next().cloned() {
                targets.remove(&victim);
            }
        }
        drop(targets);
        let conn = connect(host, port, timeout)?;
        Ok(Target {
            conn: BufReader::new(conn),
            last_db: None,
            last_use: Instant::now(),
        })
    }

    fn put(&self, name: Vec<u8>, target: Target) {
        self.lock().insert(name, target);
    }
}

/// Why no connection could be made.
enum ConnectFailure {
    /// No address, or no answer within the timeout: Redis's "error or
    /// timeout connecting".
    Unreachable,
    /// The target refused at once. Redis's non-blocking connect counts the
    /// socket as connected and fails on the first write, so it answers
    /// "error or timeout writing" (after its one retry).
    Refused,
}

fn connect(host: &[u8], port: &[u8], timeout: Duration) -> Result<TcpStream, ConnectFailure> {
    let host = std::str::from_utf8(host).map_err(|_| ConnectFailure::Unreachable)?;
    let addrs = (host, atoi(port))
        .to_socket_addrs()
        .map_err(|_| ConnectFailure::Unreachable)?;
    let mut failure = ConnectFailure::Unreachable;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(conn) => {
                conn.set_nodelay(true)
                    .map_err(|_| ConnectFailure::Refused)?;
                return Ok(conn);
            }
            Err(e) if !is_timeout(&e) => failure = ConnectFailure::Refused,
            Err(_) => {}
        }
    }
    Err(failure)
}

/// C's `atoi` as Redis applies it to the port: leading digits, else 0.
fn atoi(s: &[u8]) -> u16 {
    s.iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u16, |n, &b| {
            n.wrapping_mul(10).wrapping_add(u16::from(b - b'0'))
        })
}

/// What went wrong on the connection (Redis's `write_error` / errno).
enum IoFailure {
    Write { timed_out: bool },
    Read { timed_out: bool },
}

impl IoFailure {
    fn timed_out(&self) -> bool {
        match self {
            IoFailure::Write { timed_out } | IoFailure::Read { timed_out } => *timed_out,
        }
    }

    fn reply(&self) -> Reply {
        let verb = match self {
            IoFailure::Write { .. } => "writing",
            IoFailure::Read { .. } => "reading",
        };
        Reply::error_owned(format!("IOERR error or timeout {verb} to target instance"))
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Reads one reply line (without its CRLF), at most [`MAX_LINE`] bytes kept.
fn read_line(conn: &mut BufReader<TcpStream>) -> Result<Vec<u8>, IoFailure> {
    let mut line = Vec::new();
    match conn.read_until(b'\n', &mut line) {
        Ok(0) => Err(IoFailure::Read { timed_out: false }),
        Ok(_) => {
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            line.truncate(MAX_LINE);
            Ok(line)
        }
        Err(e) => Err(IoFailure::Read {
            timed_out: is_timeout(&e),
        }),
    }
}

/// A key to send: its name, DUMP payload and remaining TTL (0 = none).
struct Outgoing<'a> {
    key: &'a [u8],
    payload: Vec<u8>,
    expires_at: Option<u64>,
}

/// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
/// [AUTH password | AUTH2 username password] [KEYS key ...]
fn migrate(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut copy, mut replace) = (false, false);
    let mut auth: Option<(Option<&[u8]>, &[u8])> = None;
    let mut i = 6;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(args[i], "copy") {
            copy = true;
        } else if is(args[i], "replace") {
            replace = true;
        } else if is(args[i], "auth") && more >= 1 {
            auth = Some((None, args[i + 1]));
            i += 1;
        } else if is(args[i], "auth2") && more >= 2 {
            auth = Some((Some(args[i + 1]), args[i + 2]));
            i += 2;
        } else if is(args[i], "keys") {
            if !args[3].is_empty() {
                return Err(Reply::error(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            break;
        } else {
            return Err(syntax_error());
        }
        i += 1;
    }
    let keys = &args[key_range(args)];
    let timeout = int_arg(args[5])?;
    let db = int_arg(args[4])?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });

    let compress = ctx.server.config.rdbcompression();
    let mut outgoing = Vec::new();
    for &key in keys {
        let found = super::keys::read_key(ctx, key, true, |e| {
            (crate::rdb::dump(e.value, compress), e.expires_at())
        });
        if let Some((payload, expires_at)) = found {
            outgoing.push(Outgoing {
                key,
                payload,
                expires_at,
            });
        }
    }
    if outgoing.is_empty() {
        return Ok(Reply::Simple(b"NOKEY".as_slice().into()));
    }

    let name = [args[1], b":", args[2]].concat();
    let cache = &ctx.server.migrate_sockets;
    let mut may_retry = true;
    loop {
        let attempt = match cache.take(&name, args[1], args[2], timeout) {
            Ok(mut target) => {
                match transfer(
                    ctx,
                    &mut target,
                    &outgoing,
                    db,
                    auth,
                    replace,
                    copy,
                    timeout,
                ) {
                    Ok(reply) => {
                        cache.put(name, target);
                        return reply;
                    }
                    Err(failed) => failed,
                }
            }
            Err(ConnectFailure::Refused) => (IoFailure::Write { timed_out: false }, true),
            Err(ConnectFailure::Unreachable) => {
                return Err(Reply::error(
                    "IOERR error or timeout connecting to the client",
                ))
            }
        };
        // The cached connection may have been closed by the target: one
        // retry on a fresh one, unless it was a timeout.
        let (failure, retry) = attempt;
        if retry && may_retry && !failure.timed_out() {
            may_retry = false;
            continue;
        }
        return Err(failure.reply());
    }
}

/// One attempt on one connection. `Ok` carries the command's reply (the
/// connection stays cached); `Err` a connection failure and whether nothing
/// was done yet, so a retry is safe (the connection is dropped).
#[allow(clippy::too_many_arguments)]
fn transfer(
    ctx: &mut Ctx,
    target: &mut Target,
    outgoing: &[Outgoing],
    db: i64,
    auth: Option<(Option<&[u8]>, &[u8])>,
    replace: bool,
    copy: bool,
    timeout: Duration,
) -> Result<CmdResult, (IoFailure, bool)> {
    let mut request = Vec::new();
    if let Some((user, password)) = auth {
        let mut words: Vec<&[u8]> = vec![b"AUTH"];
        words.extend(user);
        words.push(password);
        crate::propagate::write_command(&mut request, &words);
    }
    let select = target.last_db != Some(db);
    if select {
        crate::propagate::write_command(&mut request, &[b"SELECT", db.to_string().as_bytes()]);
    }
    // Keys that expired since they were looked up are skipped, as Redis.
    let now = ctx.now_ms();
    let sent: Vec<&Outgoing> = outgoing
        .iter()
        .filter(|o| o.expires_at.is_none_or(|at| at > now))
        .collect();
    for o in &sent {
        let ttl = o.expires_at.map_or(0, |at| (at - now).max(1)).to_string();
        let mut words: Vec<&[u8]> = vec![b"RESTORE", o.key, ttl.as_bytes(), &o.payload];
        if replace {
            words.push(b"REPLACE");
        }
        crate::propagate::write_command(&mut request, &words);
    }

    let conn = target.conn.get_mut();
    let timeouts = conn
        .set_write_timeout(Some(timeout))
        .and_then(|()| conn.set_read_timeout(Some(timeout)));
    if let Err(e) = timeouts.and_then(|()| conn.write_all(&request)) {
        return Err((
            IoFailure::Write {
                timed_out: is_timeout(&e),
            },
            true,
        ));
    }
    let auth_reply = match auth {
        Some(_) => Some(read_line(&mut target.conn).map_err(|f| (f, true))?),
        None => None,
    };
    let select_reply = match select {
        true => Some(read_line(&mut target.conn).map_err(|f| (f, true))?),
        false => None,
    };
    let early_error = [&auth_reply, &select_reply]
        .into_iter()
        .flatten()
        .find(|line| line.first() == Some(&b'-'))
        .cloned();

    let mut target_error: Option<Vec<u8>> = None;
    let mut moved: Vec<&[u8]> = Vec::new();
    let mut failure = None;
    for (j, o) in sent.iter().enumerate() {
        let line = match read_line(&mut target.conn) {
            Ok(line) => line,
            Err(f) => {
                failure = Some((f, j == 0));
                break;
            }
        };
        if let Some(error) = early_error
            .clone()
            .or((line.first() == Some(&b'-')).then_some(line))
        {
            target.last_db = None;
            target_error.get_or_insert(error);
        } else if !copy {
            ctx.db().take(o.key);
            moved.push(o.key);
        }
    }
    if !moved.is_empty() {
        let mut del: Vec<&[u8]> = vec![b"DEL"];
        del.extend(&moved);
        ctx.propagate_as(|| argv(&del));
    }
    if let Some(error) = target_error {
        let mut text = b"ERR Target instance replied with error: ".to_vec();
        text.extend_from_slice(&error[1..]);
        return Ok(Err(Reply::error_owned(text)));
    }
    if let Some((f, first)) = failure {
        // Keys already acknowledged stay deleted; retry only when none was.
        return Err((f, first && moved.is_empty()));
    }
    target.last_db = Some(db);
    Ok(Ok(Reply::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_parses_as_atoi() {
        assert_eq!(atoi(b"6379"), 6379);
        assert_eq!(atoi(b"63x"), 63);
        assert_eq!(atoi(b"x"), 0);
    }
}
