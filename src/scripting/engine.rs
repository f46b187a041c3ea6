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

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::CStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use mlua::{ffi, Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};

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
    /// The table the scripts' globals are read from (KEYS and ARGV go here).
    globals: Table,
    /// `xpcall(f, handler)`.
    run: Function,
    /// `xpcall(function() return f(keys, args) end, handler)`.
    run_with: Function,
    /// Switches the globals to the library API while FUNCTION LOAD runs.
    set_loading: Function,
    /// The functions of the libraries, compiled in this state, as of
    /// `functions_epoch`.
    functions: HashMap<String, Function>,
    functions_epoch: Option<u64>,
    /// The script cache epoch this state was made in.
    epoch: u64,
    /// Scripts compiled in this state.
    compiled: HashMap<[u8; 40], Function>,
    /// The main `lua_State`, for the hook.
    state: *mut ffi::lua_State,
}

thread_local! {
    /// When the library FUNCTION LOAD is running must be done by (Redis
    /// gives a load 500 ms).
    static LOAD_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The functions registered by the library FUNCTION LOAD is running.
    static LOADING: RefCell<Option<Vec<Registered>>> = const { RefCell::new(None) };
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
    /// The script running on this thread, for `redis.*` and the hook.
    static RUN: Cell<*mut RunState> = const { Cell::new(std::ptr::null_mut()) };
}

/// A script invocation (Redis's `scriptRunCtx`).
struct RunState {
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
    name: String,
    /// The command running it (FUNCTION STATS), until it goes busy.
    command: Vec<Vec<u8>>,
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
        let call = lua.create_function(redis_call)?;
        native.set("call", raising_packed(&lua, &call, &fail)?)?;
        native.set("pcall", returning_error_packed(&lua, &call, &fail)?)?;
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
        let (env, globals, run, run_with, set_loading): (
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
            lua,
            globals,
            run,
            run_with,
            set_loading,
            functions: HashMap::new(),
            functions_epoch: None,
            epoch,
            compiled: HashMap::new(),
            state,
        })
    }

    /// The compiled function of `script` in this state.
    fn function(&mut self, script: &Script) -> Result<Function, String> {
        if let Some(f) = self.compiled.get(&script.sha) {
            return Ok(f.clone());
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
        self.compiled.insert(script.sha, f.clone());
        Ok(f)
    }

    /// A library function compiled in this state (the libraries are
    /// loaded here again after any change to them).
    fn library_function(&mut self, name: &str) -> Result<Function, String> {
        let epoch = super::functions::LIBRARIES.epoch();
        if self.functions_epoch != Some(epoch) {
            self.functions.clear();
            for code in super::functions::LIBRARIES.codes() {
                if let Ok(registered) = self.load(&code) {
                    for r in registered {
                        self.functions
                            .insert(r.name.to_ascii_lowercase(), r.callback);
                    }
                }
            }
            self.functions_epoch = Some(epoch);
        }
        self.functions
            .get(&name.to_ascii_lowercase())
            .cloned()
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
        let lua = self.lua.clone();
        let array = |items: &[&[u8]]| -> mlua::Result<Table> {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, lua.create_string(item)?)?;
            }
            Ok(t)
        };
        let prepared = match inv.callee {
            Callee::Script(script) => self.function(script).and_then(|f| {
                let globals = self.globals.clone();
                let set = |name: &str, items| globals.raw_set(name, array(items)?);
                set("KEYS", inv.keys)
                    .and_then(|()| set("ARGV", inv.args))
                    .map_err(|e| lua_error_text(&e))?;
                let name = String::from_utf8_lossy(&script.sha).into_owned();
                Ok((
                    name,
                    self.run.clone(),
                    MultiValue::from_vec(vec![Value::Function(f)]),
                ))
            }),
            Callee::Function(name) => self.library_function(name).and_then(|f| {
                let keys = array(inv.keys).map_err(|e| lua_error_text(&e))?;
                let args = array(inv.args).map_err(|e| lua_error_text(&e))?;
                let values = vec![Value::Function(f), Value::Table(keys), Value::Table(args)];
                Ok((
                    name.to_string(),
                    self.run_with.clone(),
                    MultiValue::from_vec(values),
                ))
            }),
        };
        let (name, runner, values) = match prepared {
            Ok(p) => p,
            Err(e) => return Outcome::Reply(Reply::error_owned(format!("ERR {e}"))),
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
            command: inv.command.iter().map(|a| a.to_vec()).collect(),
            name,
            restart: false,
            can_restart: inv.can_restart,
            state: self.state,
        };
        ctx.client.in_script = true;
        RUN.with(|r| r.set(&mut state));
        // SAFETY: the hook reads `RUN`, set for exactly this call.
        unsafe { ffi::lua_sethook(self.state, Some(hook), ffi::LUA_MASKCOUNT, HOOK_EVERY) };
        let result = runner.call::<MultiValue>(values);
        unsafe { ffi::lua_sethook(self.state, None, 0, 0) };
        RUN.with(|r| r.set(std::ptr::null_mut()));
        // `state` holds no borrow of `ctx` any more.
        let ctx: &mut Ctx = unsafe { &mut *state.ctx.cast() };
        ctx.client.in_script = false;
        if let Some(busy) = state.busy.take() {
            BUSY.leave(&busy);
            super::busy_loop::script_ended();
        }
        let _ = self.globals.raw_set("KEYS", Value::Nil);
        let _ = self.globals.raw_set("ARGV", Value::Nil);
        if state.restart {
            return Outcome::Restart;
        }
        inv.hint.learn(state.run.strayed);
        if state.run.read {
            crate::commands::remember_script_keys(ctx, inv.keys);
        }
        let resp3 = state.resp == Resp::V3;
        let mut counted = false;
        let reply = match result {
            Ok(values) => {
                let mut values = values.into_iter();
                match values.next() {
                    Some(Value::Boolean(true)) => {
                        let value = values.next().unwrap_or(Value::Nil);
                        counted = error_counted(&value);
                        convert::lua_to_reply(value, resp3)
                    }
                    Some(err) => {
                        let err = values.next().unwrap_or(err);
                        counted = error_counted(&err);
                        script_error(err, &state.name)
                    }
                    None => Reply::Null,
                }
            }
            Err(e) => Reply::error_owned(format!(
                "ERR Error running script {}, {:.100}",
                state.name,
                lua_error_text(&e)
            )),
        };
        ctx.client.error_counted = counted && reply.is_error();
        Outcome::Reply(reply)
    }
}

/// Whether an error table came from a command of the script, whose error
/// the stats counted already (Redis's `ignore_error_stats_update` field):
/// the script's error reply then counts as a failed call only.
fn error_counted(value: &Value) -> bool {
    matches!(value, Value::Table(t) if t.raw_get::<bool>("ignore_error_stats_update").unwrap_or(false))
}

/// The error reply of a script that failed (Redis's `luaCallFunction`):
/// `<err> script: <name>, on <source>:<line>.`
fn script_error(err: Value, name: &str) -> Reply {
    let Value::Table(t) = err else {
        let text = match &err {
            Value::String(s) => s.to_string_lossy(),
            _ => "execution failure".to_string(),
        };
        return Reply::error_owned(format!("ERR Error running script {name}, {text:.100}"));
    };
    let text = |key: &str| -> Option<String> {
        match t.raw_get::<Value>(key).ok()? {
            Value::String(s) => Some(s.to_string_lossy()),
            Value::Integer(n) => Some(n.to_string()),
            Value::Number(n) => Some(crate::number::format_lua_number(n)),
            _ => None,
        }
    };
    let mut msg = text("err").unwrap_or_default();
    if let (Some(source), Some(line)) = (text("source"), text("line")) {
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

impl RunState {
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
                name: self.name.clone(),
                command: std::mem::take(&mut self.command),
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
    closure(lua, f, fail, raise_failure)
}

/// [`raising`] for a function taking its arguments packed in one table.
fn raising_packed(lua: &Lua, f: &Function, fail: &Table) -> mlua::Result<Function> {
    closure(lua, f, fail, raise_failure_packed)
}

/// `f` as a C function that returns the error `f` reports instead
/// (`redis.pcall`), its arguments packed.
fn returning_error_packed(lua: &Lua, f: &Function, fail: &Table) -> mlua::Result<Function> {
    closure(lua, f, fail, return_failure_packed)
}

fn closure(lua: &Lua, f: &Function, fail: &Table, c: ffi::lua_CFunction) -> mlua::Result<Function> {
    // SAFETY: the two pushed values become the closure's upvalues.
    unsafe { lua.exec_raw((f, fail), |l| ffi::lua_pushcclosure(l, c, 2)) }
}

/// Calls upvalue 1 with the arguments; a result starting with the failure
/// marker (upvalue 2) raises the value after it.
unsafe extern "C-unwind" fn raise_failure(l: *mut ffi::lua_State) -> std::ffi::c_int {
    let results = call_upvalue(l);
    raise_if_failed(l, results)
}

/// [`raise_failure`] for `redis.call`, whose arguments reach it packed in
/// one table ([`call_upvalue_packed`]).
unsafe extern "C-unwind" fn raise_failure_packed(l: *mut ffi::lua_State) -> std::ffi::c_int {
    let results = call_upvalue_packed(l);
    raise_if_failed(l, results)
}

/// As [`raise_failure_packed`], but returns the error (`redis.pcall`).
unsafe extern "C-unwind" fn return_failure_packed(l: *mut ffi::lua_State) -> std::ffi::c_int {
    let results = call_upvalue_packed(l);
    return_if_failed(l, results)
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

unsafe fn return_if_failed(l: *mut ffi::lua_State, results: std::ffi::c_int) -> std::ffi::c_int {
    if results >= 2 && ffi::lua_rawequal(l, 1, ffi::lua_upvalueindex(2)) != 0 {
        ffi::lua_settop(l, 2);
        ffi::lua_remove(l, 1);
        return 1;
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

/// Calls upvalue 1 with the arguments packed in one table (`n` their
/// count): a command may have as many arguments as a C function can take
/// (`unpack` of nearly 8,000), which would leave a callback no stack room.
unsafe fn call_upvalue_packed(l: *mut ffi::lua_State) -> std::ffi::c_int {
    let args = ffi::lua_gettop(l);
    ffi::lua_createtable(l, args, 1);
    for i in 1..=args {
        ffi::lua_pushvalue(l, i);
        ffi::lua_rawseti(l, -2, i.into());
    }
    ffi::lua_pushinteger(l, args as ffi::lua_Integer);
    ffi::lua_setfield(l, -2, c"n".as_ptr());
    ffi::lua_insert(l, 1);
    ffi::lua_settop(l, 1);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, 1, ffi::LUA_MULTRET);
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

fn with_run<R>(f: impl FnOnce(&mut RunState) -> R) -> Option<R> {
    RUN.with(|r| {
        let run = r.get();
        // SAFETY: set only while the script that owns it runs on this thread.
        (!run.is_null()).then(|| f(unsafe { &mut *run }))
    })
}

/// `redis.call` / `redis.pcall`: the reply, or [`fail`] with the error table.
fn redis_call(lua: &Lua, packed: Table) -> mlua::Result<MultiValue> {
    let err = |text: &str| fail_with(lua, text);
    let count: usize = packed.raw_get("n").unwrap_or(0);
    let mut argv: Vec<Vec<u8>> = Vec::with_capacity(count);
    if count == 0 {
        return err("Please specify at least one argument for this redis lib call");
    }
    for i in 1..=count {
        match &packed.raw_get::<Value>(i)? {
            Value::String(s) => argv.push(s.as_bytes().to_vec()),
            Value::Integer(n) => argv.push(n.to_string().into_bytes()),
            Value::Number(n) => {
                let mut out = Vec::new();
                crate::number::format_double(*n, &mut out);
                argv.push(out);
            }
            _ => return err("Lua redis lib command arguments must be strings or integers"),
        }
    }
    let outcome = with_run(|run| {
        if run.restart {
            return Err(Some("ERR script restarted under a wider lock"));
        }
        let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
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
            return Err(Some("ERR script restarted under a wider lock"));
        }
        Ok((result, run.resp == Resp::V3))
    });
    match outcome {
        None => err("redis.call/pcall can only be called inside a script invocation"),
        Some(Err(text)) => err(text.unwrap_or_default()),
        Some(Ok((Ok(reply), resp3))) => {
            let value = convert::reply_to_lua(lua, &reply, resp3)?;
            if reply.is_error() {
                fail(lua, value)
            } else {
                Ok(MultiValue::from_vec(vec![value]))
            }
        }
        Some(Ok((Err(ScriptRefusal::Error(text)), _))) => {
            let t = convert::error_table(lua, text.as_bytes())?;
            t.raw_set("ignore_error_stats_update", true)?;
            fail(lua, Value::Table(t))
        }
        Some(Ok((Err(ScriptRefusal::Undeclared), _))) => {
            err("ERR script reached a key it did not declare while another client held it")
        }
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
