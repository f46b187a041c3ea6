-- The scripting environment, set up once per Lua state (see engine.rs).
-- Runs with the whole base library; what it leaves reachable is what
-- Redis 7.0's scripts can reach. Lua 5.1 has no read-only tables (Redis
-- patches its Lua for them), so globals and libraries are read-only
-- proxies here, and the functions that could write past a proxy
-- (setmetatable, rawset) refuse to.
local native = ...
local real_G = _G
local dbg = debug
local error, type, tostring, rawget, rawset = error, type, tostring, rawget, rawset
local setmetatable, getmetatable = setmetatable, getmetatable
local real_pcall, real_loadstring = pcall, loadstring

local READONLY = "Attempt to modify a readonly table"
-- Each read-only view (and view of a view's metatable), to the table it
-- shows: pairs, next and rawget look through a view, as they see Redis's
-- read-only tables, which are the tables themselves.
local protected = setmetatable({}, { __mode = "k" })

local function refuse_write()
    error(READONLY, 2)
end

-- A read-only view of `t`. Its metatable is itself behind a view, so
-- getmetatable(view).__index = ... fails as in Redis.
local function readonly(t, index)
    local mt = { __index = index or t, __newindex = refuse_write }
    local mt_view = setmetatable({}, { __index = mt, __newindex = refuse_write, __metatable = false })
    protected[mt_view] = mt
    mt.__metatable = mt_view
    local view = setmetatable({}, mt)
    protected[view] = t
    return view
end

-- pairs, next and rawget (native, so errors point at the script's line
-- and name the function as it was called) look through the views.
native.set_views(protected, next, native.next)

-- redis.*
-- (The native functions raise their errors from C, so a script's frame
-- is never lost to a tail call and errors point at its line, as in Redis.)
local redis = {
    call = native.call,
    pcall = native.pcall,
    error_reply = native.error_reply,
    status_reply = native.status_reply,
    sha1hex = native.sha1hex,
    log = native.log,
    setresp = native.setresp,
    set_repl = native.set_repl,
    acl_check_cmd = native.acl_check_cmd,
    replicate_commands = function() return true end,
    breakpoint = function() return false end,
    debug = function() end,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
    REDIS_VERSION = native.version,
    REDIS_VERSION_NUM = native.version_num,
}

-- Redis's pcall: an error table comes back as its `err` string.
local function pcall_result(ok, ...)
    if not ok then
        local e = ...
        if type(e) == "table" and type(rawget(e, "err")) == "string" then
            return false, rawget(e, "err")
        end
    end
    return ok, ...
end

local function redis_pcall(f, ...)
    return pcall_result(real_pcall(f, ...))
end

-- Bytecode is refused (Redis's Lua refuses binary chunks).
local function safe_loadstring(s, name)
    if type(s) == "string" and s:byte(1) == 27 then
        return nil, "binary chunks are not supported"
    end
    return real_loadstring(s, name)
end

local function safe_setmetatable(t, mt)
    if protected[t] then
        error(READONLY, 0)
    end
    return setmetatable(t, mt)
end

local function safe_rawset(t, k, v)
    if protected[t] then
        error(READONLY, 0)
    end
    return rawset(t, k, v)
end

-- Strings' methods come from their metatable's __index: the read-only
-- string view, and scripts get a read-only view of that metatable.
local string_view = readonly(string)
local string_mt = getmetatable("")
string_mt.__index = string_view
local string_mt_view = readonly(string_mt)

local function safe_getmetatable(...)
    if type((...)) == "string" then
        return string_mt_view
    end
    return getmetatable(...)
end

local math_view = {}
for k, v in pairs(math) do math_view[k] = v end
math_view.random = native.random
math_view.randomseed = native.randomseed

-- The globals scripts see: everything else is gone.
local globals = {
    xpcall = xpcall, tostring = tostring, setmetatable = safe_setmetatable,
    next = native.next, assert = assert, tonumber = tonumber, rawequal = rawequal,
    collectgarbage = collectgarbage, getmetatable = safe_getmetatable, rawset = safe_rawset,
    pcall = redis_pcall, coroutine = readonly(coroutine), type = type, select = select,
    unpack = unpack, gcinfo = gcinfo, pairs = native.pairs, rawget = native.rawget,
    loadstring = safe_loadstring, ipairs = ipairs, _VERSION = _VERSION,
    load = load, error = error,
    string = string_view, table = readonly(table), math = readonly(math_view),
    cjson = readonly(native.cjson), cmsgpack = readonly(native.cmsgpack),
    bit = readonly(native.bit), struct = readonly(native.struct),
    redis = readonly(redis),
}

-- A name missing from the globals (or from the library API) is an error;
-- KEYS and ARGV are set by the server.
local function missing_global(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end
local strict = { __index = missing_global }
setmetatable(globals, strict)

local library_api = setmetatable({
    register_function = native.register_function,
    log = native.log,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION = native.version,
    REDIS_VERSION_NUM = native.version_num,
}, strict)
local load_globals = setmetatable({ redis = readonly(library_api) }, strict)

-- The globals' view indexes the table itself, whose metatable raises for
-- a missing name: a script's global lookup is two table reads, with no
-- Lua function called (Redis's globals are a plain table too).
local env = readonly(globals)
local env_mt = protected[getmetatable(env)]

-- What globals resolve to: the scripts' globals, or while FUNCTION LOAD
-- runs a library, only the library API (as Redis swaps its globals'
-- __index).
local function set_loading(on)
    env_mt.__index = on and load_globals or globals
end

globals._G = env

-- The error handler of every script call: the error as a table with
-- `err`, and where the script was (the first frame that is neither a C
-- function nor this file).
local function handler(err)
    if type(err) ~= "table" then
        err = { err = "ERR " .. tostring(err) }
    end
    local level = 2
    local info = dbg.getinfo(level, "nSl")
    if info and info.what == "C" then
        level = level + 1
        info = dbg.getinfo(level, "nSl")
    end
    while info and (info.source == "@sandbox" or info.what == "tail") do
        level = level + 1
        info = dbg.getinfo(level, "nSl")
    end
    if info then
        err.source = info.source
        err.line = info.currentline
    end
    return err
end

-- Scripts see it as Redis's globals have it.
globals.__redis__err__handler = handler

local xpcall = xpcall

-- Runs a library's code (FUNCTION LOAD): true, or false and an error table.
local function run(f)
    return xpcall(f, handler)
end

-- Scripts and functions run through lua_pcall with `handler` (engine.rs).
return env, globals, handler, run, set_loading
