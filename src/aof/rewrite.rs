//! AOF rewrites (Redis's `rewriteAppendOnlyFileBackground`,
//! `backgroundRewriteDoneHandler`, `aofOpenIfNeededOnServerStart`): a new
//! base file from a snapshot of the dataset, a new incremental file from
//! the same moment on, and the manifest switched over once the base is on
//! disk, the old files kept as history until deleted.
//!
//! The snapshot is taken with every shard locked (the dataset is
//! serialised into memory on the caller's event loop, which stalls every
//! client for that long: about as long as SAVE's serialisation, before the
//! file is written); writing, fsyncing and renaming the base then happen
//! on a thread of their own while clients go on. The fork-less background
//! snapshot of the design would remove the stall.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::manifest::Manifest;
use super::{lock, unix_secs, Aof, Fatal, State};
use crate::keyspace::{CommandClock, Guard, LockSet, StringValue, Value};
use crate::propagate::write_command;
use crate::server::Server;
use crate::types::set::Set;
use crate::types::stream::{Stream, StreamId};

/// Redis's `AOF_REWRITE_ITEMS_PER_CMD`.
const ITEMS_PER_CMD: usize = 64;

/// Why a rewrite did not start.
pub enum NotStarted {
    InProgress,
    Failed,
}

/// The base file's bytes: an RDB file (`aof-use-rdb-preamble yes`) or the
/// commands that rebuild the dataset (Redis's `rewriteAppendOnlyFileRio`).
/// The guard holds every shard.
fn base_bytes(server: &Server, guard: &mut Guard<'_>, rdb: bool) -> Vec<u8> {
    let databases = server.keyspace.databases();
    if rdb {
        let mut options = crate::rdb::Options::from_config(&server.config);
        options.aof_base = true;
        let used = crate::commands::server::used_memory();
        return crate::rdb::snapshot(guard, databases, options, None, used).0;
    }
    let mut out = Vec::new();
    if server.config.aof_timestamp_enabled() {
        out.extend_from_slice(format!("#TS:{}\r\n", unix_secs()).as_bytes());
    }
    // Redis's `rewriteFunctions`: the libraries first.
    for code in crate::scripting::functions::LIBRARIES.full_codes() {
        write_command(&mut out, &[b"FUNCTION".as_slice(), b"LOAD", &code]);
    }
    let clock = CommandClock::at(crate::util::now_ms());
    for db in 0..databases {
        let mut view = guard.db(db, &clock);
        let mut selected = false;
        view.for_each_stored(|key, entry| {
            if !selected {
                write_command(&mut out, &[b"SELECT".as_slice(), db.to_string().as_bytes()]);
                selected = true;
            }
            rebuild(&mut out, key, &entry.value);
            if let Some(at) = entry.expires_at() {
                write_command(
                    &mut out,
                    &[b"PEXPIREAT".as_slice(), key, at.to_string().as_bytes()],
                );
            }
        });
    }
    out
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
        Value::List(list) => batched(out, b"RPUSH", key, list.iter().map(|e| vec![e.to_vec()])),
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
        Value::Hash(hash) => batched(
            out,
            b"HMSET",
            key,
            hash.iter().map(|(f, v)| vec![f.to_vec(), v.to_vec()]),
        ),
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

fn lock_all(server: &Server) -> Guard<'_> {
    let mut set = LockSet::new();
    set.add_all(&server.keyspace);
    server.keyspace.lock(set)
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
    let mut guard = lock_all(server);
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
/// while the AOF waits for its first base), the dataset is serialised,
/// and a thread writes the base and finishes the rewrite.
pub fn start(server: &Server, guard: &mut Guard<'_>) -> Result<(), NotStarted> {
    let aof = &server.aof;
    let stats = &aof.stats;
    if stats.rewrite_in_progress.load(Ordering::Relaxed) {
        return Err(NotStarted::InProgress);
    }
    let fail = || {
        stats.last_rewrite_ok.store(false, Ordering::Relaxed);
        NotStarted::Failed
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
    stats.rewrites.fetch_add(1, Ordering::Relaxed);
    let rdb = server.config.aof_use_rdb_preamble();
    let data = base_bytes(server, guard, rdb);
    stats.rewrite_in_progress.store(true, Ordering::Relaxed);
    stats.rewrite_scheduled.store(false, Ordering::Relaxed);
    stats.rewrite_started.store(unix_secs(), Ordering::Relaxed);
    tracing::info!(
        "Background append only file rewriting started by pid {}",
        std::process::id()
    );
    let aof = server.aof.clone();
    let temp = PathBuf::from(server.config.dir())
        .join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let started = Instant::now();
    let spawned = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || {
            let written = std::fs::File::create(&temp)
                .and_then(|mut f| f.write_all(&data).and_then(|()| f.sync_all()));
            let result = match written {
                Ok(()) => {
                    tracing::info!(
                        "Successfully created the temporary AOF base file {}",
                        temp.file_name()
                            .map(|n| n.to_string_lossy())
                            .unwrap_or_default()
                    );
                    Ok(temp)
                }
                Err(e) => {
                    tracing::warn!("Write error writing append only file on disk: {e}");
                    let _ = std::fs::remove_file(&temp);
                    Err(())
                }
            };
            aof.rewrite_done(result, rdb, started);
        });
    if spawned.is_err() {
        server.aof.rewrite_done(Err(()), rdb, started);
        return Err(NotStarted::Failed);
    }
    Ok(())
}

/// Locks every shard and starts a rewrite (the cron's scheduled and
/// automatic rewrites, CONFIG SET appendonly yes): the caller must hold no
/// shard.
pub fn start_locked(server: &Server) {
    let mut guard = lock_all(server);
    let _ = start(server, &mut guard);
    guard.release();
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
        start_locked(server);
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
        if growth >= percentage {
            tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
            start_locked(server);
            return;
        }
    }
    aof.write_pending(false);
}

impl Aof {
    /// Redis's `backgroundRewriteDoneHandler`: the written base (`result`:
    /// its temp file) becomes the manifest's base, the incremental files
    /// it covers history (deleted unless `aof-disable-auto-gc`).
    fn rewrite_done(self: &Arc<Self>, result: Result<PathBuf, ()>, rdb: bool, started: Instant) {
        let stats = &self.stats;
        let finished = result.and_then(|temp| {
            tracing::info!("Background AOF rewrite terminated with success");
            self.install_base(&temp, rdb)
        });
        match finished {
            Ok(()) => {
                stats.last_rewrite_ok.store(true, Ordering::Relaxed);
                stats.consecutive_failures.store(0, Ordering::Relaxed);
                tracing::info!("Background AOF rewrite finished successfully");
            }
            Err(()) => {
                stats.last_rewrite_ok.store(false, Ordering::Relaxed);
                stats.consecutive_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("Background AOF rewrite terminated with error");
                if self.state() == State::WaitRewrite {
                    // The temp incremental file is useless without its base;
                    // the next rewrite starts over (Redis reschedules it).
                    self.detach();
                    self.switch_file(None);
                    self.discard_pending(&mut self.lock());
                    let temp = format!("temp-{}.incr", self.config.appendfilename());
                    tracing::info!("Removing the temp incr aof file {temp} in the background");
                    let _ = std::fs::remove_file(self.dir().join(temp));
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
        if let Err(e) = std::fs::rename(temp, dir.join(&base)) {
            tracing::warn!(
                "Error trying to rename the temporary AOF base file {} into {}: {e}",
                temp.display(),
                dir.join(&base).display()
            );
            let _ = std::fs::remove_file(temp);
            return Err(());
        }
        let temp_name = temp.file_name().map(|n| n.to_string_lossy().into_owned());
        tracing::info!(
            "Successfully renamed the temporary AOF base file {} into {base}",
            temp_name.unwrap_or_default()
        );
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
        let _ = std::fs::remove_file(dir.join(&info.name));
    }
    let _ = manifest.persist(dir, &config.appendfilename());
}
