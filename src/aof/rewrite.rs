//! AOF rewrites (Redis's `rewriteAppendOnlyFileBackground`,
//! `backgroundRewriteDoneHandler`, `aofOpenIfNeededOnServerStart`): a new
//! base file from a snapshot of the dataset, a new incremental file from
//! the same moment on, and the manifest switched over once the base is on
//! disk, the old files kept as history until deleted.
//!
//! The base is written from a fork-less snapshot (`keyspace::snapshot`):
//! the cut is taken with every shard locked, at the same moment the stream
//! moves to the new incremental file, and a thread of its own walks the
//! dataset into the base, fsyncs and renames it, while clients go on.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::manifest::Manifest;
use super::{lock, unix_secs, Aof, Fatal, State};
use crate::child::{Outcome, Stage};
use crate::keyspace::snapshot::{Encoder, Snapshot};
use crate::keyspace::{CommandClock, EntryRef, Guard, Keyspace, StringValue, Value};
use crate::propagate::write_command;
use crate::server::Server;
use crate::types::set::Set;
use crate::types::stream::{Stream, StreamId};

/// Redis's `AOF_REWRITE_ITEMS_PER_CMD`.
const ITEMS_PER_CMD: usize = 64;

/// Why a rewrite did not start.
pub enum NotStarted {
    InProgress,
    /// Another snapshot runs (a BGSAVE): the cron starts it afterwards.
    Scheduled,
    Failed,
}

/// The base file being written: an RDB file (`aof-use-rdb-preamble yes`)
/// or the commands that rebuild the dataset (Redis's
/// `rewriteAppendOnlyFileRio`), its head taken at the cut.
enum Base {
    Rdb(crate::rdb::Background),
    Commands { head: Vec<u8> },
}

impl Base {
    fn at_cut(server: &Server, rdb: bool) -> Base {
        if rdb {
            let mut options = crate::rdb::Options::from_config(&server.config);
            options.aof_base = true;
            let used = crate::commands::server::used_memory();
            return Base::Rdb(crate::rdb::Background::at_cut(options, None, used));
        }
        let mut head = Vec::new();
        if server.config.aof_timestamp_enabled() {
            head.extend_from_slice(format!("#TS:{}\r\n", unix_secs()).as_bytes());
        }
        // Redis's `rewriteFunctions`: the libraries first.
        for code in crate::scripting::functions::LIBRARIES.full_codes() {
            write_command(&mut head, &[b"FUNCTION".as_slice(), b"LOAD", &code]);
        }
        Base::Commands { head }
    }

    fn encoder(&self) -> Box<dyn Encoder> {
        match self {
            Base::Rdb(file) => file.encoder(),
            Base::Commands { .. } => Box::new(CommandEncoder),
        }
    }

    /// Writes the whole base through `write`; false if the snapshot was
    /// aborted.
    fn write(
        self,
        keyspace: &Keyspace,
        snapshot: &Snapshot,
        mut write: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<bool> {
        match self {
            Base::Rdb(file) => file.write(keyspace, snapshot, write),
            Base::Commands { head } => {
                write(&head)?;
                keyspace.walk_snapshot(snapshot, write)
            }
        }
    }
}

/// The base written at once, `guard` holding every shard: at start-up,
/// before any client connects, when there is no base yet.
fn base_bytes(server: &Server, guard: &mut Guard<'_>, rdb: bool) -> Vec<u8> {
    let databases = server.keyspace.databases();
    match Base::at_cut(server, rdb) {
        Base::Rdb(_) => {
            let mut options = crate::rdb::Options::from_config(&server.config);
            options.aof_base = true;
            let used = crate::commands::server::used_memory();
            crate::rdb::snapshot(guard, databases, options, None, used).0
        }
        Base::Commands { mut head } => {
            let clock = CommandClock::at(crate::util::now_ms());
            for db in 0..databases {
                let mut view = guard.db(db, &clock);
                let mut selected = false;
                view.for_each_stored(|key, entry| {
                    if !std::mem::replace(&mut selected, true) {
                        CommandEncoder.database(&mut head, db, 0, 0);
                    }
                    CommandEncoder.key(&mut head, key, entry);
                });
            }
            head
        }
    }
}

/// The dataset as commands: SELECT before each database, then each key's
/// rebuilding commands and its PEXPIREAT.
struct CommandEncoder;

impl Encoder for CommandEncoder {
    fn database(&self, out: &mut Vec<u8>, db: usize, _keys: usize, _volatile: usize) {
        write_command(out, &[b"SELECT".as_slice(), db.to_string().as_bytes()]);
    }

    fn key(&self, out: &mut Vec<u8>, key: &[u8], entry: EntryRef<'_>) {
        rebuild(out, key, entry.value);
        if let Some(at) = entry.expires_at() {
            write_command(
                out,
                &[b"PEXPIREAT".as_slice(), key, at.to_string().as_bytes()],
            );
        }
    }
}

/// The commands that rebuild one key: SET, or RPUSH / SADD / ZADD / HMSET
/// of up to 64 elements each, as Redis's `rewrite*Object`.
fn rebuild(out: &mut Vec<u8>, key: &[u8], value: &Value) {
    fn batched(
        out: &mut Vec<u8>,
        verb: &'static [u8],
        key: &[u8],
        items: impl Iterator<Item = Vec<Vec<u8>>>,
    ) {
        let mut args: Vec<Vec<u8>> = Vec::new();
        let mut count = 0;
        let mut flush = |args: &mut Vec<Vec<u8>>| {
            if !args.is_empty() {
                let mut cmd: Vec<&[u8]> = vec![verb, key];
                cmd.extend(args.iter().map(Vec::as_slice));
                write_command(out, &cmd);
                args.clear();
            }
        };
        for item in items {
            args.extend(item);
            count += 1;
            if count % ITEMS_PER_CMD == 0 {
                flush(&mut args);
            }
        }
        flush(&mut args);
    }
    match value {
        Value::String(s) => {
            let bytes = match s {
                StringValue::Int(n) => n.to_string().into_bytes(),
                StringValue::Embstr(e) => e.to_vec(),
                StringValue::Raw(b) => b.to_vec(),
            };
            write_command(out, &[b"SET".as_slice(), key, &bytes]);
        }
        Value::List(list) => batched(out, b"RPUSH", key, list.iter().copied().map(|e| vec![e])),
        Value::Set(Set::Intset(ints)) => batched(
            out,
            b"SADD",
            key,
            ints.iter().map(|n| vec![n.to_string().into_bytes()]),
        ),
        Value::Set(set) => batched(
            out,
            b"SADD",
            key,
            set.iter().map(|m| vec![m.with_bytes(|b| b.to_vec())]),
        ),
        Value::ZSet(zset) => batched(
            out,
            b"ZADD",
            key,
            zset.iter_from(0, false).map(|(member, score)| {
                let mut text = Vec::new();
                crate::number::format_double(score, &mut text);
                vec![text, member.to_vec()]
            }),
        ),
        Value::Hash(hash) => {
            let mut pairs = Vec::with_capacity(hash.len());
            hash.for_each(|f, v| pairs.push(vec![f.to_vec(), v.to_vec()]));
            batched(out, b"HMSET", key, pairs.into_iter())
        }
        Value::Stream(stream) => rebuild_stream(out, key, stream),
    }
}

/// Redis's `rewriteStreamObject`: XADD of each entry (an empty stream by
/// `XADD MAXLEN 0` of a dummy entry), XSETID with the counters, then each
/// group (XGROUP CREATE), its consumers without pending entries (XGROUP
/// CREATECONSUMER) and each pending entry (XCLAIM ... JUSTID FORCE).
fn rebuild_stream(out: &mut Vec<u8>, key: &[u8], stream: &Stream) {
    let id = |id: StreamId| id.to_string().into_bytes();
    if stream.is_empty() {
        write_command(
            out,
            &[&b"XADD"[..], key, b"MAXLEN", b"0", b"0-1", b"x", b"y"],
        );
    }
    for entry in stream.range(StreamId::MIN, StreamId::MAX, false) {
        let entry_id = id(entry.id);
        let mut args: Vec<&[u8]> = vec![b"XADD", key, &entry_id];
        args.extend(entry.items());
        write_command(out, &args);
    }
    let (last, added, deleted) = (
        id(stream.last_id),
        stream.entries_added.to_string(),
        id(stream.max_deleted_id),
    );
    write_command(
        out,
        &[
            &b"XSETID"[..],
            key,
            &last,
            b"ENTRIESADDED",
            added.as_bytes(),
            b"MAXDELETEDID",
            &deleted,
        ],
    );
    for (name, group) in &stream.groups {
        let (group_last, read) = (id(group.last_id), group.entries_read.to_string());
        write_command(
            out,
            &[
                &b"XGROUP"[..],
                b"CREATE",
                key,
                name,
                &group_last,
                b"ENTRIESREAD",
                read.as_bytes(),
            ],
        );
        for (consumer_name, consumer) in &group.consumers {
            if consumer.pel.is_empty() {
                write_command(
                    out,
                    &[&b"XGROUP"[..], b"CREATECONSUMER", key, name, consumer_name],
                );
            }
            for pending in &consumer.pel {
                let Some(nack) = group.pel.get(pending) else {
                    continue;
                };
                let (pending, time, count) = (
                    id(*pending),
                    nack.delivery_time.to_string(),
                    nack.delivery_count.to_string(),
                );
                write_command(
                    out,
                    &[
                        &b"XCLAIM"[..],
                        key,
                        name,
                        consumer_name,
                        b"0",
                        &pending,
                        b"TIME",
                        time.as_bytes(),
                        b"RETRYCOUNT",
                        count.as_bytes(),
                        b"JUSTID",
                        b"FORCE",
                    ],
                );
            }
        }
    }
}

/// Writes `data` to `temp` in `dir`, fsyncs it and renames it to `dest`
/// (Redis's `rewriteAppendOnlyFile`).
fn write_file(temp: &Path, dest: &Path, data: &[u8]) -> std::io::Result<()> {
    let result = std::fs::File::create(temp)
        .and_then(|mut f| f.write_all(data).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(temp, dest));
    if let Err(e) = &result {
        tracing::warn!("Write error writing append only file on disk: {e}");
        let _ = std::fs::remove_file(temp);
    }
    result
}

/// Redis's `aofOpenIfNeededOnServerStart`, after loading: with
/// `appendonly yes`, a base file is written if there is none (an empty
/// dataset), the last incremental file is opened for appending (or a new
/// one created), the manifest persisted, and the stream attached.
pub fn open_on_start(server: &Server) -> Result<(), Fatal> {
    let aof = &server.aof;
    if aof.state() != State::On {
        return Ok(());
    }
    let dir = aof.dir();
    let filename = server.config.appendfilename();
    std::fs::create_dir_all(&dir).map_err(|e| {
        tracing::warn!(
            "Can't open or create append-only dir {}: {e}",
            server.config.appenddirname()
        );
        Fatal
    })?;
    let mut guard = crate::persistence::lock_all(server);
    let mut manifest = aof.lock().manifest.clone();
    let had_incr = !manifest.incr.is_empty();
    if manifest.base.is_none() && !had_incr {
        let rdb = server.config.aof_use_rdb_preamble();
        let name = manifest.new_base(&filename, rdb);
        let data = base_bytes(server, &mut guard, rdb);
        let temp = PathBuf::from(server.config.dir())
            .join(format!("temp-rewriteaof-{}.aof", std::process::id()));
        write_file(&temp, &dir.join(&name), &data).map_err(|_| Fatal)?;
        tracing::info!("Creating AOF base file {name} on server start");
        let mut inner = aof.lock();
        inner.base_size = data.len() as u64;
        inner.current_size = data.len() as u64;
    }
    let name = match manifest.incr.last() {
        Some(last) => last.name.clone(),
        None => manifest.new_incr(&filename),
    };
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join(&name))
        .map_err(|e| {
            tracing::warn!("Can't open the append-only file {name}: {e}");
            Fatal
        })?;
    let size = file.metadata().map_or(0, |m| m.len());
    manifest.persist(&dir, &filename).map_err(|_| Fatal)?;
    aof.switch_file(Some(file));
    {
        let mut inner = aof.lock();
        inner.manifest = manifest;
        inner.incr_size = size;
    }
    aof.attach();
    guard.release();
    if had_incr {
        tracing::info!("Opening AOF incr file {name} on server start");
    } else {
        tracing::info!("Creating AOF incr file {name} on server start");
    }
    Ok(())
}

/// Redis's `rewriteAppendOnlyFileBackground`, fork-less: `guard` holds
/// every shard. The stream moves to a new incremental file (a temp one
/// while the AOF waits for its first base) at the snapshot's cut, and a
/// thread writes the base from the snapshot and finishes the rewrite.
/// While another snapshot runs (a BGSAVE) the rewrite is scheduled, as
/// Redis schedules one while another child runs.
pub fn start(server: &Server, guard: &mut Guard<'_>) -> Result<(), NotStarted> {
    let aof = &server.aof;
    let stats = &aof.stats;
    if stats.rewrite_in_progress.load(Ordering::Relaxed) {
        return Err(NotStarted::InProgress);
    }
    if crate::persistence::snapshot_active(server) {
        stats.rewrite_scheduled.store(true, Ordering::Relaxed);
        return Err(NotStarted::Scheduled);
    }
    let fail = || {
        stats.last_rewrite_ok.store(false, Ordering::Relaxed);
        NotStarted::Failed
    };
    let Some(me) = server.arc() else {
        return Err(fail());
    };
    let dir = aof.dir();
    let filename = server.config.appendfilename();
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::warn!(
            "Can't open or create append-only dir {}: {e}",
            server.config.appenddirname()
        );
        return Err(fail());
    }
    aof.write_pending(true);
    let state = aof.state();
    if state != State::Off {
        // Redis's `openNewIncrAofForAppend`.
        let mut manifest = aof.lock().manifest.clone();
        let name = if state == State::WaitRewrite {
            format!("temp-{filename}.incr")
        } else {
            manifest.new_incr(&filename)
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join(&name));
        let file = match file {
            Ok(file) => file,
            Err(e) => {
                tracing::warn!("Can't open the append-only file {name}: {e}");
                return Err(fail());
            }
        };
        if state == State::On && manifest.persist(&dir, &filename).is_err() {
            return Err(fail());
        }
        tracing::info!("Creating AOF incr file {name} on background rewrite");
        aof.switch_file(Some(file));
        if state == State::On {
            aof.lock().manifest = manifest;
        }
        aof.attach();
        aof.reselect();
    }
    let rdb = server.config.aof_use_rdb_preamble();
    let base = Base::at_cut(server, rdb);
    let keyspace = guard.keyspace();
    let Some(snapshot) = keyspace.start_snapshot(guard, base.encoder()) else {
        return Err(fail());
    };
    // Redis's child names: written as one, renamed to the other when whole.
    let dir = PathBuf::from(server.config.dir());
    let names = |pid| {
        (
            format!("temp-rewriteaof-{pid}.aof"),
            base_written(&dir, pid),
        )
    };
    let child = crate::persistence::spawn_child(server, "aof-rewrite", names, &snapshot);
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            keyspace.abort_snapshot(guard);
            tracing::warn!("Can't rewrite append only file in background: fork: {e}");
            return Err(fail());
        }
    };
    let handle = child.handle.clone();
    let done = base_written(&dir, handle.pid);
    *lock(&aof.rewrite_running) = Some((snapshot.clone(), handle.clone()));
    stats.rewrites.fetch_add(1, Ordering::Relaxed);
    stats.rewrite_in_progress.store(true, Ordering::Relaxed);
    stats.rewrite_scheduled.store(false, Ordering::Relaxed);
    stats.rewrite_started.store(unix_secs(), Ordering::Relaxed);
    tracing::info!(
        "Background append only file rewriting started by pid {}",
        handle.pid
    );
    let started = Instant::now();
    let spawned = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || {
            let server = &*me;
            let produced = base.write(&server.keyspace, &snapshot, |bytes| child.write(bytes));
            let outcome = child.finish(matches!(produced, Ok(true)));
            if !finish_running(&server.aof, &snapshot) {
                // Killed meanwhile: its base is discarded and nothing is
                // reported, as Redis forgets a child it killed.
                let _ = std::fs::remove_file(&done);
                return;
            }
            let result = match outcome {
                Outcome::Written => {
                    tracing::info!(
                        "Successfully created the temporary AOF base file {}",
                        done.file_name()
                            .map(|n| n.to_string_lossy())
                            .unwrap_or_default()
                    );
                    Ok(done)
                }
                Outcome::Failed { stage, error } => {
                    let error = crate::config::strerror(&error);
                    match stage {
                        Stage::Open => tracing::warn!("Opening the temp file for AOF rewrite in rewriteAppendOnlyFile(): {error}"),
                        Stage::Write => tracing::warn!("Write error writing append only file on disk: {error}"),
                        Stage::Rename => tracing::warn!("Error moving temp append only file on the final destination: {error}"),
                    }
                    Err(Failure::Error)
                }
                Outcome::Killed(signal) => Err(Failure::Signal(signal)),
                Outcome::Aborted => Err(Failure::Error),
            };
            server.aof.rewrite_done(result, rdb, started);
        });
    if spawned.is_err() {
        keyspace.abort_snapshot(guard);
        *lock(&aof.rewrite_running) = None;
        server.aof.rewrite_done(Err(Failure::Error), rdb, started);
        return Err(NotStarted::Failed);
    }
    Ok(())
}

/// Where the child of process `pid` leaves a whole base, for the server
/// to install (Redis's `temp-rewriteaof-bg-<pid>.aof`).
fn base_written(dir: &Path, pid: u32) -> PathBuf {
    dir.join(format!("temp-rewriteaof-bg-{pid}.aof"))
}

/// Why a rewrite did not finish.
enum Failure {
    /// Its file could not be written or installed.
    Error,
    /// Its child was killed (not by the server).
    Signal(i32),
}

/// Whether the rewrite of `snapshot` is still the running one, which it
/// then stops being (so a later [`kill`] finds nothing to kill); false if
/// [`kill`] took it away first.
fn finish_running(aof: &Aof, snapshot: &Arc<Snapshot>) -> bool {
    let mut running = lock(&aof.rewrite_running);
    let ours = running
        .as_ref()
        .is_some_and(|(s, _)| Arc::ptr_eq(s, snapshot));
    if ours {
        *running = None;
    }
    ours
}

/// Redis's `killAppendOnlyChild` (CONFIG SET appendonly no): the running
/// rewrite stops and its base is never installed. Its child is stopped at
/// once (its walk, seeing the child gone, stops too), and its snapshot is
/// aborted here when every shard can be locked (`may_lock`: the caller
/// holds none).
pub fn kill(server: &Server, may_lock: bool) {
    let Some((snapshot, child)) = lock(&server.aof.rewrite_running).take() else {
        return;
    };
    tracing::info!("Killing running AOF rewrite child: {}", child.pid);
    child.terminate();
    if may_lock {
        let guard = crate::persistence::lock_all(server);
        let keyspace = &server.keyspace;
        if keyspace
            .running_snapshot()
            .is_some_and(|running| Arc::ptr_eq(&running, &snapshot))
        {
            keyspace.abort_snapshot(&guard);
        }
    }
    let stats = &server.aof.stats;
    stats.rewrite_in_progress.store(false, Ordering::Relaxed);
    stats.rewrite_started.store(0, Ordering::Relaxed);
}

/// Locks every shard and starts a rewrite (the cron's scheduled and
/// automatic rewrites, CONFIG SET appendonly yes): the caller must hold no
/// shard.
pub fn start_locked(server: &Server) -> Result<(), NotStarted> {
    let mut guard = crate::persistence::lock_all(server);
    let started = start(server, &mut guard);
    guard.release();
    started
}

/// The cron's AOF job (from Redis's `serverCron`): a scheduled rewrite
/// (CONFIG SET appendonly yes), an automatic one once the AOF grew
/// `auto-aof-rewrite-percentage` over its base past
/// `auto-aof-rewrite-min-size`, and a write postponed behind an fsync.
pub fn cron(server: &Server) {
    let aof = &server.aof;
    let stats = &aof.stats;
    if stats.rewrite_in_progress.load(Ordering::Relaxed) {
        return;
    }
    if stats.rewrite_scheduled.load(Ordering::Relaxed) {
        if !crate::persistence::snapshot_active(server) && !aof.rewrite_limited() {
            let _ = start_locked(server);
        }
        return;
    }
    let percentage = server.config.auto_aof_rewrite_percentage();
    let (state, current, base) = {
        let inner = aof.lock();
        (inner.state, inner.current_size, inner.base_size)
    };
    if state == State::On && percentage > 0 && current > server.config.auto_aof_rewrite_min_size() {
        let base = base.max(1);
        let growth = (current * 100 / base).saturating_sub(100);
        if growth >= percentage && !aof.rewrite_limited() {
            tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
            let _ = start_locked(server);
            return;
        }
    }
    aof.write_pending(false);
}

/// Rewrites failing in a row before the cron holds its rewrites back.
const LIMIT_AFTER_FAILURES: u64 = 3;
/// The longest the cron holds them back.
const LIMIT_MAX_MINUTES: u64 = 60;

/// Redis's `aofRewriteLimited`: each failed rewrite left a new incremental
/// file behind (opened when it started), so a rewrite failing for good (a
/// full disk) retried every cron tick would fill the directory with them.
/// After three failures in a row the cron's rewrites (scheduled and
/// automatic) wait 1 minute, then 2, 4, ... up to an hour; BGREWRITEAOF
/// still starts one at once.
#[derive(Debug, Default)]
pub(super) struct RewriteLimit {
    /// The last delay given (0: not limiting).
    delay_minutes: u64,
    /// Unix seconds the cron may try again (0: no delay running).
    retry_at: u64,
}

impl RewriteLimit {
    /// Whether the cron must not start a rewrite now; logs each new delay.
    fn limited(&mut self, failures: u64, now: u64) -> bool {
        if failures < LIMIT_AFTER_FAILURES {
            *self = RewriteLimit::default();
            return false;
        }
        if self.retry_at != 0 {
            if now < self.retry_at {
                return true;
            }
            // One try when the delay is over; the next failure doubles it.
            self.retry_at = 0;
            return false;
        }
        self.delay_minutes = (self.delay_minutes * 2).clamp(1, LIMIT_MAX_MINUTES);
        self.retry_at = now + self.delay_minutes * 60;
        tracing::warn!(
            "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
            self.delay_minutes
        );
        true
    }
}

impl Aof {
    /// Deletes the manifest's history files unless `aof-disable-auto-gc`
    /// (at start-up, and when CONFIG SET turns auto gc back on: Redis's
    /// `updateAofAutoGCEnabled`).
    pub fn delete_history(&self) {
        let mut inner = self.lock();
        delete_history(&self.config, &self.dir(), &mut inner.manifest);
    }

    /// Whether the cron holds its rewrites back ([`RewriteLimit`]).
    fn rewrite_limited(&self) -> bool {
        let failures = self.stats.consecutive_failures.load(Ordering::Relaxed);
        lock(&self.rewrite_limit).limited(failures, unix_secs())
    }

    /// Redis's `backgroundRewriteDoneHandler`: the written base (`result`:
    /// its temp file) becomes the manifest's base, the incremental files
    /// it covers history (deleted unless `aof-disable-auto-gc`).
    fn rewrite_done(
        self: &Arc<Self>,
        result: Result<PathBuf, Failure>,
        rdb: bool,
        started: Instant,
    ) {
        let stats = &self.stats;
        let finished = result.and_then(|temp| {
            tracing::info!("Background AOF rewrite terminated with success");
            self.install_base(&temp, rdb).map_err(|()| Failure::Error)
        });
        match finished {
            Ok(()) => {
                stats.last_rewrite_ok.store(true, Ordering::Relaxed);
                stats.consecutive_failures.store(0, Ordering::Relaxed);
                tracing::info!("Background AOF rewrite finished successfully");
            }
            Err(failure) => {
                stats.last_rewrite_ok.store(false, Ordering::Relaxed);
                stats.consecutive_failures.fetch_add(1, Ordering::Relaxed);
                match failure {
                    Failure::Error => {
                        tracing::warn!("Background AOF rewrite terminated with error")
                    }
                    Failure::Signal(signal) => {
                        tracing::warn!("Background AOF rewrite terminated by signal {signal}")
                    }
                }
                if self.state() == State::WaitRewrite {
                    // The temp incremental file is useless without its base;
                    // the next rewrite starts over (Redis reschedules it).
                    self.detach();
                    self.switch_file(None);
                    self.discard_pending(&mut self.lock());
                    let temp = format!("temp-{}.incr", self.config.appendfilename());
                    tracing::info!("Removing the temp incr aof file {temp} in the background");
                    unlink_in_background(&self.dir().join(temp));
                    stats.rewrite_scheduled.store(true, Ordering::Relaxed);
                }
            }
        }
        stats
            .last_rewrite_secs
            .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
        stats.rewrite_in_progress.store(false, Ordering::Relaxed);
    }

    fn install_base(&self, temp: &Path, rdb: bool) -> Result<(), ()> {
        let dir = self.dir();
        let filename = self.config.appendfilename();
        let _w = lock(&self.write_lock);
        let mut inner = self.lock();
        let mut manifest = inner.manifest.clone();
        let base = manifest.new_base(&filename, rdb);
        let temp_name = temp.file_name().map(|n| n.to_string_lossy().into_owned());
        let temp_name = temp_name.unwrap_or_default();
        if let Err(e) = std::fs::rename(temp, dir.join(&base)) {
            // Named as Redis names them: relative to `dir`.
            tracing::warn!(
                "Error trying to rename the temporary AOF base file {temp_name} into {}: {}",
                Path::new(&self.config.appenddirname())
                    .join(&base)
                    .display(),
                crate::config::strerror(&e)
            );
            let _ = std::fs::remove_file(temp);
            return Err(());
        }
        tracing::info!("Successfully renamed the temporary AOF base file {temp_name} into {base}");
        if inner.state == State::WaitRewrite {
            let temp_incr = format!("temp-{filename}.incr");
            let incr = manifest.new_incr(&filename);
            if let Err(e) = std::fs::rename(dir.join(&temp_incr), dir.join(&incr)) {
                tracing::warn!(
                    "Error trying to rename the temporary AOF incr file {temp_incr} into {incr}: {e}"
                );
                let _ = std::fs::remove_file(dir.join(&base));
                return Err(());
            }
            tracing::info!(
                "Successfully renamed the temporary AOF incr file {temp_incr} into {incr}"
            );
        }
        manifest.incr_to_history(inner.file.is_some());
        if manifest.persist(&dir, &filename).is_err() {
            let _ = std::fs::remove_file(dir.join(&base));
            return Err(());
        }
        if inner.state != State::Off {
            let base_size = std::fs::metadata(dir.join(&base)).map_or(0, |m| m.len());
            inner.current_size = base_size + inner.incr_size;
            inner.base_size = inner.current_size;
        }
        if inner.state == State::WaitRewrite {
            inner.state = State::On;
        }
        delete_history(&self.config, &dir, &mut manifest);
        inner.manifest = manifest;
        Ok(())
    }
}

/// Redis's `aofDelHistoryFiles`: history files removed and the manifest
/// persisted without them, unless `aof-disable-auto-gc`.
pub fn delete_history(config: &crate::config::Config, dir: &Path, manifest: &mut Manifest) {
    if config.aof_disable_auto_gc() || manifest.history.is_empty() {
        return;
    }
    for info in manifest.history.drain(..) {
        tracing::info!("Removing the history file {} in the background", info.name);
        unlink_in_background(&dir.join(&info.name));
    }
    let _ = manifest.persist(dir, &config.appendfilename());
}

/// Redis's `bg_unlink`: the name goes at once, and the file's blocks are
/// freed when its last descriptor closes, on the lazyfree thread. Removing
/// a big old base outright took its caller (holding the AOF's locks, which
/// every write waits for) up to 100 ms.
fn unlink_in_background(path: &Path) {
    let open = std::fs::File::open(path);
    let _ = std::fs::remove_file(path);
    if let Ok(file) = open {
        crate::lazyfree::free(file, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::RewriteLimit;

    /// The delays after each further failure: 1, 2, 4, ... 32, then an hour
    /// for good; a success (fewer than three failures) starts over.
    #[test]
    fn the_rewrite_limit_doubles_up_to_an_hour() {
        let mut limit = RewriteLimit::default();
        assert!(!limit.limited(2, 1000));
        let mut now = 1000;
        for minutes in [1, 2, 4, 8, 16, 32, 60, 60] {
            assert!(limit.limited(3, now), "a new delay");
            assert!(
                limit.limited(3, now + minutes * 60 - 1),
                "{minutes} minutes"
            );
            now += minutes * 60;
            assert!(!limit.limited(3, now), "one try after {minutes} minutes");
        }
        assert!(!limit.limited(0, now));
        assert!(limit.limited(3, now));
        assert!(!limit.limited(3, now + 60));
    }
}
