//! One Lua 5.1 state per event loop, and running a script in it.
//!
//! The state is set up as Redis's `scriptingInit` sets up its own: the
//! base library without `dofile`/`loadfile`/`print`, `table`, `string`,
//! `math` (random numbers from Redis's `rand48`), `cjson`, `cmsgpack`,
//! `bit`, `struct`, and `redis.*`; `sandbox.lua` locks the globals. A
//! script runs through `xpcall` with an error handler that turns every
//! error into Redis's error table (`err`, `source`, `line`). A count hook
//! every 100,000 instructions times the script: past `busy-reply-threshold`
//! it is registered as busy (other clients get `-BUSY`) and SCRIPT KILL
//! can stop it.
//!
//! The per-call path is written against Lua's C API, as Redis's is: a run
//! pushes the error handler and the compiled function from registry
//! references and `lua_pcall`s them, KEYS and ARGV are two tables reused
//! from run to run, and `redis.call`/`redis.pcall` are plain C functions
//! that read their arguments off the stack, run the command and push its
//! reply ([`convert`]). mlua serves the rest (setting the state up, the
//! libraries, the rarely called `redis.*` functions).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{c_int, CStr};
use std::mem::ManuallyDrop;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use mlua::{ffi, Function, IntoLua, Lua, LuaOptions, MultiValue, StdLib, Table, Value};
use smallvec::SmallVec;

use super::{convert, BusyScript, Script, BUSY, SCRIPTS};
use crate::commands::{script_call, Ctx, ScriptRefusal, ScriptRun};
use crate::propagate::Target;
use crate::protocol::{Reply, Resp};

/// Redis 7.0.15, as scripts see it.
const VERSION: &str = "7.0.15";
const VERSION_NUM: i64 = 0x0007_000f;

/// The count hook's period, as Redis's.
const HOOK_EVERY: i32 = 100_000;

/// A Rust function scripts call, reporting errors with [`fail`].
type Native = fn(&Lua, MultiValue) -> mlua::Result<MultiValue>;

/// A loop's Lua state.
struct Engine {
    lua: Lua,
    /// Registry references of the table the scripts' globals are read
    /// from, of the error handler every run goes through, and of the
    /// tables KEYS and ARGV are (reused while no script left anything in
    /// them).
    globals: c_int,
    handler: c_int,
    keys: c_int,
    argv: c_int,
    /// `xpcall(f, handler)` (FUNCTION LOAD runs a library's code so).
    run: Function,
    /// Switches the globals to the library API while FUNCTION LOAD runs.
    set_loading: Function,
    /// The functions of the libraries, compiled in this state, as of
    /// `functions_epoch` (registry references).
    functions: HashMap<String, c_int>,
    functions_epoch: Option<u64>,
    /// The script cache epoch this state was made in.
    epoch: u64,
    /// Scripts compiled in this state (registry references).
    compiled: HashMap<[u8; 40], c_int, foldhash::fast::RandomState>,
    /// The main `lua_State`: scripts run in it through the C API.
    state: *mut ffi::lua_State,
}

thread_local! {
    /// When the library FUNCTION LOAD is running must be done by (Redis
    /// gives a load 500 ms).
    static LOAD_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The functions registered by the library FUNCTION LOAD is running.
    static LOADING: RefCell<Option<Vec<Registered>>> = const { RefCell::new(None) };
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
    /// The script running on this thread, for `redis.*` and the hook (its
    /// lifetime erased: set only while the run that owns it lasts).
    static RUN: Cell<*mut RunState<'static>> = const { Cell::new(std::ptr::null_mut()) };
}

/// A script invocation (Redis's `scriptRunCtx`).
struct RunState<'a> {
    /// The EVAL's context (its lifetimes erased: only used while the
    /// handler that set it runs).
    ctx: *mut Ctx<'static, 'static>,
    run: ScriptRun,
    /// The script's selected database and protocol (`redis.setresp`).
    db: usize,
    resp: Resp,
    /// `redis.set_repl`.
    repl: Target,
    start: Instant,
    threshold_ms: u64,
    busy: Option<Arc<BusyScript>>,
    eval: bool,
    /// The function name in messages (the SHA for EVAL).
    name: &'a str,
    /// The command running it (FUNCTION STATS shows it once it is busy).
    command: &'a [&'a [u8]],
    /// A `redis.call` reached a key outside the guard before any write:
    /// the script is stopped, to run again under every lock.
    restart: bool,
    /// Whether a restart is possible (not inside EXEC, nothing written).
    can_restart: bool,
    state: *mut ffi::lua_State,
}

/// How a run ended.
pub enum Outcome {
    Reply(Reply),
    /// Run it again under the all-shards lock.
    Restart,
}

/// What a run calls.
pub enum Callee<'a> {
    /// An EVAL script (KEYS and ARGV as globals).
    Script(&'a Script),
    /// A library function by name (keys and args as its arguments).
    Function(&'a str),
}

/// What to run.
pub struct Invocation<'a> {
    pub callee: Callee<'a>,
    /// The whole command (EVAL or FCALL and its arguments).
    pub command: &'a [&'a [u8]],
    pub hint: &'a super::LockHint,
    pub keys: &'a [&'a [u8]],
    pub args: &'a [&'a [u8]],
    pub read_only: bool,
    /// Flagged `allow-oom`: its writes are not refused over `maxmemory`.
    pub allow_oom: bool,
    pub can_restart: bool,
    /// The keys' shards: a run that touches no other is remembered.
    pub declared: crate::keyspace::LockSet,
}

/// Compiles `body` in this loop's state: the error Redis gives when it does
/// not compile (`Error compiling script (new function): ...`).
pub fn check_compiles(script: &Script) -> Result<(), String> {
    with_engine(|engine| engine.function(script).map(|_| ()))
}

/// A function a library registered.
pub struct Registered {
    pub name: String,
    pub callback: Function,
    pub description: Option<String>,
    pub flags: super::ScriptFlags,
}

/// Runs a library's code in this loop's state: the functions it registers
/// (FUNCTION LOAD's check), or Redis's error.
pub fn load_library(
    code: &[u8],
) -> Result<Vec<(String, Option<String>, super::ScriptFlags)>, String> {
    with_engine(|engine| engine.load(code)).map(|registered| {
        registered
            .into_iter()
            .map(|r| (r.name, r.description, r.flags))
            .collect()
    })
}

/// Runs a script under `ctx`'s guard.
pub fn run(ctx: &mut Ctx, inv: Invocation) -> Outcome {
    with_engine(|engine| engine.call(ctx, inv))
}

fn with_engine<R>(f: impl FnOnce(&mut Engine) -> R) -> R {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let epoch = SCRIPTS.epoch();
        if slot.as_ref().is_none_or(|e| e.epoch != epoch) {
            *slot = None;
            *slot = Some(Engine::new(epoch).expect("the Lua state can be set up"));
        }
        let engine = slot.as_mut().expect("just made");
        f(engine)
    })
}

impl Engine {
    fn new(epoch: u64) -> mlua::Result<Engine> {
        // The debug library only for the error handler, which keeps it.
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        // SAFETY: the debug library is handed to sandbox.lua alone, which
        // removes it from the globals.
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::default()) };
        let fail = lua.create_table()?;
        lua.set_named_registry_value("reddish.fail", &fail)?;
        let native = lua.create_table()?;
        // SAFETY: both follow Lua's C function protocol (see their docs).
        unsafe {
            native.set("call", lua.create_c_function(redis_call)?)?;
            native.set("pcall", lua.create_c_function(redis_pcall)?)?;
        }
        let register = lua.create_function(register_function)?;
        native.set("register_function", raising(&lua, &register, &fail)?)?;
        native.set("error_reply", lua.create_function(error_reply)?)?;
        native.set("status_reply", lua.create_function(status_reply)?)?;
        let natives: [(&str, Native); 10] = [
            ("next", view_next),
            ("pairs", view_pairs),
            ("rawget", view_rawget),
            ("sha1hex", sha1hex),
            ("log", log),
            ("setresp", setresp),
            ("set_repl", set_repl),
            ("acl_check_cmd", acl_check_cmd),
            ("random", random),
            ("randomseed", randomseed),
        ];
        for (name, f) in natives {
            native.set(name, raising(&lua, &lua.create_function(f)?, &fail)?)?;
        }
        native.set(
            "set_views",
            lua.create_function(
                |lua, (views, next, view_next): (Table, Function, Function)| {
                    lua.set_named_registry_value("reddish.views", views)?;
                    lua.set_named_registry_value("reddish.real_next", next)?;
                    lua.set_named_registry_value("reddish.view_next", view_next)
                },
            )?,
        )?;
        native.set("version", VERSION)?;
        native.set("version_num", VERSION_NUM)?;
        let libraries = [
            ("cjson", super::cjson::library(&lua)?),
            ("cmsgpack", super::cmsgpack::library(&lua)?),
            ("bit", super::bit::library(&lua)?),
            ("struct", super::lstruct::library(&lua)?),
        ];
        for (name, library) in libraries {
            native.set(name, raising_library(&lua, &library)?)?;
        }
        let setup = lua
            .load(include_str!("sandbox.lua"))
            .set_name("@sandbox")
            .into_function()?;
        let (env, globals, handler, run, set_loading): (
            Table,
            Table,
            Function,
            Function,
            Function,
        ) = setup.call(native)?;
        let mut state = std::ptr::null_mut();
        // SAFETY: `f` only reads the state pointer and replaces the
        // thread's globals with the sandbox's view (Lua 5.1's `l_gt`), so
        // chunks loaded later, ours and `loadstring`'s, see only it.
        unsafe {
            lua.exec_raw::<()>(env, |l| {
                state = l;
                ffi::lua_replace(l, ffi::LUA_GLOBALSINDEX);
            })?;
        }
        Ok(Engine {
            globals: reference(&lua, globals)?,
            handler: reference(&lua, handler)?,
            keys: reference(&lua, lua.create_table()?)?,
            argv: reference(&lua, lua.create_table()?)?,
            lua,
            run,
            set_loading,
            functions: HashMap::new(),
            functions_epoch: None,
            epoch,
            compiled: HashMap::default(),
            state,
        })
    }

    /// The compiled function of `script` in this state.
    fn function(&mut self, script: &Script) -> Result<c_int, String> {
        if let Some(&f) = self.compiled.get(&script.sha) {
            return Ok(f);
        }
        let body = &script.body[script.shebang_len..];
        let f = self
            .lua
            .load(body)
            .set_name("@user_script")
            .set_mode(mlua::chunk::ChunkMode::Text)
            .into_function()
            .map_err(|e| {
                format!(
                    "Error compiling script (new function): {}",
                    lua_error_text(&e)
                )
            })?;
        let f = reference(&self.lua, f).map_err(|e| lua_error_text(&e))?;
        self.compiled.insert(script.sha, f);
        Ok(f)
    }

    /// A library function compiled in this state (the libraries are
    /// loaded here again after any change to them).
    fn library_function(&mut self, name: &str) -> Result<c_int, String> {
        let epoch = super::functions::LIBRARIES.epoch();
        if self.functions_epoch != Some(epoch) {
            for (_, f) in self.functions.drain() {
                // SAFETY: `f` is a reference this engine made and holds alone.
                unsafe { ffi::luaL_unref(self.state, ffi::LUA_REGISTRYINDEX, f) };
            }
            for code in super::functions::LIBRARIES.codes() {
                if let Ok(registered) = self.load(&code) {
                    for r in registered {
                        if let Ok(f) = reference(&self.lua, r.callback) {
                            self.functions.insert(r.name.to_ascii_lowercase(), f);
                        }
                    }
                }
            }
            self.functions_epoch = Some(epoch);
        }
        self.functions
            .get(&name.to_ascii_lowercase())
            .copied()
            .ok_or_else(|| "Function not found".to_string())
    }

    /// Runs a library's code (after its shebang line) with the library API
    /// as its globals, and returns what it registered.
    fn load(&mut self, code: &[u8]) -> Result<Vec<Registered>, String> {
        let chunk = self
            .lua
            .load(code)
            .set_name("@user_function")
            .set_mode(mlua::chunk::ChunkMode::Text)
            .into_function()
            .map_err(|e| format!("Error compiling function: {}", lua_error_text(&e)))?;
        LOADING.with(|l| *l.borrow_mut() = Some(Vec::new()));
        let _ = self.set_loading.call::<()>(true);
        LOAD_DEADLINE.with(|d| d.set(Some(Instant::now() + std::time::Duration::from_millis(500))));
        // SAFETY: the hook reads LOAD_DEADLINE, set for exactly this call.
        unsafe { ffi::lua_sethook(self.state, Some(hook), ffi::LUA_MASKCOUNT, HOOK_EVERY) };
        let result = self.run.call::<MultiValue>(chunk);
        unsafe { ffi::lua_sethook(self.state, None, 0, 0) };
        LOAD_DEADLINE.with(|d| d.set(None));
        let _ = self.set_loading.call::<()>(false);
        let registered = LOADING.with(|l| l.borrow_mut().take()).unwrap_or_default();
        let mut values = result.map_err(|e| lua_error_text(&e))?.into_iter();
        if let Some(Value::Boolean(true)) = values.next() {
            return Ok(registered);
        }
        let msg = match values.next() {
            Some(Value::Table(t)) => match t.raw_get::<Value>("err") {
                Ok(Value::String(s)) => s.to_string_lossy(),
                _ => String::new(),
            },
            _ => String::new(),
        };
        Err(format!("Error registering functions: {msg}"))
    }

    fn call(&mut self, ctx: &mut Ctx, inv: Invocation) -> Outcome {
        let (function, name) = match inv.callee {
            Callee::Script(script) => (
                self.function(script),
                // A SHA is hex.
                std::str::from_utf8(&script.sha).unwrap_or_default(),
            ),
            Callee::Function(name) => (self.library_function(name), name),
        };
        let function = match function {
            Ok(f) => f,
            Err(e) => return Outcome::Reply(Reply::error_owned(format!("ERR {e}"))),
        };
        let l = self.state;
        // SAFETY: `l` is this engine's main state, whose stack is ours
        // between mlua's calls; everything pushed here is popped below
        // (`lua_settop(l, top)`). The registry references are this
        // engine's. Outside `lua_pcall` these calls raise only when Lua
        // cannot allocate (as mlua's stack checks; Redis aborts there).
        let (top, nargs) = unsafe {
            let top = ffi::lua_gettop(l);
            ffi::lua_checkstack(l, 8);
            ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, self.handler);
            ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, function);
            let nargs = match inv.callee {
                Callee::Script(_) => {
                    ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, self.globals);
                    fill_array(l, self.keys, inv.keys);
                    convert::set_field(l, c"KEYS");
                    fill_array(l, self.argv, inv.args);
                    convert::set_field(l, c"ARGV");
                    ffi::lua_settop(l, -2);
                    0
                }
                Callee::Function(_) => {
                    // Functions share this state with EVAL's scripts, whose
                    // KEYS and ARGV stay set after them: not for functions.
                    ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, self.globals);
                    ffi::lua_pushnil(l);
                    convert::set_field(l, c"KEYS");
                    ffi::lua_pushnil(l);
                    convert::set_field(l, c"ARGV");
                    ffi::lua_settop(l, -2);
                    push_array(l, inv.keys);
                    push_array(l, inv.args);
                    2
                }
            };
            (top, nargs)
        };
        let mut state = RunState {
            ctx: (ctx as *mut Ctx).cast(),
            run: ScriptRun {
                read_only: inv.read_only,
                allow_oom: inv.allow_oom,
                declared: inv.declared,
                ..Default::default()
            },
            db: ctx.client.db,
            resp: Resp::V2,
            repl: Target::ALL,
            start: Instant::now(),
            threshold_ms: ctx.server.config.busy_reply_threshold(),
            busy: None,
            eval: matches!(inv.callee, Callee::Script(_)),
            command: inv.command,
            name,
            restart: false,
            can_restart: inv.can_restart,
            state: self.state,
        };
        ctx.client.in_script = true;
        RUN.with(|r| r.set((&mut state as *mut RunState).cast()));
        // SAFETY: the hook reads `RUN`, set for exactly this call; the
        // function and its arguments are on top of the handler at `top + 1`.
        let status = unsafe {
            ffi::lua_sethook(l, Some(hook), ffi::LUA_MASKCOUNT, HOOK_EVERY);
            let status = ffi::lua_pcall(l, nargs, 1, top + 1);
            ffi::lua_sethook(l, None, 0, 0);
            status
        };
        RUN.with(|r| r.set(std::ptr::null_mut()));
        // `state` holds no borrow of `ctx` any more.
        let ctx: &mut Ctx = unsafe { &mut *state.ctx.cast() };
        ctx.client.in_script = false;
        if let Some(busy) = state.busy.take() {
            BUSY.leave(&busy);
            super::busy_loop::script_ended();
        }
        let result = top + 2;
        if state.restart {
            // SAFETY: drops what this call pushed.
            unsafe { ffi::lua_settop(l, top) };
            return Outcome::Restart;
        }
        inv.hint.learn(state.run.strayed);
        if state.run.read {
            crate::commands::remember_script_keys(ctx, inv.keys);
        }
        let resp3 = state.resp == Resp::V3;
        // SAFETY: the value at `result` is the script's result or error;
        // the conversions leave the stack as it was, then it is restored.
        let (reply, counted) = unsafe {
            let reply = if status == 0 {
                convert::lua_to_reply(l, result, resp3)
            } else {
                script_error(l, result, state.name)
            };
            let counted = reply.is_error() && error_counted(l, result);
            ffi::lua_settop(l, top);
            (reply, counted)
        };
        ctx.client.error_counted = counted;
        Outcome::Reply(reply)
    }
}

/// A registry reference to `value` (for `lua_rawgeti`), held until
/// `luaL_unref` or the state's end.
fn reference(lua: &Lua, value: impl IntoLua) -> mlua::Result<c_int> {
    let mut r = ffi::LUA_REFNIL;
    // SAFETY: `luaL_ref` pops the one value pushed.
    unsafe { lua.exec_raw::<()>(value, |l| r = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX))? };
    Ok(r)
}

// The stack helpers below (and convert.rs's) share one contract: `l` is a
// live Lua state with room for what they push, the indexes they are given
// are valid, and they leave the stack as documented.

/// Pushes a new array of `items`.
unsafe fn push_array(l: *mut ffi::lua_State, items: &[&[u8]]) {
    ffi::lua_createtable(l, c_int::try_from(items.len()).unwrap_or(0), 0);
    for (i, item) in (1..).zip(items) {
        convert::push_bytes(l, item);
        ffi::lua_rawseti_(l, -2, i);
    }
}

/// Pushes the array of `items` in the table registry reference `slot`
/// holds, the one the last run used, as Redis reuses KEYS and ARGV: the
/// items, then nils after them until the last run's end. A table the
/// script left anything else in (other keys, a metatable) is replaced by
/// a new one.
unsafe fn fill_array(l: *mut ffi::lua_State, slot: c_int, items: &[&[u8]]) {
    ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, slot);
    let mut i: c_int = 0;
    for item in items {
        i += 1;
        convert::push_bytes(l, item);
        ffi::lua_rawseti_(l, -2, i);
    }
    loop {
        ffi::lua_rawgeti_(l, -1, i + 1);
        let more = ffi::lua_type(l, -1) != ffi::LUA_TNIL;
        ffi::lua_settop(l, -2);
        if !more {
            break;
        }
        ffi::lua_pushnil(l);
        ffi::lua_rawseti_(l, -2, i + 1);
        i += 1;
    }
    // Anything after the items (in the array or the hash part)?
    if items.is_empty() {
        ffi::lua_pushnil(l);
    } else {
        ffi::lua_pushnumber(l, items.len() as f64);
    }
    let more = ffi::lua_next(l, -2) != 0;
    if more {
        // The key and value after the items.
        ffi::lua_settop(l, -3);
    }
    let metatable = !more && ffi::lua_getmetatable(l, -1) != 0;
    if metatable {
        ffi::lua_settop(l, -2);
    }
    if more || metatable {
        ffi::lua_settop(l, -2);
        push_array(l, items);
        ffi::lua_pushvalue(l, -1);
        ffi::lua_rawseti_(l, ffi::LUA_REGISTRYINDEX, slot);
    }
}

/// Whether the error table at `index` came from a command of the script,
/// whose error the stats counted already (Redis's
/// `ignore_error_stats_update` field): the script's error reply then
/// counts as a failed call only.
unsafe fn error_counted(l: *mut ffi::lua_State, index: c_int) -> bool {
    if ffi::lua_type(l, index) != ffi::LUA_TTABLE {
        return false;
    }
    ffi::lua_pushstring_(l, c"ignore_error_stats_update".as_ptr());
    ffi::lua_rawget(l, index);
    let counted = ffi::lua_toboolean(l, -1) != 0;
    ffi::lua_settop(l, -2);
    counted
}

/// The value at `index` as Lua's `tostring` gives a string or a number.
unsafe fn text_at(l: *mut ffi::lua_State, index: c_int) -> Option<String> {
    match ffi::lua_type(l, index) {
        ffi::LUA_TSTRING => {
            let mut len = 0;
            let ptr = ffi::lua_tolstring(l, index, &mut len);
            let bytes = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
        ffi::LUA_TNUMBER => {
            let n = ffi::lua_tonumber(l, index);
            Some(if n.fract() == 0.0 && n.abs() < 9.0e18 {
                (n as i64).to_string()
            } else {
                crate::number::format_lua_number(n)
            })
        }
        _ => None,
    }
}

/// The error reply of a script that failed (Redis's `luaCallFunction`):
/// `<err> script: <name>, on <source>:<line>.` for the error table at
/// `index`.
unsafe fn script_error(l: *mut ffi::lua_State, index: c_int, name: &str) -> Reply {
    if ffi::lua_type(l, index) != ffi::LUA_TTABLE {
        let text = text_at(l, index)
            .filter(|_| ffi::lua_type(l, index) == ffi::LUA_TSTRING)
            .unwrap_or_else(|| "execution failure".to_string());
        return Reply::error_owned(format!("ERR Error running script {name}, {text:.100}"));
    }
    let field = |key: &CStr| -> Option<String> {
        ffi::lua_pushstring_(l, key.as_ptr());
        ffi::lua_rawget(l, index);
        let text = text_at(l, -1);
        ffi::lua_settop(l, -2);
        text
    };
    let mut msg = field(c"err").unwrap_or_default();
    if let (Some(source), Some(line)) = (field(c"source"), field(c"line")) {
        msg.push_str(&format!(" script: {name}, on {source}:{line}."));
    }
    Reply::error_owned(convert::one_line(msg.into_bytes()))
}

/// Lua's own message of an mlua error.
fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(message) => message.clone(),
        mlua::Error::MemoryError(message) => message.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

/// The count hook (Redis's `luaMaskCountHook`).
unsafe extern "C-unwind" fn hook(state: *mut ffi::lua_State, _ar: *mut ffi::lua_Debug) {
    let load_over = LOAD_DEADLINE.with(|d| d.get().is_some_and(|at| Instant::now() >= at));
    let stop = RUN.with(|r| {
        if load_over {
            return Some(c"ERR FUNCTION LOAD timeout");
        }
        let run = r.get();
        // SAFETY: RUN points at the running script's state or is null.
        (!run.is_null()).then(|| unsafe { (*run).tick() }).flatten()
    });
    if let Some(message) = stop {
        // From now on every line raises again, so a pcall cannot swallow it.
        ffi::lua_sethook(state, Some(hook), ffi::LUA_MASKLINE, 0);
        ffi::lua_createtable(state, 0, 1);
        ffi::lua_pushstring(state, message.as_ptr());
        ffi::lua_setfield(state, -2, c"err".as_ptr());
        ffi::lua_error(state);
    }
}

impl RunState<'_> {
    /// The hook's check: the error to stop the script with, if it must stop.
    fn tick(&mut self) -> Option<&'static CStr> {
        if self.restart {
            return Some(c"ERR script restarted under a wider lock");
        }
        if self.busy.is_none()
            && self.threshold_ms > 0
            && self.start.elapsed().as_millis() as u64 >= self.threshold_ms
        {
            tracing::warn!(
                "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {} command. Script name is: {}.",
                self.start.elapsed().as_millis(),
                if self.eval { "SCRIPT KILL" } else { "FUNCTION KILL" },
                self.name
            );
            let busy = Arc::new(BusyScript {
                eval: self.eval,
                name: self.name.to_string(),
                command: self.command.iter().map(|a| a.to_vec()).collect(),
                start: self.start,
                wrote: self.run.wrote.into(),
                kill: false.into(),
            });
            BUSY.enter(busy.clone());
            self.busy = Some(busy);
        }
        if let Some(busy) = &self.busy {
            // SAFETY: the EVAL's context outlives the script.
            let ctx: &Ctx = unsafe { &*self.ctx.cast() };
            super::busy_loop::serve_others(ctx.server, ctx.client.id);
            if busy.kill.load(Ordering::Relaxed) {
                tracing::warn!("Lua script killed by user with SCRIPT KILL.");
                // Redis's text for FUNCTION KILL too.
                return Some(c"ERR Script killed by user with SCRIPT KILL...");
            }
        }
        None
    }
}

/// `f` as a C function that raises the error `f` reports with
/// [`fail`]: raised from a C frame, as Redis's C functions raise theirs,
/// so the script's own frame stays on the stack even after a tail call.
fn raising(lua: &Lua, f: &Function, fail: &Table) -> mlua::Result<Function> {
    // SAFETY: the two pushed values become the closure's upvalues.
    unsafe { lua.exec_raw((f, fail), |l| ffi::lua_pushcclosure(l, raise_failure, 2)) }
}

/// Calls upvalue 1 with the arguments; a result starting with the failure
/// marker (upvalue 2) raises the value after it.
unsafe extern "C-unwind" fn raise_failure(l: *mut ffi::lua_State) -> std::ffi::c_int {
    let results = call_upvalue(l);
    raise_if_failed(l, results)
}

unsafe fn raise_if_failed(l: *mut ffi::lua_State, results: std::ffi::c_int) -> std::ffi::c_int {
    if results >= 2 && ffi::lua_rawequal(l, 1, ffi::lua_upvalueindex(2)) != 0 {
        ffi::lua_settop(l, 2);
        if ffi::lua_type(l, 2) == ffi::LUA_TSTRING {
            // `luaL_error`'s position: where the caller is.
            ffi::luaL_where(l, 1);
            ffi::lua_insert(l, 2);
            ffi::lua_concat(l, 2);
        }
        ffi::lua_error(l);
    }
    results
}

unsafe fn call_upvalue(l: *mut ffi::lua_State) -> std::ffi::c_int {
    let args = ffi::lua_gettop(l);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, args, ffi::LUA_MULTRET);
    ffi::lua_gettop(l)
}

/// The values a native function returns to raise `err`.
fn fail(lua: &Lua, err: Value) -> mlua::Result<MultiValue> {
    let marker: Table = lua.named_registry_value("reddish.fail")?;
    Ok(MultiValue::from_vec(vec![Value::Table(marker), err]))
}

/// `fail` with Redis's error table for `text` (`luaPushError`).
fn fail_with(lua: &Lua, text: &str) -> mlua::Result<MultiValue> {
    let err = convert::error_table(lua, text.as_bytes())?;
    fail(lua, Value::Table(err))
}

/// A plain string error, as `luaL_error` raises from a C function.
pub(super) fn fail_text(lua: &Lua, text: &str) -> mlua::Result<MultiValue> {
    fail(lua, Value::String(lua.create_string(text)?))
}

/// `luaL_argerror`'s error: the function's name as its caller wrote it
/// (`?` when called through `pcall`), `self` not counted in a method call.
pub(super) fn fail_arg(lua: &Lua, narg: usize, extramsg: &str) -> mlua::Result<MultiValue> {
    // Level 0 is this callback, level 1 the raising C function the script called.
    let (name, method) = lua
        .inspect_stack(1, |d| {
            let names = d.names();
            let name = names.name.map(|n| n.into_owned());
            (name, names.name_what == Some("method"))
        })
        .unwrap_or((None, false));
    let name = name.unwrap_or_else(|| "?".into());
    let text = match (method, narg) {
        (true, 1) => format!("calling '{name}' on bad self ({extramsg})"),
        (true, n) => format!("bad argument #{} to '{name}' ({extramsg})", n - 1),
        (false, n) => format!("bad argument #{n} to '{name}' ({extramsg})"),
    };
    fail_text(lua, &text)
}

/// `luaL_typerror`'s text for argument `value` (`luaL_checkstring` and friends).
pub(super) fn type_error_text(expected: &str, value: Option<&Value>) -> String {
    let got = value.map_or("no value", lua_type_name);
    format!("{expected} expected, got {got}")
}

/// Lua 5.1's name of a value's type (`lua_typename`): one `number`, one
/// `userdata`, where mlua tells integers and light userdata apart.
pub(super) fn lua_type_name(value: &Value) -> &'static str {
    match value {
        Value::Integer(_) | Value::Number(_) => "number",
        Value::LightUserData(_) => "userdata",
        other => other.type_name(),
    }
}

/// Argument 1 of `next`/`pairs`/`rawget` as the table it shows: a
/// read-only view's table (sandbox.lua's `protected`, in the registry),
/// as Redis's read-only tables are the tables themselves.
fn viewed_table(lua: &Lua, args: &MultiValue) -> Result<Table, mlua::Result<MultiValue>> {
    let Some(Value::Table(t)) = args.front() else {
        return Err(fail_arg(lua, 1, &type_error_text("table", args.front())));
    };
    let views: Table = lua.named_registry_value("reddish.views").map_err(Err)?;
    Ok(match views.raw_get::<Value>(t) {
        Ok(Value::Table(shown)) => shown,
        _ => t.clone(),
    })
}

/// The scripts' `next`: Lua's, through read-only views.
fn view_next(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let t = match viewed_table(lua, &args) {
        Ok(t) => t,
        Err(failure) => return failure,
    };
    let next: Function = lua.named_registry_value("reddish.real_next")?;
    next.call((t, args.get(1).cloned().unwrap_or(Value::Nil)))
}

/// The scripts' `pairs`: the scripts' `next`, over views too.
fn view_pairs(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    if let Err(failure) = viewed_table(lua, &args) {
        return failure;
    }
    let next: Value = lua.named_registry_value("reddish.view_next")?;
    Ok(MultiValue::from_vec(vec![
        next,
        args[0].clone(),
        Value::Nil,
    ]))
}

/// The scripts' `rawget`, through read-only views.
fn view_rawget(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let t = match viewed_table(lua, &args) {
        Ok(t) => t,
        Err(failure) => return failure,
    };
    if args.len() < 2 {
        return fail_arg(lua, 2, "value expected");
    }
    Ok(MultiValue::from_vec(vec![t.raw_get::<Value>(&args[1])?]))
}

/// `library` with each function made to raise the errors it reports, as
/// the scripts' copies of the libraries are.
pub(super) fn raising_library(lua: &Lua, library: &Table) -> mlua::Result<Table> {
    let fail: Table = lua.named_registry_value("reddish.fail")?;
    let wrapped = lua.create_table()?;
    for pair in library.pairs::<Value, Value>() {
        let (k, v) = pair?;
        match v {
            Value::Function(f) => wrapped.set(k, raising(lua, &f, &fail)?)?,
            v => wrapped.set(k, v)?,
        }
    }
    Ok(wrapped)
}

fn with_run<R>(f: impl FnOnce(&mut RunState<'static>) -> R) -> Option<R> {
    RUN.with(|r| {
        let run = r.get();
        // SAFETY: set only while the script that owns it runs on this thread.
        (!run.is_null()).then(|| f(unsafe { &mut *run }))
    })
}

/// `redis.call`: the command's reply, its error raised (Redis's
/// `luaRedisCallCommand`).
unsafe extern "C-unwind" fn redis_call(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: `call_command` returns with no Rust value alive and its
    // result (here the error table) on top: the error unwinds past no
    // destructor.
    if unsafe { call_command(l) } {
        unsafe { ffi::lua_error(l) };
    }
    1
}

/// `redis.pcall`: the reply or the error table (Redis's
/// `luaRedisPCallCommand`).
unsafe extern "C-unwind" fn redis_pcall(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: as `redis_call`'s.
    unsafe { call_command(l) };
    1
}

/// What a `redis.call` came to.
enum CallOutcome {
    /// The command ran: its reply, in the script's protocol (RESP3 when true).
    Ran(Reply, bool),
    /// Redis refused to run it (`scriptCall`'s errors, counted already).
    Refused(std::borrow::Cow<'static, str>),
    /// The call itself was wrong.
    Failed(&'static str),
}

/// Runs the command whose arguments are on `l`'s stack and leaves one
/// value in their place: the reply, or the error table. True when that is
/// an error the call raises.
///
/// # Safety
/// `l` is the state of a C function call. While the reply is pushed (the
/// only part that could raise, and only when Lua cannot allocate) no
/// value with a destructor is alive in this frame: the outcome is held
/// in `ManuallyDrop` and dropped after.
unsafe fn call_command(l: *mut ffi::lua_State) -> bool {
    let outcome = ManuallyDrop::new(run_command(l));
    // Redis pops the arguments first: the reply has the stack's room.
    ffi::lua_settop(l, 0);
    let failed = match &*outcome {
        CallOutcome::Ran(reply, resp3) => {
            convert::push_reply(l, reply, *resp3);
            reply.is_error()
        }
        CallOutcome::Refused(text) => {
            convert::push_error_table(l, text.as_bytes());
            ffi::lua_pushboolean(l, 1);
            convert::set_field(l, c"ignore_error_stats_update");
            true
        }
        CallOutcome::Failed(text) => {
            convert::push_error_table(l, text.as_bytes());
            true
        }
    };
    drop(ManuallyDrop::into_inner(outcome));
    failed
}

/// Reads the arguments off the stack (strings as they are, numbers as
/// Redis formats them, `%.17g`) and runs the command; leaves the stack.
unsafe fn run_command(l: *mut ffi::lua_State) -> CallOutcome {
    let count = ffi::lua_gettop(l);
    if count == 0 {
        return CallOutcome::Failed("Please specify at least one argument for this redis lib call");
    }
    // Where each argument is: in a Lua string on the stack (which stays
    // there until the command ran), or formatted into `numbers`.
    enum Span {
        Lua(*const u8, usize),
        Number(usize, usize),
    }
    let mut spans: SmallVec<[Span; 16]> = SmallVec::new();
    let mut numbers = Vec::new();
    for i in 1..=count {
        match ffi::lua_type(l, i) {
            ffi::LUA_TSTRING => {
                let mut len = 0;
                let ptr = ffi::lua_tolstring(l, i, &mut len);
                spans.push(Span::Lua(ptr.cast(), len));
            }
            ffi::LUA_TNUMBER => {
                let start = numbers.len();
                crate::number::format_double(ffi::lua_tonumber(l, i), &mut numbers);
                spans.push(Span::Number(start, numbers.len()));
            }
            _ => {
                return CallOutcome::Failed(
                    "Lua redis lib command arguments must be strings or integers",
                )
            }
        }
    }
    let args: SmallVec<[&[u8]; 16]> = spans
        .iter()
        .map(|span| match *span {
            // SAFETY: the string is on the stack, untouched until the
            // command ran.
            Span::Lua(ptr, len) => unsafe { std::slice::from_raw_parts(ptr, len) },
            Span::Number(start, end) => &numbers[start..end],
        })
        .collect();
    let outcome = with_run(|run| {
        if run.restart {
            return Err("ERR script restarted under a wider lock");
        }
        // SAFETY: the EVAL's context outlives the script.
        let ctx: &mut Ctx = unsafe { &mut *run.ctx.cast() };
        std::mem::swap(&mut ctx.client.db, &mut run.db);
        let caller_resp = std::mem::replace(&mut ctx.client.resp, run.resp);
        let ops = ctx.guard().ops_len();
        let mut result = script_call(ctx, &args, &mut run.run);
        if matches!(result, Err(ScriptRefusal::Undeclared)) {
            if run.can_restart && !run.run.wrote {
                run.restart = true;
                // SAFETY: the main state runs the script; the hook stops it.
                unsafe { ffi::lua_sethook(run.state, Some(hook), ffi::LUA_MASKCOUNT, 1) };
            } else {
                result = wait_for_shards(ctx, &args, &mut run.run);
            }
        }
        if run.repl != Target::ALL {
            ctx.guard().restrict_ops_since(ops, run.repl);
        }
        ctx.client.resp = caller_resp;
        std::mem::swap(&mut ctx.client.db, &mut run.db);
        if let Some(busy) = &run.busy {
            busy.wrote.store(run.run.wrote, Ordering::Relaxed);
        }
        if run.restart {
            return Err("ERR script restarted under a wider lock");
        }
        Ok((result, run.resp == Resp::V3))
    });
    match outcome {
        None => {
            CallOutcome::Failed("redis.call/pcall can only be called inside a script invocation")
        }
        Some(Err(text)) => CallOutcome::Failed(text),
        Some(Ok((Ok(reply), resp3))) => CallOutcome::Ran(reply, resp3),
        Some(Ok((Err(ScriptRefusal::Error(text)), _))) => CallOutcome::Refused(text),
        Some(Ok((Err(ScriptRefusal::Undeclared), _))) => CallOutcome::Failed(
            "ERR script reached a key it did not declare while another client held it",
        ),
    }
}

/// A script that already wrote reached a key outside its guard that
/// another client holds: waiting for the shard could deadlock, so it is
/// tried again for up to a second, then the command fails.
fn wait_for_shards(
    ctx: &mut Ctx,
    args: &[&[u8]],
    run: &mut ScriptRun,
) -> Result<Reply, ScriptRefusal> {
    let deadline = Instant::now() + std::time::Duration::from_secs(1);
    loop {
        std::thread::yield_now();
        let result = script_call(ctx, args, run);
        if !matches!(result, Err(ScriptRefusal::Undeclared)) || Instant::now() >= deadline {
            return result;
        }
    }
}

fn single_string(args: &MultiValue) -> Option<mlua::LuaString> {
    match (args.len(), args.front()) {
        (1, Some(Value::String(s))) => Some(s.clone()),
        _ => None,
    }
}

/// `redis.error_reply(msg)`: `{err=msg}` with Redis's code handling.
fn error_reply(lua: &Lua, args: MultiValue) -> mlua::Result<Table> {
    let Some(s) = single_string(&args) else {
        return convert::error_table(lua, b"wrong number or type of arguments");
    };
    let mut text = s.as_bytes().to_vec();
    if text.first() != Some(&b'-') {
        text.insert(0, b'-');
    }
    convert::error_table(lua, &text)
}

/// `redis.status_reply(msg)`: `{ok=msg}`.
fn status_reply(lua: &Lua, args: MultiValue) -> mlua::Result<Table> {
    let Some(s) = single_string(&args) else {
        return convert::error_table(lua, b"wrong number or type of arguments");
    };
    let t = lua.create_table()?;
    t.raw_set("ok", s)?;
    Ok(t)
}

/// Lua's `tostring` of a string or number argument (`lua_tolstring`).
fn lua_text(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(n) => Some(n.to_string().into_bytes()),
        Value::Number(n) => Some(crate::number::format_lua_number(*n).into_bytes()),
        _ => None,
    }
}

fn lua_number(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => std::str::from_utf8(&s.as_bytes()).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn sha1hex(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    if args.len() != 1 {
        return fail_with(lua, "wrong number of arguments");
    }
    let body = args.front().and_then(lua_text).unwrap_or_default();
    let hex = super::sha1hex(&body);
    Ok(MultiValue::from_vec(vec![Value::String(
        lua.create_string(hex)?,
    )]))
}

fn log(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    if args.len() < 2 {
        return fail_with(lua, "redis.log() requires two arguments or more.");
    }
    let Some(level) = args.front().and_then(lua_number) else {
        return fail_with(lua, "First argument must be a number (log level).");
    };
    let level = level as i64;
    if !(0..=3).contains(&level) {
        return fail_with(lua, "Invalid debug level.");
    }
    let parts: Vec<Vec<u8>> = args.iter().skip(1).filter_map(lua_text).collect();
    let line = String::from_utf8_lossy(&parts.join(&b' ')).into_owned();
    match level {
        0 => tracing::trace!("{line}"),
        1 => tracing::debug!("{line}"),
        2 => tracing::info!("{line}"),
        _ => tracing::warn!("{line}"),
    }
    Ok(MultiValue::new())
}

fn setresp(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    if with_run(|_| ()).is_none() {
        return fail_with(
            lua,
            "redis.setresp can only be called inside a script invocation",
        );
    }
    if args.len() != 1 {
        return fail_with(lua, "redis.setresp() requires one argument.");
    }
    let resp = match args.front().and_then(lua_number).map(|n| n as i64) {
        Some(2) => Resp::V2,
        Some(3) => Resp::V3,
        _ => return fail_with(lua, "RESP version must be 2 or 3."),
    };
    with_run(|run| run.resp = resp);
    Ok(MultiValue::new())
}

fn set_repl(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    if with_run(|_| ()).is_none() {
        return fail_with(
            lua,
            "redis.set_repl can only be called inside a script invocation",
        );
    }
    if args.len() != 1 {
        return fail_with(lua, "redis.set_repl() requires two arguments.");
    }
    let flags = args.front().and_then(lua_number).unwrap_or(0.0) as i64;
    if flags & !3 != 0 {
        return fail_with(
            lua,
            "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        );
    }
    with_run(|run| run.repl = Target::from_bits(flags as u8));
    Ok(MultiValue::new())
}

/// `redis.acl_check_cmd`: whether the script's user may run the command
/// with these arguments (Redis's `ACLCheckAllUserCommandPerm`); an
/// unknown command is an error.
fn acl_check_cmd(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let allowed = with_run(|run| {
        let mut argv: Vec<Vec<u8>> = args.iter().filter_map(lua_text).collect();
        // SAFETY: the EVAL's context outlives the script.
        let ctx: &mut Ctx = unsafe { &mut *run.ctx.cast() };
        if argv.is_empty() {
            return None;
        }
        let cmd = {
            let names: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            ctx.server.commands.lookup(&names).ok()?
        };
        // Too few arguments for the command: the key positions it declares
        // are checked as empty names rather than read past the end.
        let least = cmd.arity.unsigned_abs() as usize;
        if argv.len() < least {
            argv.resize(least, Vec::new());
        }
        let argv: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        let user = ctx.client.permissions(&ctx.server.acl);
        Some(crate::acl::check(user, cmd, &argv).is_ok())
    });
    match allowed {
        None => fail_with(
            lua,
            "redis.acl_check_cmd can only be called inside a script invocation",
        ),
        Some(None) if args.is_empty() => fail_with(
            lua,
            "Please specify at least one argument for this redis lib call",
        ),
        Some(None) => fail_with(lua, "Invalid command passed to redis.acl_check_cmd()"),
        Some(Some(allowed)) => Ok(MultiValue::from_vec(vec![Value::Boolean(allowed)])),
    }
}

thread_local! {
    /// Redis's `rand48` state (`redisLrand48`): one per Lua state's thread.
    static RAND48: Cell<u64> = const { Cell::new(0x1234_ABCD_330E) };
}

/// Redis's `redisLrand48`: 31 random bits.
fn lrand48() -> i64 {
    RAND48.with(|x| {
        let next = (x.get().wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & ((1 << 48) - 1);
        x.set(next);
        (next >> 17) as i64
    })
}

fn random(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    if with_run(|_| ()).is_none() {
        return fail_text(
            lua,
            "math.random can only be called inside a script invocation",
        );
    }
    const MAX: i64 = i32::MAX as i64;
    let r = (lrand48() % MAX) as f64 / MAX as f64;
    let int = |i: usize| args.get(i).and_then(lua_number).map(|n| n as i64);
    let value = match args.len() {
        0 => r,
        1 => {
            let Some(u) = int(0) else {
                return fail_text(lua, "bad argument #1 to 'random' (number expected)");
            };
            if u < 1 {
                return fail_text(lua, "bad argument #1 to 'random' (interval is empty)");
            }
            (r * u as f64).floor() + 1.0
        }
        2 => {
            let (Some(l), Some(u)) = (int(0), int(1)) else {
                return fail_text(lua, "bad argument to 'random' (number expected)");
            };
            if l > u {
                return fail_text(lua, "bad argument #2 to 'random' (interval is empty)");
            }
            (r * (u - l + 1) as f64).floor() + l as f64
        }
        _ => return fail_text(lua, "wrong number of arguments"),
    };
    Ok(MultiValue::from_vec(vec![Value::Number(value)]))
}

fn randomseed(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    if with_run(|_| ()).is_none() {
        return fail_text(
            lua,
            "math.randomseed can only be called inside a script invocation",
        );
    }
    let Some(seed) = args.front().and_then(lua_number) else {
        return fail_text(
            lua,
            "bad argument #1 to 'randomseed' (number expected, got no value)",
        );
    };
    let seed = seed as i64 as i32 as u32 as u64;
    RAND48.with(|x| x.set((seed << 16) | 0x330E));
    Ok(MultiValue::new())
}

/// Redis's function names: letters, digits and underscores, at least one.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// `redis.register_function(name, callback)` or
/// `redis.register_function{function_name=, callback=, flags=, description=}`.
fn register_function(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    if LOADING.with(|l| l.borrow().is_none()) {
        return fail_with(
            lua,
            "redis.register_function can only be called on FUNCTION LOAD command",
        );
    }
    let read = || -> Result<Registered, &'static str> {
        match args.len() {
            1 => {
                let Some(Value::Table(t)) = args.front() else {
                    return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
                };
                let (mut name, mut callback, mut description, mut flags) =
                    (None, None, None, super::ScriptFlags::default());
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair.map_err(|_| {
                        "named argument key given to redis.register_function is not a string"
                    })?;
                    let key = match &k {
                        Value::String(s) => s.to_string_lossy().to_ascii_lowercase(),
                        _ => return Err(
                            "named argument key given to redis.register_function is not a string",
                        ),
                    };
                    match key.as_str() {
                        "function_name" => {
                            name = Some(lua_text(&v).ok_or("function_name argument given to redis.register_function must be a string")?)
                        }
                        "description" => {
                            description = Some(lua_text(&v).ok_or("description argument given to redis.register_function must be a string")?)
                        }
                        "callback" => match v {
                            Value::Function(f) => callback = Some(f),
                            _ => return Err("callback argument given to redis.register_function must be a function"),
                        },
                        "flags" => {
                            let Value::Table(list) = v else {
                                return Err("flags argument to redis.register_function must be a table representing function flags");
                            };
                            for flag in list.sequence_values::<Value>() {
                                let flag = flag.ok().as_ref().and_then(lua_text).ok_or("unknown flag given")?;
                                let lower = flag.to_ascii_lowercase();
                                flags.insert(super::flag_named(&lower).ok_or("unknown flag given")?);
                            }
                        }
                        _ => return Err("unknown argument given to redis.register_function"),
                    }
                }
                let name =
                    name.ok_or("redis.register_function must get a function name argument")?;
                let callback =
                    callback.ok_or("redis.register_function must get a callback argument")?;
                Ok(Registered {
                    name: String::from_utf8_lossy(&name).into_owned(),
                    callback,
                    description: description.map(|d| String::from_utf8_lossy(&d).into_owned()),
                    flags,
                })
            }
            2 => {
                let name = args
                    .front()
                    .and_then(lua_text)
                    .ok_or("first argument to redis.register_function must be a string")?;
                let Some(Value::Function(callback)) = args.get(1) else {
                    return Err("second argument to redis.register_function must be a function");
                };
                Ok(Registered {
                    name: String::from_utf8_lossy(&name).into_owned(),
                    callback: callback.clone(),
                    description: None,
                    flags: super::ScriptFlags::default(),
                })
            }
            _ => Err("wrong number of arguments to redis.register_function"),
        }
    };
    let registered = match read() {
        Ok(r) => r,
        Err(e) => return fail_with(lua, e),
    };
    if !valid_name(registered.name.as_bytes()) {
        return fail_with(lua, "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long");
    }
    let duplicate = LOADING.with(|l| {
        let mut l = l.borrow_mut();
        let list = l.get_or_insert_with(Vec::new);
        if list.iter().any(|r| r.name == registered.name) {
            return true;
        }
        list.push(registered);
        false
    });
    if duplicate {
        return fail_with(lua, "Function already exists in the library");
    }
    Ok(MultiValue::new())
}
