//! Small helpers shared across modules.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Unix time in microseconds (TIME, CLIENT LIST ages).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Redis's `sdscatrepr` (sds.c): `bytes` double-quoted with C escapes, and
/// `\xHH` for bytes that are not printable ASCII. MONITOR lines, redis-cli's
/// output and the quoting of command-line config values all use it.
pub fn repr(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Locks `m`, even if a thread panicked holding it: every mutex here
/// guards state that stays consistent between statements.
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fsyncs the directory that holds `path` (Redis's `fsyncFileDir`): a
/// rename is durable only once its directory is.
pub fn sync_dir_of(path: &std::path::Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    std::fs::File::open(dir).and_then(|d| d.sync_all())
}

/// Redis's `debugDelay`, the test hooks `key-load-delay` and
/// `rdb-key-save-delay`: sleeps `us` microseconds; a negative `us` sleeps
/// 1 µs once in -`us` calls on average (even the shortest sleep is a
/// system call).
pub fn debug_delay(us: i64) {
    let us = match us {
        0 => return,
        n if n < 0 => u64::from(rand::random::<u64>().is_multiple_of(n.unsigned_abs())),
        n => n as u64,
    };
    if us > 0 {
        std::thread::sleep(std::time::Duration::from_micros(us));
    }
}
