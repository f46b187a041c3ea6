//! The function libraries (Redis's functions.c): FUNCTION LOAD's checks,
//! the registry FCALL, FUNCTION LIST and STATS read. A library's code is
//! kept; each event loop's Lua state loads it when it first runs one of
//! its functions after a change (`engine::Engine::library_function`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use bytes::Bytes;

use super::{engine, LockHint, ScriptFlags};

/// A function of a library.
pub struct FunctionInfo {
    pub name: String,
    pub library: String,
    pub description: Option<String>,
    pub flags: ScriptFlags,
    pub hint: LockHint,
}

/// A loaded library.
#[derive(Clone)]
pub struct Library {
    pub name: String,
    /// The whole code, shebang included (FUNCTION LIST WITHCODE).
    pub code: Bytes,
    /// Its functions in name order (keyed as registered; the registry's
    /// index is by lowercase name).
    pub functions: BTreeMap<String, Arc<FunctionInfo>>,
}

#[derive(Default, Clone)]
struct Registry {
    libraries: BTreeMap<String, Library>,
    functions: BTreeMap<String, Arc<FunctionInfo>>,
}

#[derive(Default)]
pub struct Libraries {
    registry: Mutex<Registry>,
    epoch: AtomicU64,
}

pub static LIBRARIES: LazyLock<Libraries> = LazyLock::new(Libraries::default);

/// A library's code after its `#!lua name=...` line, the line feed kept
/// so line numbers hold, and its name (Redis's `functionExtractLibMetaData`).
fn metadata(code: &[u8]) -> Result<(String, &[u8]), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let end = memchr::memchr(b'\n', code).ok_or("Invalid library metadata")?;
    let parts = crate::protocol::inline::split_args(&code[..end])
        .filter(|p| !p.is_empty())
        .ok_or("Invalid library metadata")?;
    let engine = &parts[0][2..];
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let name = name.ok_or("Library name was not given")?;
    if !engine::valid_name(&name) {
        return Err("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!(
            "Engine '{}' not found",
            String::from_utf8_lossy(engine)
        ));
    }
    Ok((String::from_utf8_lossy(&name).into_owned(), &code[end..]))
}

impl Libraries {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// The code of every library, after the shebang line, to load.
    pub fn codes(&self) -> Vec<Bytes> {
        self.lock()
            .libraries
            .values()
            .map(|l| {
                let end = memchr::memchr(b'\n', &l.code).unwrap_or(0);
                l.code.slice(end..)
            })
            .collect()
    }

    /// A function by name, in any case (Redis's function names are).
    pub fn function(&self, name: &str) -> Option<Arc<FunctionInfo>> {
        self.lock()
            .functions
            .get(&name.to_ascii_lowercase())
            .cloned()
    }

    /// FUNCTION LOAD: the library's name, or Redis's error.
    pub fn load(&self, code: &[u8], replace: bool) -> Result<String, String> {
        let (name, body) = metadata(code)?;
        if !replace && self.lock().libraries.contains_key(&name) {
            return Err(format!("Library '{name}' already exists"));
        }
        let compiled = compile(name, body, code)?;
        let name = compiled.name.clone();
        self.lock().add(compiled, replace)?;
        self.changed();
        Ok(name)
    }

    /// The whole code of every library, in name order: what RDB files,
    /// FUNCTION DUMP and AOF rewrites keep.
    pub fn full_codes(&self) -> Vec<Bytes> {
        self.lock()
            .libraries
            .values()
            .map(|l| l.code.clone())
            .collect()
    }

    /// FUNCTION RESTORE, and the libraries of an RDB file (`Flush`: they
    /// become the only ones): every library compiles and joins the current
    /// ones as `policy` says, or nothing changes (Redis's `libraryJoin`).
    pub fn restore(&self, codes: &[Bytes], policy: RestorePolicy) -> Result<(), String> {
        let mut compiled = Vec::with_capacity(codes.len());
        for code in codes {
            let (name, body) = metadata(code)?;
            compiled.push(compile(name, body, code)?);
        }
        let mut registry = self.lock();
        let mut staged = match policy {
            RestorePolicy::Flush => Registry::default(),
            _ => registry.clone(),
        };
        for library in compiled {
            if policy == RestorePolicy::Append && staged.libraries.contains_key(&library.name) {
                return Err(format!("Library {} already exists", library.name));
            }
            staged.add(library, policy == RestorePolicy::Replace)?;
        }
        *registry = staged;
        drop(registry);
        self.changed();
        Ok(())
    }

    /// FUNCTION DELETE: whether the library was there.
    pub fn delete(&self, name: &str) -> bool {
        let found = remove(&mut self.lock(), name);
        if found {
            self.changed();
        }
        found
    }

    pub fn flush(&self) {
        *self.lock() = Registry::default();
        self.changed();
    }

    /// Calls `f` with the libraries in name order.
    pub fn with_libraries<R>(&self, f: impl FnOnce(&mut dyn Iterator<Item = &Library>) -> R) -> R {
        let registry = self.lock();
        f(&mut registry.libraries.values())
    }

    /// (libraries, functions) for FUNCTION STATS.
    pub fn counts(&self) -> (usize, usize) {
        let registry = self.lock();
        (registry.libraries.len(), registry.functions.len())
    }
}

/// How FUNCTION RESTORE joins the libraries it brings to the current ones.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    /// A library already there is an error (the default).
    Append,
    /// A library already there is replaced.
    Replace,
    /// The current libraries go first.
    Flush,
}

/// A library compiled, its functions known, not registered yet.
struct Compiled {
    name: String,
    code: Bytes,
    functions: Vec<(String, Option<String>, super::ScriptFlags)>,
}

/// Runs a library's code in this loop's Lua state to learn its functions.
fn compile(name: String, body: &[u8], code: &[u8]) -> Result<Compiled, String> {
    let functions = engine::load_library(body)?;
    if functions.is_empty() {
        return Err("No functions registered".into());
    }
    Ok(Compiled {
        name,
        code: Bytes::copy_from_slice(code),
        functions,
    })
}

impl Registry {
    /// Registers a compiled library (replacing one of its name when
    /// `replace`); a function name another library has is an error.
    fn add(&mut self, library: Compiled, replace: bool) -> Result<(), String> {
        let name = library.name;
        for (function, ..) in &library.functions {
            if let Some(existing) = self.functions.get(&function.to_ascii_lowercase()) {
                if existing.library != name {
                    return Err(format!("Function {function} already exists"));
                }
            }
        }
        if !replace && self.libraries.contains_key(&name) {
            return Err(format!("Library '{name}' already exists"));
        }
        remove(self, &name);
        let mut functions = BTreeMap::new();
        for (function, description, flags) in library.functions {
            let info = Arc::new(FunctionInfo {
                name: function.clone(),
                library: name.clone(),
                description,
                flags,
                hint: LockHint::default(),
            });
            self.functions
                .insert(function.to_ascii_lowercase(), info.clone());
            functions.insert(function, info);
        }
        self.libraries.insert(
            name.clone(),
            Library {
                name,
                code: library.code,
                functions,
            },
        );
        Ok(())
    }
}

fn remove(registry: &mut Registry, name: &str) -> bool {
    let Some(library) = registry.libraries.remove(name) else {
        return false;
    };
    for function in library.functions.keys() {
        registry.functions.remove(&function.to_ascii_lowercase());
    }
    true
}

/// FUNCTION STATS (`functionStatsCommand`): refused while an EVAL is busy.
pub fn stats_reply() -> crate::protocol::Reply {
    use crate::protocol::Reply;
    if super::BUSY.any() && super::BUSY.is_eval() {
        return Reply::error(
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
        );
    }
    let (libraries, functions) = LIBRARIES.counts();
    let text = |s: &str| Reply::bulk(s.as_bytes().to_vec());
    Reply::Map(vec![
        (text("running_script"), super::BUSY.running()),
        (
            text("engines"),
            Reply::Map(vec![(
                text("LUA"),
                Reply::Map(vec![
                    (text("libraries_count"), Reply::Integer(libraries as i64)),
                    (text("functions_count"), Reply::Integer(functions as i64)),
                ]),
            )]),
        ),
    ])
}
