//! The append-only file, as Redis 7.0's multi-part AOF (`aof.c`): a
//! directory (`appenddirname`) holding a base file (an RDB file, or
//! commands with `aof-use-rdb-preamble no`), incremental files of RESP
//! commands, and the manifest naming them ([`manifest`]).
//!
//! The incremental file is fed by the propagation stream: [`AofSink`] is a
//! [`Sink`] taking the `Target::AOF` ops of every unit, appended to an
//! in-memory buffer while the unit's shards are still locked (so the file
//! holds units in the order they ran). Bytes then reach the file before
//! any reply leaves: the connection calls [`Aof::settle`] before writing
//! to its socket, which writes what is buffered (`write(2)`, any event
//! loop may do it for everyone) and, with `appendfsync always`, waits
//! until an fsync covering its bytes is done. The fsyncs run on a thread
//! of their own ([`Aof::fsync_loop`]): while one runs, further writes
//! gather, and the next fsync covers all of them, whichever event loops
//! ran them (group commit). With `everysec` that thread fsyncs once a
//! second, and a write that finds an fsync still running is postponed up
//! to two seconds, as Redis does (`aof_delayed_fsync`); with `no` the
//! kernel decides.
//!
//! Offsets are logical: bytes of stream accepted since start, over every
//! incremental file, so a connection's wait target survives a file switch.
//!
//! Rewrites ([`rewrite`]) and loading ([`load`]) follow `aof.c`'s steps
//! and log lines.

mod commit;
pub mod load;
pub mod manifest;
pub mod rewrite;

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

pub(crate) use crate::util::lock;
use std::time::{Duration, Instant};

use crate::config::{Config, FsyncPolicy};
use crate::propagate::{Propagation, Sink, Target};
pub use commit::end_of_round;
use manifest::Manifest;

/// A failure already logged that must stop the server (Redis `exit(1)`s).
#[derive(Debug)]
pub struct Fatal;

/// Redis's `aof_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Off,
    /// Turned on at run time: the first rewrite writes the base, the
    /// stream meanwhile goes to a temp incremental file.
    WaitRewrite,
    On,
}

/// Redis's `AOF_WRITE_LOG_ERROR_RATE`: seconds between write error logs.
const WRITE_ERROR_LOG_RATE: u64 = 30;
/// The most room a written AOF buffer keeps for the next appends.
const BUFFER_KEPT: usize = 64 * 1024;

/// What the writer holds: the buffer, the open incremental file and the
/// manifest. One lock, taken by the sink (append) and by whoever writes.
pub struct Inner {
    pub state: State,
    buf: Vec<u8>,
    file: Option<Arc<File>>,
    /// Incremental files switched away from whose last bytes the next
    /// fsync must cover ([`Aof::switch_file`]).
    retired: Vec<Arc<File>>,
    pub manifest: Manifest,
    /// The sink's id in the propagation registry while attached.
    sink: Option<u64>,
    /// Bytes of the open incremental file (`aof_last_incr_size`).
    pub incr_size: u64,
    /// Base plus incremental files (`aof_current_size`).
    pub current_size: u64,
    /// The size after the last rewrite (`aof_rewrite_base_size`).
    pub base_size: u64,
    /// Unix seconds of the last `#TS:` annotation.
    last_ts: u64,
    /// Unix seconds since a write waits for an everysec fsync (0: none).
    postponed_since: u64,
    last_write_error_log: u64,
}

impl Inner {
    /// Unwritten bytes (INFO `aof_buffer_length`).
    pub fn buf_len(&self) -> usize {
        self.buf.len()
    }
}

/// INFO persistence's AOF counters.
#[derive(Default)]
pub struct Stats {
    pub rewrites: AtomicU64,
    pub consecutive_failures: AtomicU64,
    pub last_rewrite_ok: AtomicBool,
    pub last_write_ok: AtomicBool,
    pub delayed_fsync: AtomicU64,
    pub rewrite_in_progress: AtomicBool,
    pub rewrite_scheduled: AtomicBool,
    /// Unix seconds the running rewrite started.
    pub rewrite_started: AtomicU64,
    /// Seconds the last rewrite took (-1: none yet).
    pub last_rewrite_secs: std::sync::atomic::AtomicI64,
}

/// The fsync thread's queue.
#[derive(Default)]
struct FsyncQueue {
    /// The highest offset a client waits to see durable.
    requested: u64,
    running: bool,
    /// The thread waits for a request (a request must wake it).
    idle: bool,
    /// When a request woke the idle thread: how long it took to start is
    /// a sample of [`Aof::hop_ns`].
    woken_at: Option<Instant>,
}

/// Nanoseconds, smoothed over the last several samples (an `AtomicU64`
/// moving average: racing updates lose a sample, nothing more).
#[derive(Default)]
struct Smoothed(AtomicU64);

impl Smoothed {
    fn add(&self, sample: Duration) {
        let sample = u64::try_from(sample.as_nanos()).unwrap_or(u64::MAX);
        let old = self.0.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        self.0.store(new, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub struct Aof {
    config: Arc<Config>,
    /// The running rewrite's snapshot and child: its thread installs the
    /// base only if they are still here ([`rewrite::kill`] takes them away).
    rewrite_running: Mutex<
        Option<(
            Arc<crate::keyspace::snapshot::Snapshot>,
            Arc<crate::child::Handle>,
        )>,
    >,
    /// How long the cron holds its rewrites back after repeated failures.
    rewrite_limit: Mutex<rewrite::RewriteLimit>,
    propagation: Arc<Propagation>,
    inner: Mutex<Inner>,
    /// Serialises writes to the file (and file switches), so buffers taken
    /// under `inner` reach the file in the order they were taken.
    write_lock: Mutex<()>,
    /// Logical offsets: accepted into the buffer, written, fsynced.
    appended: AtomicU64,
    written: AtomicU64,
    durable: AtomicU64,
    /// The event loops whose clients have waited for the AOF, woken when
    /// `durable` rises ([`commit`]).
    loops: Mutex<Vec<Arc<commit::LoopSlot>>>,
    fsync: Mutex<FsyncQueue>,
    fsync_wake: Condvar,
    /// How long an fsync takes ([`Aof::sync_files`]).
    fsync_ns: Smoothed,
    /// How long the idle fsync thread takes to start once asked: one of
    /// the two thread hops an fsync on the thread costs a sleeping loop.
    hop_ns: Smoothed,
    pub stats: Stats,
    /// DEBUG AOF-FLUSH-SLEEP: microseconds to sleep before each write.
    pub flush_sleep_us: AtomicU64,
    /// The last write or fsync error (`strerror` text), while it lasts.
    write_error: Mutex<String>,
}

fn unix_secs() -> u64 {
    crate::util::now_ms() / 1000
}

impl Aof {
    pub fn new(config: Arc<Config>, propagation: Arc<Propagation>) -> Arc<Aof> {
        let state = if config.appendonly() {
            State::On
        } else {
            State::Off
        };
        let aof = Arc::new(Aof {
            config,
            propagation,
            inner: Mutex::new(Inner {
                state,
                buf: Vec::new(),
                file: None,
                retired: Vec::new(),
                manifest: Manifest::default(),
                sink: None,
                incr_size: 0,
                current_size: 0,
                base_size: 0,
                last_ts: 0,
                postponed_since: 0,
                last_write_error_log: 0,
            }),
            write_lock: Mutex::new(()),
            appended: AtomicU64::new(0),
            written: AtomicU64::new(0),
            durable: AtomicU64::new(0),
            loops: Mutex::default(),
            fsync: Mutex::default(),
            fsync_wake: Condvar::new(),
            fsync_ns: Smoothed::default(),
            hop_ns: Smoothed::default(),
            flush_sleep_us: AtomicU64::new(0),
            rewrite_running: Mutex::new(None),
            rewrite_limit: Mutex::default(),
            write_error: Mutex::new(String::new()),
            stats: Stats {
                last_rewrite_ok: AtomicBool::new(true),
                last_write_ok: AtomicBool::new(true),
                last_rewrite_secs: std::sync::atomic::AtomicI64::new(-1),
                ..Stats::default()
            },
        });
        let thread = aof.clone();
        let _ = std::thread::Builder::new()
            .name("aof-fsync".into())
            .spawn(move || thread.fsync_loop());
        aof
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    pub fn state(&self) -> State {
        self.lock().state
    }

    /// `dir`/`appenddirname`.
    pub fn dir(&self) -> PathBuf {
        PathBuf::from(self.config.dir()).join(self.config.appenddirname())
    }

    /// Whether an fsync runs now (INFO `aof_pending_bio_fsync`).
    pub fn fsync_running(&self) -> bool {
        lock(&self.fsync).running
    }

    /// Appends a unit's stream (Redis's `feedAppendOnlyFile`), with a
    /// `#TS:` annotation first when the second changed and
    /// `aof-timestamp-enabled` is on.
    fn append(&self, stream: &[u8]) {
        if stream.is_empty() {
            return;
        }
        let mut inner = self.lock();
        if inner.state == State::Off {
            return;
        }
        let before = inner.buf.len();
        if self.config.aof_timestamp_enabled() {
            let now = unix_secs();
            if inner.last_ts < now {
                inner.last_ts = now;
                inner
                    .buf
                    .extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
            }
        }
        inner.buf.extend_from_slice(stream);
        let added = (inner.buf.len() - before) as u64;
        self.appended.fetch_add(added, Ordering::Release);
    }

    /// Starts feeding the AOF from the propagation stream (its stream
    /// begins with a SELECT). Call with every shard locked, and never
    /// holding `inner`: the stream's lock is taken before `inner` when a
    /// unit is fed (so these three take them one after the other).
    fn attach(self: &Arc<Self>) {
        if self.lock().sink.is_none() {
            let id = self.propagation.attach(Box::new(AofSink(self.clone())));
            self.lock().sink = Some(id);
        }
    }

    fn detach(&self) {
        let id = self.lock().sink.take();
        if let Some(id) = id {
            self.propagation.detach(id);
        }
    }

    /// Writes the buffer to the file (Redis's `flushAppendOnlyFile`).
    /// `force`: even when an everysec fsync is running (else such a write
    /// waits up to two seconds, as Redis's).
    pub fn write_pending(&self, force: bool) {
        let _w = lock(&self.write_lock);
        let (buf, file, end) = {
            let mut inner = self.lock();
            if inner.buf.is_empty() {
                return;
            }
            let Some(file) = inner.file.clone() else {
                return;
            };
            if !force && self.config.fsync_policy() == FsyncPolicy::Everysec && self.fsync_running()
            {
                let now = unix_secs();
                if inner.postponed_since == 0 {
                    inner.postponed_since = now;
                    return;
                }
                if now - inner.postponed_since < 2 {
                    return;
                }
                self.stats.delayed_fsync.fetch_add(1, Ordering::Relaxed);
                tracing::info!("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.");
            }
            inner.postponed_since = 0;
            let buf = std::mem::take(&mut inner.buf);
            (buf, file, self.appended.load(Ordering::Acquire))
        };
        let sleep = self.flush_sleep_us.load(Ordering::Relaxed);
        if sleep > 0 {
            std::thread::sleep(Duration::from_micros(sleep));
        }
        let result = (&*file).write_all(&buf);
        let mut inner = self.lock();
        match result {
            Ok(()) => {
                inner.incr_size += buf.len() as u64;
                inner.current_size += buf.len() as u64;
                // The written buffer's room serves the next appends (Redis
                // reuses a small `aof_buf` too): taken empty, the buffer grew
                // again from nothing, a reallocation every doubling, for
                // every batch of writes. A big one is let go.
                if inner.buf.is_empty() && buf.capacity() <= BUFFER_KEPT {
                    let mut buf = buf;
                    buf.clear();
                    inner.buf = buf;
                }
                self.written.store(end, Ordering::Release);
                if !self.stats.last_write_ok.swap(true, Ordering::Relaxed) {
                    tracing::warn!("AOF write error looks solved, Redis can write again.");
                }
                if self.config.fsync_policy() == FsyncPolicy::No {
                    // Nothing waits for an fsync: written is as good as it gets.
                    self.raise_durable(end);
                }
            }
            Err(e) => {
                if self.config.fsync_policy() == FsyncPolicy::Always {
                    tracing::warn!("Error writing to the AOF file: {e}");
                    tracing::warn!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                    std::process::exit(1);
                }
                let now = unix_secs();
                if now - inner.last_write_error_log > WRITE_ERROR_LOG_RATE {
                    inner.last_write_error_log = now;
                    tracing::warn!("Error writing to the AOF file: {e}");
                }
                *lock(&self.write_error) = crate::config::strerror(&e);
                // Undo a partial write, keep the bytes for the next try.
                let _ = file.set_len(inner.incr_size);
                let mut rest = buf;
                rest.extend_from_slice(&inner.buf);
                inner.buf = rest;
                self.stats.last_write_ok.store(false, Ordering::Relaxed);
            }
        }
    }

    /// The offset acknowledged replies may rely on: written (everysec,
    /// no, or always with fsyncs paused by `no-appendfsync-on-rewrite`),
    /// else fsynced.
    fn must_sync(&self) -> bool {
        self.config.fsync_policy() == FsyncPolicy::Always
            && !(self.config.no_appendfsync_on_rewrite()
                && self.stats.rewrite_in_progress.load(Ordering::Relaxed))
    }

    /// Called before a connection writes replies: every write made so far
    /// (by anyone: a reply may show another client's write) reaches the
    /// file, and with `appendfsync always` the disk, at the end of the event
    /// loop's round ([`commit`]). One atomic load when nothing is pending.
    pub async fn settle(self: &Arc<Self>) {
        let target = self.appended.load(Ordering::Acquire);
        if target <= self.durable.load(Ordering::Acquire) {
            return;
        }
        if target <= self.written.load(Ordering::Acquire) && !self.must_sync() {
            // Written by an earlier round, and no fsync to wait for (a
            // read after writes, with everysec).
            return;
        }
        commit::Settle {
            aof: self.clone(),
            target,
            queued: None,
        }
        .await;
    }

    /// Asks the fsync thread for an fsync covering `target` (written
    /// already): the running one's successor when one runs.
    fn request_fsync(&self, target: u64) {
        let mut q = lock(&self.fsync);
        q.requested = q.requested.max(target);
        self.wake_fsync_thread(&mut q);
    }

    /// Records that clients wait for `target`, without waking the fsync
    /// thread: for a loop whose round ended while it may be about to sleep
    /// and sync itself ([`commit::end_of_round`]). A running fsync's
    /// successor covers it anyway, and the loop wakes the thread at its
    /// next round's end if it does not sleep first.
    fn request_fsync_later(&self, target: u64) {
        let mut q = lock(&self.fsync);
        q.requested = q.requested.max(target);
    }

    /// Wakes the fsync thread if it waits while an fsync is asked for.
    fn wake_fsync_thread(&self, q: &mut FsyncQueue) {
        if q.idle && q.requested > self.durable.load(Ordering::Acquire) {
            q.woken_at.get_or_insert_with(Instant::now);
            self.fsync_wake.notify_one();
        }
    }

    /// Whether an fsync takes less than the two thread hops of having the
    /// fsync thread run it for a sleeping loop (both smoothed; no hop
    /// measured yet: not short).
    fn fsyncs_short(&self) -> bool {
        self.fsync_ns.get() < 2 * self.hop_ns.get()
    }

    /// An event loop about to sleep, whose clients wait for `target`, has
    /// their fsync run ([`commit::end_of_round`]). On the loop itself when
    /// none runs and fsyncs are short, as Redis's `beforeSleep`: the loop
    /// has nothing else to do meanwhile, and the fsync costs it no thread
    /// hops (waking the thread, then being woken by it; on two shared cores
    /// each hop waits for a CPU, tens of microseconds, and costs two context
    /// switches). Else on the fsync thread, whose fsync overlaps whatever
    /// the loop serves meanwhile: when fsyncs take longer than the two hops
    /// (a slow or busy disk), requests arriving during one are read, run and
    /// written before it ends, and the next fsync starts at once.
    fn sync_for_sleeping_loop(&self, target: u64) {
        {
            let mut q = lock(&self.fsync);
            q.requested = q.requested.max(target);
            if q.running || !self.fsyncs_short() {
                self.wake_fsync_thread(&mut q);
                return;
            }
            q.running = true;
        }
        self.sync_and_report();
    }

    /// One fsync of what is written, by the thread or a loop that claimed
    /// it (`running`), then the offset it made durable raised; a request
    /// that came meanwhile goes to the thread.
    fn sync_and_report(&self) {
        let synced = self.sync_files().map_err(|e| {
            if self.config.fsync_policy() == FsyncPolicy::Always {
                tracing::warn!("Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting...");
                std::process::exit(1);
            }
            tracing::warn!("Fail to fsync the AOF file: {e}");
            *lock(&self.write_error) = crate::config::strerror(&e);
            self.stats.last_write_ok.store(false, Ordering::Relaxed);
        });
        if let Ok(upto) = synced {
            self.raise_durable(upto);
        }
        let mut q = lock(&self.fsync);
        q.running = false;
        self.wake_fsync_thread(&mut q);
    }

    /// Records bytes up to `upto` as durable and wakes the loops waiting.
    fn raise_durable(&self, upto: u64) {
        if self.durable.fetch_max(upto, Ordering::AcqRel) < upto {
            for slot in lock(&self.loops).iter() {
                slot.wake();
            }
        }
    }

    /// The fsync thread: fsyncs on request (always) or once a second
    /// (everysec), never holding the writer's locks while the disk works.
    fn fsync_loop(self: Arc<Self>) {
        let mut last = std::time::Instant::now();
        loop {
            {
                let mut q = lock(&self.fsync);
                loop {
                    let durable = self.durable.load(Ordering::Acquire);
                    let asked = q.requested > durable;
                    let second = self.config.fsync_policy() == FsyncPolicy::Everysec
                        && last.elapsed() >= Duration::from_secs(1)
                        && self.written.load(Ordering::Acquire) > durable;
                    // An event loop may be syncing ([`Aof::sync_for_sleeping_loop`]):
                    // its end wakes this thread for what it did not cover.
                    if (asked || second) && !q.running {
                        break;
                    }
                    q.idle = true;
                    q = self
                        .fsync_wake
                        .wait_timeout(q, Duration::from_millis(100))
                        .map(|(q, _)| q)
                        .unwrap_or_else(|e| e.into_inner().0);
                    q.idle = false;
                    if let Some(at) = q.woken_at.take() {
                        self.hop_ns.add(at.elapsed());
                    }
                }
                q.running = true;
            }
            if self.config.no_appendfsync_on_rewrite()
                && self.stats.rewrite_in_progress.load(Ordering::Relaxed)
                && self.config.fsync_policy() != FsyncPolicy::Always
            {
                lock(&self.fsync).running = false;
                last = std::time::Instant::now();
                continue;
            }
            // What the loops appended since they asked goes too: its
            // clients then find it durable when their round ends.
            self.write_pending(true);
            self.sync_and_report();
            last = std::time::Instant::now();
            if self.config.fsync_policy() == FsyncPolicy::Everysec {
                // A write postponed behind this fsync goes now.
                self.write_pending(false);
            }
        }
    }

    /// Fsyncs the open incremental file and the retired ones; returns the
    /// offset that is now durable.
    fn sync_files(&self) -> std::io::Result<u64> {
        let (file, retired, upto) = {
            let _w = lock(&self.write_lock);
            let mut inner = self.lock();
            (
                inner.file.clone(),
                std::mem::take(&mut inner.retired),
                self.written.load(Ordering::Acquire),
            )
        };
        let start = Instant::now();
        for file in retired.iter().chain(&file) {
            file.sync_data()?;
        }
        self.fsync_ns.add(start.elapsed());
        Ok(upto)
    }

    /// Switches writing to `file` (a new incremental file): the old one's
    /// bytes are written first, and an offset reported durable never sits
    /// in a file nobody syncs. Call holding every shard: the old file's
    /// fsync (up to a second of writes with `everysec`) is the fsync
    /// thread's, not done here with every client waiting on the locks.
    /// Closing the AOF (no new file) syncs at once, as Redis's
    /// `stopAppendOnly`.
    fn switch_file(&self, file: Option<File>) {
        self.write_pending(true);
        let _w = lock(&self.write_lock);
        let mut inner = self.lock();
        let written = self.written.load(Ordering::Acquire);
        if let Some(old) = inner.file.take() {
            if written > self.durable.load(Ordering::Acquire) {
                if file.is_none() {
                    if old.sync_data().is_ok() {
                        self.raise_durable(written);
                    }
                } else {
                    inner.retired.push(old);
                    // everysec's next fsync covers it anyway.
                    if self.must_sync() {
                        self.request_fsync(written);
                    }
                }
            }
        }
        inner.file = file.map(Arc::new);
        inner.incr_size = 0;
    }

    /// Forgets the database the stream last selected, so the next unit
    /// starts with a SELECT (a new incremental file must).
    fn reselect(&self) {
        let id = self.lock().sink;
        if let Some(id) = id {
            self.propagation.reselect(id);
        }
    }

    /// Redis's `writeCommandsDeniedByDiskError` for the AOF: while writing
    /// (or fsyncing) it fails, writes are refused with Redis's MISCONF.
    pub fn write_refusal(&self) -> Option<crate::protocol::Reply> {
        if self.stats.last_write_ok.load(Ordering::Relaxed) || self.state() == State::Off {
            return None;
        }
        Some(crate::protocol::Reply::error_owned(format!(
            "MISCONF Errors writing to the AOF file: {}",
            lock(&self.write_error)
        )))
    }

    /// Writes and fsyncs everything (shutdown, DEBUG LOADAOF).
    pub fn flush_and_sync(&self) {
        self.write_pending(true);
        if let Ok(upto) = self.sync_files() {
            self.raise_durable(upto);
        }
    }

    /// Redis's `stopAppendOnly` (CONFIG SET appendonly no): the buffer is
    /// written and fsynced, the file closed, the stream detached.
    pub fn stop(&self) {
        self.switch_file(None);
        self.detach();
        let mut inner = self.lock();
        inner.state = State::Off;
        self.discard_pending(&mut inner);
        self.stats.rewrite_scheduled.store(false, Ordering::Relaxed);
    }

    /// Drops the unwritten buffer (the AOF is off, or its first rewrite
    /// failed): nobody may wait for those bytes any more.
    fn discard_pending(&self, inner: &mut Inner) {
        inner.buf.clear();
        let appended = self.appended.load(Ordering::Acquire);
        self.written.store(appended, Ordering::Release);
        self.raise_durable(appended);
    }

    /// Redis's `startAppendOnly` (CONFIG SET appendonly yes): the base is
    /// written by a rewrite the cron starts, as Redis schedules one.
    pub fn start(&self) {
        let mut inner = self.lock();
        if inner.state != State::Off {
            return;
        }
        inner.state = State::WaitRewrite;
        self.stats.rewrite_scheduled.store(true, Ordering::Relaxed);
        if !self.stats.last_write_ok.swap(true, Ordering::Relaxed) {
            tracing::warn!("AOF reopen, just ignore the last error.");
        }
    }
}

/// The AOF's reader of the propagation stream.
struct AofSink(Arc<Aof>);

impl Sink for AofSink {
    fn target(&self) -> Target {
        Target::AOF
    }

    fn append(&mut self, stream: &[u8]) {
        self.0.append(stream);
    }
}
