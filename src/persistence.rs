//! SAVE, BGSAVE and loading: where the RDB file lives, writing it safely
//! (a temp file, fsync, rename: never a half-written dump.rdb), loading it
//! at start-up and for DEBUG RELOAD, save points, and the state INFO
//! persistence and LASTSAVE report. The format itself is `rdb/`; the
//! fork-less snapshot BGSAVE writes from is `keyspace::snapshot`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::child::{Outcome, Stage};
use crate::keyspace::snapshot::Snapshot;
use crate::keyspace::{CommandClock, Entry, Guard, LockSet};
use crate::rdb;
use crate::server::Server;
use crate::types::{hash, zset};
use crate::util::lock;

/// What INFO persistence and LASTSAVE report about saving.
pub struct SaveState {
    /// Unix seconds of the last successful save (or of the start).
    pub last_save: AtomicU64,
    /// Unix seconds of the last attempt, for the save points' retry delay.
    pub last_attempt: AtomicU64,
    pub last_ok: AtomicBool,
    pub saves: AtomicU64,
    /// INFO's `rdb_last_load_keys_loaded` / `_expired`: the last load's
    /// keys stored and keys skipped as already expired.
    pub last_load_keys: AtomicU64,
    pub last_load_expired: AtomicU64,
    /// The BGSAVE in progress (Redis's RDB child).
    pub bgsave: Mutex<Option<BgsaveRun>>,
    /// BGSAVE SCHEDULE, or a BGSAVE inside EXEC: the cron starts one once
    /// no snapshot runs (`rdb_bgsave_scheduled`).
    pub bgsave_scheduled: AtomicBool,
    /// Seconds the last BGSAVE took (-1: none yet).
    pub last_bgsave_secs: AtomicI64,
    /// Bytes of pre-images the last BGSAVE copied (`rdb_last_cow_size`).
    pub last_cow: AtomicU64,
}

/// A BGSAVE writing its file, or a snapshot going to a replica (Redis's
/// RDB child, to disk or to replicas' sockets).
pub struct BgsaveRun {
    pub started: Instant,
    pub snapshot: Arc<Snapshot>,
    pub to_replica: bool,
    /// The child writing the dump file (none for a transfer to replicas).
    pub child: Option<Arc<crate::child::Handle>>,
}

impl SaveState {
    pub fn new(now_secs: u64) -> SaveState {
        SaveState {
            last_save: AtomicU64::new(now_secs),
            last_attempt: AtomicU64::new(0),
            last_ok: AtomicBool::new(true),
            saves: AtomicU64::new(0),
            last_load_keys: AtomicU64::new(0),
            last_load_expired: AtomicU64::new(0),
            bgsave: Mutex::new(None),
            bgsave_scheduled: AtomicBool::new(false),
            last_bgsave_secs: AtomicI64::new(-1),
            last_cow: AtomicU64::new(0),
        }
    }
}

/// Redis's `CONFIG_BGSAVE_RETRY_DELAY`: after a failed save, save points
/// wait this long before trying again.
const RETRY_DELAY_SECS: u64 = 5;

/// `dir`/`dbfilename`.
pub fn rdb_path(server: &Server) -> PathBuf {
    PathBuf::from(server.config.dir()).join(server.config.dbfilename())
}

/// The encodings loaded values get, from the current settings.
pub fn load_limits(server: &Server) -> rdb::Limits {
    let c = &server.config;
    rdb::Limits {
        list_fill: c.list_max_listpack_size(),
        hash: hash::Limits {
            max_entries: c.hash_max_listpack_entries(),
            max_value: c.hash_max_listpack_value(),
        },
        set_max_intset: c.set_max_intset_entries(),
        zset: zset::Limits {
            max_entries: usize::try_from(c.zset_max_listpack_entries()).unwrap_or(usize::MAX),
            max_value: usize::try_from(c.zset_max_listpack_value()).unwrap_or(usize::MAX),
        },
    }
}

/// Redis's `rdbSave`: the snapshot of every database (the guard must hold
/// every shard) streamed into `temp-<pid>.rdb` in `dir` (with
/// `rdb-key-save-delay` after each key), flushed to disk and renamed over
/// `dbfilename`. On success the change counter restarts from
/// what changed since the snapshot (none: the shards are locked).
pub fn save(server: &Server, guard: &mut Guard<'_>) -> std::io::Result<()> {
    let now_secs = crate::util::now_ms() / 1000;
    server
        .save_state
        .last_attempt
        .store(now_secs, Ordering::Relaxed);
    let dirty = server.keyspace.dirty.load(Ordering::Relaxed);
    let options = rdb::Options::from_config(&server.config);
    let used = crate::commands::server::used_memory();
    let databases = server.keyspace.databases();
    let key_delay = server.config.rdb_key_save_delay();
    // Opened first, as Redis's: the file is there while the keys go in.
    let temp = save_temp_path(server);
    let written = std::fs::File::create(&temp)
        .inspect_err(|e| log_save_failure(server, &temp, Stage::Open, e))
        .and_then(|mut f| {
            // `rdb::save` hands on a megabyte at a time: no buffer needed.
            rdb::save(guard, databases, options, None, used, key_delay, |bytes| {
                f.write_all(bytes)
            })
            .and_then(|_| f.sync_all())
            .inspect_err(|e| log_save_failure(server, &temp, Stage::Write, e))
        })
        .and_then(|_| install_dump(server, &temp));
    if written.is_err() {
        // Like Redis's `rdbSave`, a failed foreground save leaves the
        // status alone; a failed save point sets it.
        let _ = std::fs::remove_file(&temp);
    }
    written?;
    tracing::info!("DB saved on disk");
    saved(server, dirty, now_secs);
    Ok(())
}

/// A save succeeded: the changes it covered (`dirty` at its start) are
/// no longer unsaved, and LASTSAVE moves.
fn saved(server: &Server, dirty: u64, now_secs: u64) {
    let _ = server
        .keyspace
        .dirty
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
            Some(d.saturating_sub(dirty))
        });
    let state = &server.save_state;
    state.last_save.store(now_secs, Ordering::Relaxed);
    state.last_ok.store(true, Ordering::Relaxed);
}

/// Redis's lines for a save whose temp file could not be opened, written
/// or renamed over the dump file.
fn log_save_failure(server: &Server, temp: &std::path::Path, stage: Stage, e: &std::io::Error) {
    let e = crate::config::strerror(e);
    let temp = temp
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let dir = server.config.dir();
    match stage {
        Stage::Open => tracing::warn!(
            "Failed opening the temp RDB file {temp} (in server root dir {dir}) for saving: {e}"
        ),
        Stage::Write => tracing::warn!("Write error saving DB on disk: {e}"),
        Stage::Rename => tracing::warn!(
            "Error moving temp DB file {temp} on the final destination {} (in server root dir {dir}): {e}",
            server.config.dbfilename()
        ),
    }
}

/// Renames SAVE's written and fsynced temp file over `dbfilename`, and
/// fsyncs the directory.
fn install_dump(server: &Server, temp: &std::path::Path) -> std::io::Result<()> {
    let dump = rdb_path(server);
    std::fs::rename(temp, &dump)
        .inspect_err(|e| log_save_failure(server, temp, Stage::Rename, e))?;
    crate::util::sync_dir_of(&dump).inspect_err(|e| tracing::warn!("Failed to fsyncFileDir: {e}"))
}

/// Starts the background child that writes `snapshot`'s file: the temp
/// file `names(pid).0` in `dir`, renamed to `names(pid).1` (`title`: as
/// `ps` shows it); should the child die before it has everything, the
/// walk stops.
pub fn spawn_child(
    server: &Server,
    title: &str,
    names: impl FnOnce(u32) -> (String, PathBuf),
    snapshot: &Arc<Snapshot>,
) -> std::io::Result<crate::child::Child> {
    let cancel = snapshot.clone();
    crate::child::Child::spawn(
        title,
        std::path::Path::new(&server.config.dir()),
        names,
        server.oom_score.child_score(&server.config),
        move || cancel.cancel(),
    )
}

/// Locks every shard and saves (shutdown, FLUSHALL with save points).
pub fn save_all(server: &Server) -> std::io::Result<()> {
    let mut guard = lock_all(server);
    let result = save(server, &mut guard);
    guard.release();
    result
}

pub(crate) fn lock_all(server: &Server) -> Guard<'_> {
    let mut set = LockSet::new();
    set.add_all(&server.keyspace);
    server.keyspace.lock(set)
}

/// Why BGSAVE did not start.
pub enum BgsaveRefused {
    /// A BGSAVE is running.
    InProgress,
    /// Another snapshot is (an AOF rewrite, a full sync): Redis's "another
    /// child process is active".
    OtherSnapshot,
    /// The server is not up (unit tests).
    NotRunning,
    /// The background child could not be started (Redis's failed fork).
    NoChild,
}

/// Redis's `hasActiveChildProcess`: a snapshot is being copied out, or an
/// AOF rewrite is finishing its file.
pub fn snapshot_active(server: &Server) -> bool {
    server.keyspace.snapshot_running()
        || server.aof.stats.rewrite_in_progress.load(Ordering::Relaxed)
        || bgsave_running(server)
}

pub fn bgsave_running(server: &Server) -> bool {
    lock(&server.save_state.bgsave).is_some()
}

/// SAVE's temp file in `dir` (Redis's `temp-<pid>.rdb`), which a second
/// SIGINT removes as it exits.
pub fn save_temp_path(server: &Server) -> PathBuf {
    PathBuf::from(server.config.dir()).join(format!("temp-{}.rdb", std::process::id()))
}

/// Whether a running BGSAVE goes to replicas (Some(true)) or to the
/// dump file (Some(false)); None when none runs.
pub fn bgsave_target(server: &Server) -> Option<bool> {
    lock(&server.save_state.bgsave)
        .as_ref()
        .map(|run| run.to_replica)
}

/// Redis's `rdbSaveBackground` (BGSAVE, save points, BGSAVE SCHEDULE):
/// the cut now, under `guard`'s locks of every shard, then a thread walks
/// the snapshot into the background child, which writes `temp-<pid>.rdb`
/// and renames it over the dump file, while clients go on (see
/// `keyspace::snapshot` and `child`).
pub fn bgsave(server: &Server, guard: &mut Guard<'_>) -> Result<(), BgsaveRefused> {
    if bgsave_running(server) {
        return Err(BgsaveRefused::InProgress);
    }
    if snapshot_active(server) {
        return Err(BgsaveRefused::OtherSnapshot);
    }
    let Some(me) = server.arc() else {
        return Err(BgsaveRefused::NotRunning);
    };
    let state = &server.save_state;
    let dirty = server.keyspace.dirty.load(Ordering::Relaxed);
    let options = rdb::Options::from_config(&server.config);
    let file = rdb::Background::at_cut(options, None, crate::commands::server::used_memory());
    let keyspace = guard.keyspace();
    let Some(snapshot) = keyspace.start_snapshot(guard, file.encoder()) else {
        return Err(BgsaveRefused::OtherSnapshot);
    };
    state
        .last_attempt
        .store(crate::util::now_ms() / 1000, Ordering::Relaxed);
    let destination = rdb_path(server);
    let names = |pid| (format!("temp-{pid}.rdb"), destination);
    let child = spawn_child(server, "rdb-bgsave", names, &snapshot);
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            keyspace.abort_snapshot(guard);
            state.last_ok.store(false, Ordering::Relaxed);
            tracing::warn!("Can't save in background: fork: {e}");
            return Err(BgsaveRefused::NoChild);
        }
    };
    state.saves.fetch_add(1, Ordering::Relaxed);
    let handle = child.handle.clone();
    *lock(&state.bgsave) = Some(BgsaveRun {
        started: Instant::now(),
        snapshot: snapshot.clone(),
        to_replica: false,
        child: Some(handle.clone()),
    });
    tracing::info!("Background saving started by pid {}", handle.pid);
    let spawned = std::thread::Builder::new()
        .name("rdb-bgsave".into())
        .spawn(move || {
            let server = &*me;
            let produced = file.write(&server.keyspace, &snapshot, |bytes| child.write(bytes));
            let outcome = child.finish(matches!(produced, Ok(true)));
            if let Outcome::Failed { stage, error } = &outcome {
                log_save_failure(server, &handle.path, *stage, error);
            }
            bgsave_done(server, &snapshot, outcome, Some(dirty));
        });
    if spawned.is_err() {
        // No thread: nothing will walk it (the child, dropped, is stopped).
        server.keyspace.abort_snapshot(guard);
        *lock(&state.bgsave) = None;
        state.last_ok.store(false, Ordering::Relaxed);
        tracing::warn!("Can't save in background: no thread");
    }
    Ok(())
}

/// Redis's `backgroundSaveDoneHandlerDisk` (`dirty`: the changes the
/// file covers) or `...Socket` (None: it went to a replica), run by the
/// thread once it wrote everything (or not). An aborted save leaves the
/// status as it was, as Redis's SIGUSR1-killed child does.
fn bgsave_done(server: &Server, snapshot: &Arc<Snapshot>, outcome: Outcome, dirty: Option<u64>) {
    let state = &server.save_state;
    let mut running = lock(&state.bgsave);
    let ours = running
        .as_ref()
        .is_some_and(|run| Arc::ptr_eq(&run.snapshot, snapshot));
    match (outcome, dirty) {
        (Outcome::Written, Some(dirty)) => {
            tracing::info!("DB saved on disk");
            tracing::info!("Background saving terminated with success");
            saved(server, dirty, crate::util::now_ms() / 1000);
        }
        (Outcome::Written, None) => {
            tracing::info!("Background RDB transfer terminated with success")
        }
        // The server's own stop (Redis's SIGUSR1) is no error.
        (Outcome::Aborted, Some(_)) => {
            tracing::warn!("Background saving terminated by signal {}", libc::SIGUSR1)
        }
        (Outcome::Killed(signal), Some(_)) => {
            tracing::warn!("Background saving terminated by signal {signal}");
            state.last_ok.store(false, Ordering::Relaxed);
        }
        (Outcome::Aborted, None) => {
            tracing::warn!("Background transfer terminated by signal {}", libc::SIGUSR1)
        }
        (Outcome::Killed(signal), None) => {
            tracing::warn!("Background transfer terminated by signal {signal}")
        }
        (Outcome::Failed { .. }, Some(_)) => {
            tracing::warn!("Background saving error");
            state.last_ok.store(false, Ordering::Relaxed);
        }
        (Outcome::Failed { .. }, None) => tracing::warn!("Background transfer error"),
    }
    if ours {
        if let Some(run) = running.take() {
            let secs = run.started.elapsed().as_secs() as i64;
            state.last_bgsave_secs.store(secs, Ordering::Relaxed);
        }
    }
    state
        .last_cow
        .store(snapshot.preimage_bytes(), Ordering::Relaxed);
}

/// A full sync's snapshot (Redis's `startBgsaveForReplication`): the cut
/// under `guard`'s locks of every shard, the RDB (with the `repl-*`
/// fields of `repl`) walked by a thread into the returned channel: as
/// `$EOF:<mark>` and the mark after the file when the replica reads that
/// (`eof`: it said `capa eof` and `repl-diskless-sync` is on), otherwise
/// gathered first and sent as `$<len>`. A None in the channel means the
/// snapshot failed or was aborted: the replica must be dropped. None
/// when the server is not up.
pub fn bgsave_to_replica(
    server: &Server,
    guard: &mut Guard<'_>,
    repl: &rdb::ReplicationInfo,
    eof: bool,
) -> Option<tokio::sync::mpsc::Receiver<Option<bytes::Bytes>>> {
    let me = server.arc()?;
    let options = rdb::Options::from_config(&server.config);
    let file = rdb::Background::at_cut(options, Some(repl), crate::commands::server::used_memory());
    let keyspace = guard.keyspace();
    let snapshot = keyspace.start_snapshot(guard, file.encoder())?;
    let target = if eof { "replicas sockets" } else { "disk" };
    tracing::info!("Starting BGSAVE for SYNC with target: {target}");
    *lock(&server.save_state.bgsave) = Some(BgsaveRun {
        started: Instant::now(),
        snapshot: snapshot.clone(),
        to_replica: true,
        child: None,
    });
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let spawned = std::thread::Builder::new()
        .name("rdb-sync".into())
        .spawn(move || {
            let server = &*me;
            let send = |bytes: &[u8]| {
                tx.blocking_send(Some(bytes::Bytes::copy_from_slice(bytes)))
                    .map_err(|_| std::io::Error::other("the replica went away"))
            };
            let result = if eof {
                let mark = crate::replication::new_replid();
                send(format!("$EOF:{mark}\r\n").as_bytes())
                    .and_then(|()| file.write(&server.keyspace, &snapshot, send))
                    .and_then(|whole| send(mark.as_bytes()).map(|()| whole))
            } else {
                let mut data = Vec::new();
                file.write(&server.keyspace, &snapshot, |bytes| {
                    data.extend_from_slice(bytes);
                    Ok(())
                })
                .and_then(|whole| {
                    send(format!("${}\r\n", data.len()).as_bytes())?;
                    send(&data).map(|()| whole)
                })
            };
            if !matches!(result, Ok(true)) {
                let _ = tx.blocking_send(None);
            }
            let outcome = match result {
                Ok(true) => Outcome::Written,
                Ok(false) => Outcome::Aborted,
                Err(error) => Outcome::Failed {
                    stage: Stage::Write,
                    error,
                },
            };
            bgsave_done(server, &snapshot, outcome, None);
        });
    if spawned.is_err() {
        keyspace.abort_snapshot(guard);
        *lock(&server.save_state.bgsave) = None;
        return None;
    }
    Some(rx)
}

/// Redis's `killRDBChild` (FLUSHALL, SHUTDOWN, DEBUG RELOAD): the running
/// BGSAVE stops at once and leaves no file; `guard` holds every shard.
pub fn abort_bgsave(server: &Server, guard: &Guard<'_>) -> bool {
    let Some(run) = lock(&server.save_state.bgsave).take() else {
        return false;
    };
    if !run.snapshot.aborted() {
        server.keyspace.abort_snapshot(guard);
    }
    if let Some(child) = &run.child {
        child.terminate();
    }
    true
}

/// SHUTDOWN's [`abort_bgsave`], with Redis's log line: the final save must
/// not be overwritten by an older snapshot.
pub fn kill_bgsave(server: &Server) {
    if !bgsave_running(server) {
        return;
    }
    tracing::warn!("There is a child saving an .rdb. Killing it!");
    let guard = lock_all(server);
    abort_bgsave(server, &guard);
    drop(guard);
}

/// Redis's `bgsaveCommand` outcome as a reply status (or error text).
pub fn bgsave_command(
    server: &Server,
    guard: &mut Guard<'_>,
    schedule: bool,
    in_exec: bool,
) -> Result<&'static str, &'static str> {
    if bgsave_running(server) {
        return Err("ERR Background save already in progress");
    }
    if snapshot_active(server) || in_exec {
        if schedule || in_exec {
            server
                .save_state
                .bgsave_scheduled
                .store(true, Ordering::Relaxed);
            return Ok("Background saving scheduled");
        }
        return Err("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.");
    }
    match bgsave(server, guard) {
        Ok(()) => Ok("Background saving started"),
        Err(BgsaveRefused::InProgress) => Err("ERR Background save already in progress"),
        Err(BgsaveRefused::OtherSnapshot) => Err("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."),
        Err(BgsaveRefused::NotRunning | BgsaveRefused::NoChild) => Err("ERR"),
    }
}

/// Why a load failed.
pub enum LoadError {
    /// No file there: not an error at start-up.
    Missing,
    Io(std::io::Error),
    Corrupt(String),
}

/// Loads `dbfilename` into the databases the guard holds (all of them),
/// which the caller has emptied; a key already there is an error unless
/// `merge`. Returns the number of keys loaded.
pub fn load_into(server: &Server, guard: &mut Guard<'_>, merge: bool) -> Result<usize, LoadError> {
    let data = match std::fs::read(rdb_path(server)) {
        Ok(data) => data,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(LoadError::Missing),
        Err(e) => return Err(LoadError::Io(e)),
    };
    load_data(server, guard, &data, merge).map(|summary| summary.keys)
}

/// Loads the RDB file in `data` (a dump file, an AOF base or preamble),
/// as [`load_into`]; the summary says how many bytes it took.
pub fn load_data(
    server: &Server,
    guard: &mut Guard<'_>,
    data: &[u8],
    merge: bool,
) -> Result<rdb::load::Summary, LoadError> {
    let limits = load_limits(server);
    let now = crate::util::now_ms();
    let clock = CommandClock::at(now);
    // Access records take the LRU clock, which OBJECT IDLETIME reads.
    let lru_now = server.keyspace.lru_clock.now_ms();
    // Only a master drops the keys that expired meanwhile (Redis's
    // `iAmMaster()` in `rdbLoad`): a replica's master deletes them.
    let expired_before = if server.keyspace.is_replica() { 0 } else { now };
    let key_delay = server.config.key_load_delay();
    // RESIZEDB's size, applied before the database's first key.
    let announced = std::cell::Cell::new(None);
    // Keys are stored in small batches, each key's place in its table
    // prefetched as it arrives, so a batch's cache misses overlap (under a
    // key delay, a test hook, one by one as Redis).
    let batch_size = if key_delay == 0 { LOAD_BATCH } else { 1 };
    let mut batch = Vec::with_capacity(batch_size);
    let summary = rdb::load::file(
        data,
        &limits,
        server.keyspace.databases(),
        expired_before,
        server.config.rdbchecksum() && !server.skip_checksum_validation.load(Ordering::Relaxed),
        |db, keys| announced.set(Some((db, keys))),
        |loaded| {
            if let Some((_, keys)) = announced.take().filter(|(d, _)| *d == loaded.db) {
                // A file's count, so capped by what the file could hold
                // (a key takes at least 3 bytes): it only saves regrowing.
                let keys = usize::try_from(keys).unwrap_or(0).min(data.len() / 3);
                guard.db(loaded.db, &clock).reserve(keys);
            }
            server.keyspace.prefetch_table(loaded.db, &loaded.key);
            batch.push(loaded);
            if batch.len() == batch_size {
                store_loaded(guard, &clock, &mut batch, lru_now, merge)?;
                crate::util::debug_delay(key_delay);
            }
            Ok(())
        },
    )
    .and_then(|summary| store_loaded(guard, &clock, &mut batch, lru_now, merge).map(|()| summary))
    .map_err(LoadError::Corrupt)?;
    // The file's libraries replace the ones loaded (the caller emptied the
    // data, and Redis empties the functions with it), or join them on a merge.
    if !summary.functions.is_empty() || !merge {
        use crate::scripting::functions::{RestorePolicy, LIBRARIES};
        let policy = if merge {
            RestorePolicy::Replace
        } else {
            RestorePolicy::Flush
        };
        LIBRARIES
            .restore(&summary.functions, policy)
            .map_err(|e| LoadError::Corrupt(format!("Failed loading library: {e}")))?;
    }
    // Loading is not a change to save.
    guard.command_done(true);
    log_loaded(&summary, now);
    let state = &server.save_state;
    state
        .last_load_keys
        .store(summary.keys as u64, Ordering::Relaxed);
    state
        .last_load_expired
        .store(summary.expired_skipped as u64, Ordering::Relaxed);
    Ok(summary)
}

/// How many loaded keys wait to be stored together (see [`load_data`]).
const LOAD_BATCH: usize = 16;

/// Stores the keys of `batch` (emptying it), accessed at `lru_now` (the
/// LRU clock) or as long before as the file says; a key already there is
/// an error unless `merge`.
fn store_loaded(
    guard: &mut Guard<'_>,
    clock: &CommandClock,
    batch: &mut Vec<rdb::load::Loaded>,
    lru_now: u64,
    merge: bool,
) -> Result<(), String> {
    for loaded in batch.drain(..) {
        let mut entry = Entry::new(loaded.value, loaded.expires_at, lru_now);
        if let Some(secs) = loaded.idle {
            entry.access.set_idle(secs, lru_now);
        }
        if let Some(freq) = loaded.freq {
            entry.access.set_frequency(freq, lru_now);
        }
        if !guard.db(loaded.db, clock).load(&loaded.key, entry) && !merge {
            return Err(format!(
                "duplicate key '{}' in the file",
                String::from_utf8_lossy(&loaded.key)
            ));
        }
    }
    Ok(())
}

/// The lines Redis's `rdbLoad` logs about a file it loaded (from its
/// auxiliary fields) and what it held.
fn log_loaded(summary: &rdb::load::Summary, now_ms: u64) {
    for (name, value) in &summary.aux {
        match name.as_str() {
            "redis-ver" => tracing::info!("Loading RDB produced by version {value}"),
            "ctime" => {
                if let Ok(ctime) = value.parse::<i64>() {
                    let age = (now_ms / 1000) as i64 - ctime;
                    tracing::info!("RDB age {age} seconds");
                }
            }
            "used-mem" => {
                if let Ok(bytes) = value.parse::<u64>() {
                    let mb = bytes as f64 / (1024.0 * 1024.0);
                    tracing::info!("RDB memory usage when created {mb:.2} Mb");
                }
            }
            _ => {}
        }
    }
    tracing::info!(
        "Done loading RDB, keys loaded: {}, keys expired: {}, empty keys skipped: {}.",
        summary.keys,
        summary.expired_skipped,
        summary.empty_skipped
    );
}

/// Redis's `loadDataFromDisk` at start-up: a missing file is an empty
/// dataset; an unreadable or corrupt one stops the server, as in Redis.
pub fn load_at_startup(server: &Server) -> Result<(), String> {
    let start = Instant::now();
    let mut set = LockSet::new();
    set.add_all(&server.keyspace);
    let mut guard = server.keyspace.lock(set);
    let result = load_into(server, &mut guard, false);
    guard.release();
    match result {
        Ok(_) => {
            tracing::info!(
                "DB loaded from disk: {:.3} seconds",
                start.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(LoadError::Missing) => Ok(()),
        Err(LoadError::Io(e)) => Err(format!("Fatal error loading the DB: {e}. Exiting.")),
        Err(LoadError::Corrupt(why)) => {
            // Redis's `rdbReportCorruptRDB` lines (we know no C line).
            tracing::warn!("Internal error in RDB reading offset 0, function at rdb.c:0 -> {why}");
            Err("Terminating server after rdb file reading failure.".to_string())
        }
    }
}

/// The cron's saving (Redis's `serverCron`): a save point due starts a
/// BGSAVE, as does a scheduled one, when no snapshot runs.
pub fn cron(server: &Server) {
    if snapshot_active(server) {
        return;
    }
    let state = &server.save_state;
    let now = crate::util::now_ms() / 1000;
    let retry_ok = state.last_ok.load(Ordering::Relaxed)
        || now.saturating_sub(state.last_attempt.load(Ordering::Relaxed)) > RETRY_DELAY_SECS;
    let due = save_point_due(server, now, retry_ok);
    let scheduled = retry_ok && state.bgsave_scheduled.load(Ordering::Relaxed);
    if !due && !scheduled {
        return;
    }
    let mut guard = lock_all(server);
    if bgsave(server, &mut guard).is_ok() {
        state.bgsave_scheduled.store(false, Ordering::Relaxed);
    }
    guard.release();
}

/// Whether a save point is due: its seconds have passed since the last
/// save with at least its changes made (after a failure, only once the
/// retry delay passed). Logs Redis's line when one is.
fn save_point_due(server: &Server, now: u64, retry_ok: bool) -> bool {
    let points = server.config.save();
    if points.is_empty() || !retry_ok {
        return false;
    }
    let dirty = server.keyspace.dirty.load(Ordering::Relaxed);
    let since = now.saturating_sub(server.save_state.last_save.load(Ordering::Relaxed));
    let due = points
        .iter()
        .find(|&&(seconds, changes)| dirty >= changes as u64 && since > seconds as u64);
    if let Some((seconds, changes)) = due {
        tracing::info!("{changes} changes in {seconds} seconds. Saving...");
    }
    due.is_some()
}

/// `stop-writes-on-bgsave-error`: while save points are set and the last
/// save failed, writes (and PING) are refused with Redis's MISCONF error,
/// so a client learns its data is not reaching the disk; likewise while
/// AOF writes fail. Two atomic loads while saves and writes succeed.
pub fn write_refusal(server: &Server) -> Option<crate::protocol::Reply> {
    if server.save_state.last_ok.load(Ordering::Relaxed)
        || !server.config.stop_writes_on_bgsave_error()
        || server.config.save().is_empty()
    {
        // Then the AOF's own refusal, as Redis checks it second.
        return server.aof.write_refusal();
    }
    Some(crate::protocol::Reply::error(
        "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. \
         Commands that may modify the data set are disabled, because this instance is configured to report \
         errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). \
         Please check the Redis logs for details about the RDB error.",
    ))
}
