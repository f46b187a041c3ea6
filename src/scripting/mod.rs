//! Lua scripting (Redis's eval.c, script.c, script_lua.c): the script
//! cache, the Lua states, running a script, and the busy-script state
//! SCRIPT KILL and `-BUSY` read.
//!
//! Each event loop has its own Lua 5.1 state ([`engine`]), made on first
//! use, so a script runs on its client's loop and never waits for another
//! loop's interpreter. The script bodies are shared ([`Scripts`]): a script
//! loaded on one loop is compiled on another when first run there. A
//! script runs under the guard of the EVAL that called it; its
//! `redis.call`s go through [`crate::commands::script_call`].

mod bit;
pub mod busy_loop;
mod cjson;
mod cmsgpack;
mod convert;
pub mod engine;
pub mod functions;
mod lstruct;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use bytes::Bytes;

/// The room Redis's C functions have on the Lua stack (`LUAI_MAXCSTACK`):
/// what bounds how deep cjson, cmsgpack and a script's result may nest.
const LUA_MAX_C_STACK: usize = 8000;

/// Grows the thread's stack before a level of recursion could overflow it:
/// 8000 levels of a recursive converter do not fit an I/O thread's stack.
fn deeper<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, f)
}

/// Script flags (Redis's `SCRIPT_FLAG_*`), from a shebang line or
/// `redis.register_function`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags(u8);

impl ScriptFlags {
    pub const NO_WRITES: ScriptFlags = ScriptFlags(1);
    pub const ALLOW_OOM: ScriptFlags = ScriptFlags(2);
    pub const ALLOW_STALE: ScriptFlags = ScriptFlags(4);
    pub const NO_CLUSTER: ScriptFlags = ScriptFlags(8);
    pub const ALLOW_CROSS_SLOT: ScriptFlags = ScriptFlags(16);
    /// No shebang: an EVAL script of before 7.0, run as those were.
    pub const EVAL_COMPAT: ScriptFlags = ScriptFlags(32);

    /// The flag names Redis accepts, in its order.
    pub const NAMES: [(&'static str, ScriptFlags); 5] = [
        ("no-writes", ScriptFlags::NO_WRITES),
        ("allow-oom", ScriptFlags::ALLOW_OOM),
        ("allow-stale", ScriptFlags::ALLOW_STALE),
        ("no-cluster", ScriptFlags::NO_CLUSTER),
        ("allow-cross-slot-keys", ScriptFlags::ALLOW_CROSS_SLOT),
    ];

    pub fn contains(self, other: ScriptFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert(&mut self, other: ScriptFlags) {
        self.0 |= other.0;
    }

    pub fn remove(&mut self, other: ScriptFlags) {
        self.0 &= !other.0;
    }
}

/// A script in the cache.
pub struct Script {
    pub sha: [u8; 40],
    pub body: Bytes,
    pub flags: ScriptFlags,
    /// Bytes of the shebang line (kept out of the compiled chunk, its line
    /// feed kept so line numbers hold).
    pub shebang_len: usize,
    pub hint: LockHint,
}

/// What runs of a script or function showed about the keys it touches,
/// which decides its locks (see ARCHITECTURE.md, scripts' locks).
#[derive(Default)]
pub struct LockHint {
    /// A run under the all-shards lock touched only its declared keys:
    /// later runs lock just those.
    declared_only: AtomicBool,
    /// A run reached a key it did not declare: runs lock everything.
    strays: AtomicBool,
}

impl LockHint {
    /// Whether a run may lock only its declared keys.
    pub fn keys_suffice(&self) -> bool {
        self.declared_only.load(Ordering::Relaxed) && !self.strays.load(Ordering::Relaxed)
    }

    /// A run ended having strayed from its declared keys or not.
    pub fn learn(&self, strayed: bool) {
        if strayed {
            self.strays.store(true, Ordering::Relaxed);
        } else {
            self.declared_only.store(true, Ordering::Relaxed);
        }
    }
}

/// The script cache (Redis's `lctx.lua_scripts`), shared by every loop.
#[derive(Default)]
pub struct Scripts {
    map: Mutex<Cache>,
    /// Bumped by SCRIPT FLUSH: each loop's Lua state starts over when it
    /// sees a new epoch.
    epoch: AtomicU64,
    /// Bytes of the bodies held (INFO's `used_memory_scripts_eval`).
    bytes: AtomicUsize,
}

/// The scripts by SHA, and by body: an EVAL finds its script by the body
/// it sends (a fast hash and a compare) and computes the SHA1 only for a
/// script new to the cache.
#[derive(Default)]
struct Cache {
    by_sha: HashMap<[u8; 40], Arc<Script>, foldhash::fast::RandomState>,
    by_body: HashMap<Bytes, Arc<Script>, foldhash::fast::RandomState>,
}

/// The process's script cache, as Redis's is one per server.
pub static SCRIPTS: LazyLock<Scripts> = LazyLock::new(Scripts::default);

impl Scripts {
    fn lock(&self) -> MutexGuard<'_, Cache> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, sha: &[u8; 40]) -> Option<Arc<Script>> {
        self.lock().by_sha.get(sha).cloned()
    }

    /// The cached script whose body is `body`.
    pub fn get_by_body(&self, body: &[u8]) -> Option<Arc<Script>> {
        self.lock().by_body.get(body).cloned()
    }

    pub fn contains(&self, sha: &[u8]) -> bool {
        let Ok(sha) = <[u8; 40]>::try_from(sha) else {
            return false;
        };
        self.lock().by_sha.contains_key(&sha)
    }

    /// Adds a checked script (or returns the one already there).
    pub fn insert(&self, script: Script) -> Arc<Script> {
        let mut cache = self.lock();
        if let Some(found) = cache.by_sha.get(&script.sha) {
            return found.clone();
        }
        self.bytes
            .fetch_add(script.body.len() + 40, Ordering::Relaxed);
        let script = Arc::new(script);
        cache.by_sha.insert(script.sha, script.clone());
        cache.by_body.insert(script.body.clone(), script.clone());
        script
    }

    /// SCRIPT FLUSH: forgets every script; each Lua state starts over.
    pub fn flush(&self) {
        let old = std::mem::take(&mut *self.lock());
        self.bytes.store(0, Ordering::Relaxed);
        self.epoch.fetch_add(1, Ordering::Relaxed);
        drop(old);
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.lock().by_sha.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn memory(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// The SHA1 of `body` in lowercase hex (Redis's `sha1hex`).
pub fn sha1hex(body: &[u8]) -> [u8; 40] {
    let digest = sha1_smol::Sha1::from(body).digest().bytes();
    let mut out = [0u8; 40];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in digest.iter().enumerate() {
        out[i * 2] = HEX[(b >> 4) as usize];
        out[i * 2 + 1] = HEX[(b & 15) as usize];
    }
    out
}

/// A 40-character SHA argument, lowercased (EVALSHA accepts either case).
pub fn sha_arg(arg: &[u8]) -> Option<[u8; 40]> {
    let mut sha = <[u8; 40]>::try_from(arg).ok()?;
    sha.make_ascii_lowercase();
    Some(sha)
}

/// Redis's `evalExtractShebangFlags`: the flags of a `#!lua` first line and
/// its length, or the error Redis gives.
pub fn shebang_flags(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::EVAL_COMPAT, 0));
    }
    let Some(end) = memchr::memchr(b'\n', body) else {
        return Err("Invalid script shebang".into());
    };
    let parts = crate::protocol::inline::split_args(&body[..end])
        .filter(|p| !p.is_empty())
        .ok_or_else(|| "Invalid engine in script shebang".to_string())?;
    if parts[0] != b"#!lua" {
        return Err(format!(
            "Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(&parts[0])
        ));
    }
    let mut flags = ScriptFlags::default();
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!(
                "Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            ));
        };
        for name in list.split(|&b| b == b',') {
            flags.insert(flag_named(name).ok_or_else(|| {
                format!(
                    "Unexpected flag in script shebang: {}",
                    String::from_utf8_lossy(name)
                )
            })?);
        }
    }
    Ok((flags, end))
}

/// The flags a script declared, for the EVAL or FCALL that would run it
/// (Redis's `evalGetCommandFlags` and `fcallGetCommandFlags`): None for a
/// script without a shebang, an unknown SHA or function, or a shebang
/// that does not parse (the command then fails when it runs).
pub fn declared_flags(command: &str, args: &[&[u8]]) -> Option<ScriptFlags> {
    let flags = match command {
        "eval" | "eval_ro" => shebang_flags(args.get(1)?).ok()?.0,
        "evalsha" | "evalsha_ro" => SCRIPTS.get(&sha_arg(args.get(1)?)?)?.flags,
        "fcall" | "fcall_ro" => {
            let name = std::str::from_utf8(args.get(1)?).ok()?;
            functions::LIBRARIES.function(name)?.flags
        }
        _ => return None,
    };
    (!flags.contains(ScriptFlags::EVAL_COMPAT)).then_some(flags)
}

/// A script flag by its name.
pub fn flag_named(name: &[u8]) -> Option<ScriptFlags> {
    ScriptFlags::NAMES
        .iter()
        .find(|(n, _)| n.as_bytes() == name)
        .map(|(_, f)| *f)
}

/// Scripts past `busy-reply-threshold` (Redis lets one run at a time; with
/// several event loops several may run, each on its loop): other clients
/// get `-BUSY` while there is one, and SCRIPT KILL / FUNCTION KILL act on
/// them.
#[derive(Default)]
pub struct Busy {
    count: AtomicUsize,
    running: Mutex<Vec<Arc<BusyScript>>>,
}

/// A script gone busy, as the other loops see it.
pub struct BusyScript {
    /// EVAL (true) or FCALL.
    pub eval: bool,
    /// The function's name (the SHA for EVAL), for FUNCTION STATS.
    pub name: String,
    /// The command that runs it, as FUNCTION STATS shows it.
    pub command: Vec<Vec<u8>>,
    pub start: std::time::Instant,
    /// It ran a write command: it cannot be killed.
    pub wrote: AtomicBool,
    /// SCRIPT KILL / FUNCTION KILL asked it to stop.
    pub kill: AtomicBool,
}

pub static BUSY: LazyLock<Busy> = LazyLock::new(Busy::default);

/// What SCRIPT KILL / FUNCTION KILL found.
pub enum KillOutcome {
    Killed,
    NotBusy,
    /// It already wrote (`-UNKILLABLE`).
    Unkillable,
    /// The busy one is of the other kind (SCRIPT KILL of a function).
    OtherKind,
}

impl Busy {
    fn lock(&self) -> MutexGuard<'_, Vec<Arc<BusyScript>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a script is past its threshold: one relaxed load per command.
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// FUNCTION STATS's `running_script`: the busy script, or null.
    pub fn running(&self) -> crate::protocol::Reply {
        use crate::protocol::Reply;
        let Some(script) = self.lock().first().cloned() else {
            return Reply::Null;
        };
        let text = |s: &str| Reply::bulk(s.as_bytes().to_vec());
        Reply::Map(vec![
            (text("name"), text(&script.name)),
            (
                text("command"),
                Reply::Array(
                    script
                        .command
                        .iter()
                        .map(|a| Reply::bulk(a.clone()))
                        .collect(),
                ),
            ),
            (
                text("duration_ms"),
                Reply::Integer(script.start.elapsed().as_millis() as i64),
            ),
        ])
    }

    /// Whether the busy script is an EVAL (else a function), for `-BUSY`'s text.
    pub fn is_eval(&self) -> bool {
        self.lock().first().is_none_or(|s| s.eval)
    }

    pub fn enter(&self, script: Arc<BusyScript>) {
        let mut running = self.lock();
        running.push(script);
        self.count.store(running.len(), Ordering::Relaxed);
    }

    pub fn leave(&self, script: &Arc<BusyScript>) {
        let mut running = self.lock();
        running.retain(|s| !Arc::ptr_eq(s, script));
        self.count.store(running.len(), Ordering::Relaxed);
    }

    /// Redis's `scriptKill`.
    pub fn kill(&self, eval: bool) -> KillOutcome {
        let running = self.lock();
        let Some(script) = running.first() else {
            return KillOutcome::NotBusy;
        };
        if script.wrote.load(Ordering::Relaxed) {
            return KillOutcome::Unkillable;
        }
        if script.eval != eval {
            return KillOutcome::OtherKind;
        }
        script.kill.store(true, Ordering::Relaxed);
        KillOutcome::Killed
    }
}

/// The `-BUSY` error other clients get while a script is busy.
pub fn busy_error() -> crate::protocol::Reply {
    if BUSY.is_eval() {
        crate::protocol::Reply::error(
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
        )
    } else {
        crate::protocol::Reply::error(
            "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
        )
    }
}
