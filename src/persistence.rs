//! SAVE and loading: where the RDB file lives, writing it safely (a temp
//! file, fsync, rename: never a half-written dump.rdb), loading it at
//! start-up and for DEBUG RELOAD, and the state INFO persistence and
//! LASTSAVE report. The format itself is `rdb/`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use crate::keyspace::{CommandClock, Entry, Guard, LockSet};
use crate::rdb;
use crate::server::Server;
use crate::types::{hash, zset};

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
/// every shard) written to `temp-<pid>.rdb` in `dir`, flushed to disk and
/// renamed over `dbfilename`. On success the change counter restarts from
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
    let (file, _) = rdb::snapshot(guard, server.keyspace.databases(), options, None, used);
    let dir = PathBuf::from(server.config.dir());
    let temp = dir.join(format!("temp-{}.rdb", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&temp).inspect_err(|e| {
            tracing::warn!(
                "Failed opening the temp RDB file {} (in server root dir {}) for saving: {e}",
                temp.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default(),
                dir.display()
            );
        })?;
        f.write_all(&file)
            .and_then(|()| f.sync_all())
            .inspect_err(|e| tracing::warn!("Write error saving DB on disk: {e}"))?;
        std::fs::rename(&temp, rdb_path(server)).inspect_err(|e| {
            tracing::warn!(
                "Error moving temp DB file {} on the final destination {} (in server root dir {}): {e}",
                temp.display(),
                server.config.dbfilename(),
                dir.display()
            );
        })
    })();
    match result {
        Ok(()) => {
            tracing::info!("DB saved on disk");
            server.keyspace.dirty.fetch_sub(dirty, Ordering::Relaxed);
            server
                .save_state
                .last_save
                .store(now_secs, Ordering::Relaxed);
            server.save_state.last_ok.store(true, Ordering::Relaxed);
            server.save_state.saves.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            // Like Redis's `rdbSave`, a failed foreground save leaves the
            // status alone; a failed save point sets it (`save_point`).
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// Locks every shard and saves (shutdown, save points).
pub fn save_all(server: &Server) -> std::io::Result<()> {
    let mut set = LockSet::new();
    set.add_all(&server.keyspace);
    let mut guard = server.keyspace.lock(set);
    let result = save(server, &mut guard);
    guard.release();
    result
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
    // Only a master drops the keys that expired meanwhile (Redis's
    // `iAmMaster()` in `rdbLoad`): a replica's master deletes them.
    let expired_before = if server.keyspace.is_replica() { 0 } else { now };
    let summary = rdb::load::file(
        data,
        &limits,
        server.keyspace.databases(),
        expired_before,
        server.config.rdbchecksum() && !server.skip_checksum_validation.load(Ordering::Relaxed),
        |loaded| {
            let mut db = guard.db(loaded.db, &clock);
            if !merge && db.stored(&loaded.key).is_some() {
                return Err(format!(
                    "duplicate key '{}' in the file",
                    String::from_utf8_lossy(&loaded.key)
                ));
            }
            let mut entry = Entry::new(loaded.value, loaded.expires_at, now);
            if let Some(secs) = loaded.idle {
                entry.access.set_idle(secs, now);
            }
            if let Some(freq) = loaded.freq {
                entry.access.set_frequency(freq, now);
            }
            db.set_entry(&loaded.key, entry);
            Ok(())
        },
    )
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

/// A save point's save (Redis's BGSAVE from `serverCron`, synchronous
/// here): its failure is what `rdb_last_bgsave_status` and
/// `stop-writes-on-bgsave-error` report.
pub fn save_point(server: &Server) {
    tracing::info!("Save point reached: saving (synchronously)...");
    if save_all(server).is_err() {
        server.save_state.last_ok.store(false, Ordering::Relaxed);
        tracing::warn!("Background saving error");
    }
}

/// The save points' check, once a second from the cron (Redis's
/// `serverCron`): a point whose seconds have passed since the last save
/// with at least its changes made saves, synchronously (no BGSAVE yet).
pub fn save_point_due(server: &Server) -> bool {
    let points = server.config.save();
    if points.is_empty() {
        return false;
    }
    let now = crate::util::now_ms() / 1000;
    let dirty = server.keyspace.dirty.load(Ordering::Relaxed);
    let since = now.saturating_sub(server.save_state.last_save.load(Ordering::Relaxed));
    let retry_ok = server.save_state.last_ok.load(Ordering::Relaxed)
        || now.saturating_sub(server.save_state.last_attempt.load(Ordering::Relaxed))
            > RETRY_DELAY_SECS;
    retry_ok
        && points
            .iter()
            .any(|&(seconds, changes)| dirty >= changes as u64 && since > seconds as u64)
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
