//! The background child: the process that writes a BGSAVE's or an AOF
//! rewrite's file, as Redis's fork child does, without forking the data.
//!
//! The server walks its snapshot itself (`keyspace::snapshot`: no fork, no
//! copy-on-write of the whole heap) and streams the encoded bytes through a
//! pipe to a small process started from its own binary (shown as
//! `reddish-rdb-bgsave` or `reddish-aof-rewrite`), which writes them to the
//! temp file named after its pid (`temp-<pid>.rdb`,
//! `temp-rewriteaof-<pid>.aof`), fsyncs it and renames it (over the dump
//! file, or to `temp-rewriteaof-bg-<pid>.aof` for the server to install as
//! the AOF's new base), as Redis's child does. What users and tools see of Redis's child
//! is then there for real: a child process (`pgrep -P`), its temp file, the
//! `oom-score-adj` background-child score, and a `kill -9` of it failing
//! the save ("terminated by signal 9", MISCONF) as with Redis.
//!
//! The child is started with `posix_spawn` (the std `Command` path without
//! `pre_exec`), which does not copy the server's page tables, so starting
//! it costs about a millisecond whatever the data set's size.

use std::io::{BufWriter, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::util::lock;

/// The first argument that makes `reddish-server` a background writer.
pub const WRITER_ARG: &str = "--background-writer";

/// Bytes the server buffers before a write to the pipe, and the pipe's size.
const CHUNK: usize = 1 << 20;

/// How a background child's work ended.
#[derive(Debug)]
pub enum Outcome {
    /// The file is written whole and fsynced.
    Written,
    /// The server gave up (an aborted snapshot) and stopped the child:
    /// Redis's SIGUSR1, which is no error.
    Aborted,
    /// The child could not open, write or rename its file.
    Failed { stage: Stage, error: std::io::Error },
    /// Something else killed the child (`kill -9`, the OOM killer).
    Killed(i32),
}

/// Where a child failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Open,
    Write,
    Rename,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Open => "open",
            Stage::Write => "write",
            Stage::Rename => "rename",
        }
    }
}

/// What the server keeps of a running child to stop it from elsewhere
/// (SHUTDOWN, FLUSHALL, CONFIG SET appendonly no), as Redis keeps
/// `child_pid`.
pub struct Handle {
    pub pid: u32,
    /// The temp file it writes.
    pub path: PathBuf,
    /// Until its exit is seen: after that its pid may be another process's.
    running: Mutex<bool>,
}

impl Handle {
    /// Stops the child and removes its temp file (Redis's `killRDBChild`
    /// or `killAppendOnlyChild` with the temp file's removal).
    pub fn terminate(&self) {
        let running = lock(&self.running);
        if *running {
            if let Ok(pid) = i32::try_from(self.pid) {
                // SAFETY: kill takes plain integers; the pid is our unreaped child.
                unsafe { libc::kill(pid, libc::SIGUSR1) };
            }
        }
        drop(running);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A running background child and the pipe the server writes it through.
pub struct Child {
    process: std::process::Child,
    input: Option<BufWriter<ChildStdin>>,
    /// Reads the child's report; returns it once the child's end closed.
    report: Option<JoinHandle<Vec<u8>>>,
    /// Set once the server has closed its end of the pipe: an exit seen
    /// before that is a death mid-write.
    sent: Arc<AtomicBool>,
    /// The child's end closed before the server's: it died or failed.
    died: Arc<AtomicBool>,
    /// A write to the child failed: it is gone.
    broken: bool,
    pub handle: Arc<Handle>,
}

impl Child {
    /// Starts a child named `title` (as `ps` shows it) writing the temp
    /// file `names(pid).0` in `dir`, renamed to `names(pid).1` once whole
    /// and fsynced, with `oom_score` as its `oom_score_adj` if set.
    /// `on_death` runs if the child exits before the server sent it
    /// everything (it was killed, or its disk failed): the caller stops the
    /// walk that feeds it.
    pub fn spawn(
        title: &str,
        dir: &Path,
        names: impl FnOnce(u32) -> (String, PathBuf),
        oom_score: Option<i64>,
        on_death: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<Child> {
        let mut process = Command::new("/proc/self/exe")
            .arg0(format!("reddish-{title}"))
            .arg(WRITER_ARG)
            .arg(title)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let pid = process.id();
        let (temp, destination) = names(pid);
        let path = dir.join(temp);
        let (Some(stdin), Some(mut stdout)) = (process.stdin.take(), process.stdout.take()) else {
            let _ = process.kill();
            let _ = process.wait();
            return Err(std::io::Error::other("no pipe to the background child"));
        };
        // A bigger pipe: fewer wake-ups of the child per megabyte (a
        // failure leaves the default, which works too).
        // SAFETY: fcntl on a pipe descriptor we own, integer arguments only.
        unsafe { libc::fcntl(stdin.as_raw_fd(), libc::F_SETPIPE_SZ, CHUNK as libc::c_int) };
        let sent = Arc::new(AtomicBool::new(false));
        let died = Arc::new(AtomicBool::new(false));
        let report = {
            let (sent, died) = (sent.clone(), died.clone());
            std::thread::Builder::new()
                .name("child-report".into())
                .spawn(move || {
                    let mut text = Vec::new();
                    let _ = stdout.read_to_end(&mut text);
                    if !sent.load(Ordering::Acquire) {
                        died.store(true, Ordering::Release);
                        on_death();
                    }
                    text
                })
        };
        let report = match report {
            Ok(report) => report,
            Err(e) => {
                let _ = process.kill();
                let _ = process.wait();
                return Err(e);
            }
        };
        let handle = Arc::new(Handle {
            pid,
            path,
            running: Mutex::new(true),
        });
        let mut child = Child {
            process,
            input: Some(BufWriter::with_capacity(CHUNK, stdin)),
            report: Some(report),
            sent,
            died,
            broken: false,
            handle,
        };
        // Sent at once: the child creates its file before the first data.
        let header = header(&child.handle.path, &destination, oom_score);
        if let Err(e) = child.send(&header).and_then(|()| child.flush()) {
            child.finish(false);
            return Err(e);
        }
        Ok(child)
    }

    /// Sends the file's next bytes, as frames: a length, then the bytes (a
    /// frame of length 0 ends the file). An error means the child is gone:
    /// [`Child::finish`] says why.
    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        for frame in bytes.chunks(u32::MAX as usize) {
            self.send(&(frame.len() as u32).to_le_bytes())?;
            self.send(frame)?;
        }
        Ok(())
    }

    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.on_input(|input| input.write_all(bytes))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.on_input(BufWriter::flush)
    }

    /// Writes to the pipe; a failure means the child is gone.
    fn on_input(
        &mut self,
        f: impl FnOnce(&mut BufWriter<ChildStdin>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let done = match &mut self.input {
            Some(input) => f(input),
            None => Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
        };
        self.broken |= done.is_err();
        done
    }

    /// Ends the child's work: `whole` once the server sent the whole file
    /// (the child then fsyncs it and exits), else it is stopped unless it
    /// is already gone by itself. Waits for it; a file not written whole
    /// is removed.
    pub fn finish(mut self, whole: bool) -> Outcome {
        // Gone by itself: a write found the pipe closed, or the child's
        // end closed before everything was sent.
        let gone = self.broken || self.died.load(Ordering::Acquire);
        let stopped = !whole && !gone;
        if stopped {
            // At once (it may be blocked on its disk), and its file removed.
            self.handle.terminate();
        }
        // The end frame, then the pipe closes: the child fsyncs, renames
        // and exits (without the end frame it removes its file).
        let ended = whole
            && self
                .send(&0u32.to_le_bytes())
                .and_then(|()| self.flush())
                .is_ok();
        self.input = None;
        self.sent.store(true, Ordering::Release);
        let report = self.report.take().and_then(|r| r.join().ok());
        let status = self.wait();
        let outcome = if stopped {
            Outcome::Aborted
        } else {
            match status {
                Ok(status) if status.success() && ended => Outcome::Written,
                Ok(status) => match status.signal() {
                    // The server's own stop, from elsewhere (SHUTDOWN, FLUSHALL).
                    Some(libc::SIGUSR1) => Outcome::Aborted,
                    Some(signal) => Outcome::Killed(signal),
                    None => parse_report(&report.unwrap_or_default()),
                },
                Err(error) => Outcome::Failed {
                    stage: Stage::Write,
                    error,
                },
            }
        };
        if !matches!(outcome, Outcome::Written) {
            let _ = std::fs::remove_file(&self.handle.path);
        }
        outcome
    }

    /// Waits for the child's exit, and marks it gone for
    /// [`Handle::terminate`] before its pid is released.
    fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        {
            let pid: libc::id_t = self.handle.pid;
            // SAFETY: waitid with WNOWAIT only waits (the child stays
            // unreaped); the siginfo is ours to fill.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) };
        }
        *lock(&self.handle.running) = false;
        self.process.wait()
    }
}

impl Drop for Child {
    /// A child dropped unfinished (its caller panicked) is stopped and
    /// reaped, not left behind.
    fn drop(&mut self) {
        if self.input.is_some() || self.report.is_some() {
            self.input = None;
            self.handle.terminate();
            let _ = self.wait();
        }
    }
}

/// The header the child reads first: the temp file's path, the path it
/// is renamed to, each as a length and bytes, then whether an OOM score
/// follows, and the score.
fn header(path: &Path, destination: &Path, oom_score: Option<i64>) -> Vec<u8> {
    let mut header = Vec::new();
    for path in [path, destination] {
        let path = path.as_os_str().as_bytes();
        header.extend_from_slice(&(path.len() as u32).to_le_bytes());
        header.extend_from_slice(path);
    }
    header.push(u8::from(oom_score.is_some()));
    header.extend_from_slice(&oom_score.unwrap_or(0).to_le_bytes());
    header
}

/// The child's report of a failure: its stage and errno.
fn parse_report(report: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(report);
    let mut words = text.split_whitespace();
    let stage = match words.next() {
        Some("open") => Stage::Open,
        Some("rename") => Stage::Rename,
        _ => Stage::Write,
    };
    let error = match words.next().and_then(|n| n.parse().ok()) {
        Some(errno) => std::io::Error::from_raw_os_error(errno),
        None => std::io::Error::other("the background child failed"),
    };
    Outcome::Failed { stage, error }
}

/// Reads a length and that many bytes.
fn read_path(input: &mut impl Read) -> std::io::Result<PathBuf> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    let mut path = vec![0u8; u32::from_le_bytes(len) as usize];
    input.read_exact(&mut path)?;
    Ok(PathBuf::from(std::ffi::OsString::from_vec(path)))
}

/// The child's side (`reddish-server --background-writer TITLE`): reads
/// the header, then copies the frames of its input into the temp file
/// until the end frame, fsyncs it and renames it. A failure is reported on
/// stdout and in the exit code; the server removes the file. Should the
/// server die first (its end of the pipe closes before the end frame), the
/// child removes the file and exits: a partial file never replaces one.
pub fn writer_main() -> ExitCode {
    let mut input = std::io::stdin().lock();
    let report = |stage: Stage, e: std::io::Error| {
        let errno = e.raw_os_error().unwrap_or(0);
        let _ = writeln!(std::io::stdout(), "{} {errno}", stage.name());
        ExitCode::FAILURE
    };
    let mut score = [0u8; 9];
    let header = read_path(&mut input).and_then(|path| {
        let destination = read_path(&mut input)?;
        input.read_exact(&mut score)?;
        Ok((path, destination))
    });
    let (path, destination) = match header {
        Ok(paths) => paths,
        Err(e) => return report(Stage::Open, e),
    };
    if score[0] == 1 {
        let mut value = [0u8; 8];
        value.copy_from_slice(&score[1..]);
        // As Redis's child: a failure only leaves the server's score.
        let _ = std::fs::write(
            "/proc/self/oom_score_adj",
            format!("{}\n", i64::from_le_bytes(value)),
        );
    }
    let mut file = match std::fs::File::create(&path) {
        Ok(file) => file,
        Err(e) => return report(Stage::Open, e),
    };
    let mut buf = vec![0u8; CHUNK];
    let mut len = [0u8; 4];
    loop {
        // The end of the input before the end frame: the server died (or
        // gave up) mid-file, which must never be renamed into place.
        if let Err(e) = input.read_exact(&mut len) {
            let _ = std::fs::remove_file(&path);
            return report(Stage::Write, e);
        }
        let mut left = u32::from_le_bytes(len) as usize;
        if left == 0 {
            break;
        }
        while left > 0 {
            let n = left.min(buf.len());
            if let Err(e) = input.read_exact(&mut buf[..n]) {
                let _ = std::fs::remove_file(&path);
                return report(Stage::Write, e);
            }
            if let Err(e) = file.write_all(&buf[..n]) {
                return report(Stage::Write, e);
            }
            left -= n;
        }
    }
    if let Err(e) = file.sync_all() {
        return report(Stage::Write, e);
    }
    match std::fs::rename(&path, &destination).and_then(|()| crate::util::sync_dir_of(&destination))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(Stage::Rename, e),
    }
}
