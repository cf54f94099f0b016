-- Builds the environment an uploaded schema runs in. Trusted code, run once per fresh VM
-- before any uploaded chunk. Receives the real globals' pieces it needs, returns the env.
local raw, expired, null, noop, memory_hit = ...
local pairs, error, tostring, setmetatable, select = raw.pairs, raw.error, raw.tostring, raw.setmetatable, raw.select
local raw_pcall = raw.pcall

-- A read-only view of a library: writes fail as in Kong's sandbox
-- (kong/tools/sandbox/environment/init.lua), and its metatable cannot be reached.
local function readonly(name, lib, allowed)
  local copy = {}
  for _, key in pairs(allowed) do copy[key] = lib[key] end
  return setmetatable({}, {
    __index = copy,
    __newindex = function(_, key)
      error("Cannot modify " .. name .. "." .. tostring(key) .. ". Protected by the sandbox.", 2)
    end,
    __metatable = false,
  })
end

-- LuaJIT's text for a failed allocation (LJ_ERR_ERRMEM), here the memory limit.
local OUT_OF_MEMORY = "not enough memory"

-- After the deadline the hook keeps raising, but pcall would swallow it: re-raise. A
-- memory error pcall caught is still counted as a limit hit.
local function unless_expired(ok, ...)
  if expired() then error("konnektd: Lua time limit exceeded", 0) end
  if not ok and ... == OUT_OF_MEMORY then memory_hit() end
  return ok, ...
end

local env = {
  _VERSION = raw._VERSION,
  assert = raw.assert, error = raw.error, ipairs = raw.ipairs, next = raw.next,
  pairs = raw.pairs, rawequal = raw.rawequal, rawget = raw.rawget, select = select,
  tonumber = raw.tonumber, tostring = raw.tostring, type = raw.type, unpack = raw.unpack,
  pcall = function(...) return unless_expired(raw_pcall(...)) end,
  -- LuaJIT runs an xpcall handler with hooks off, so a looping handler could never be
  -- stopped: run it as an ordinary call after the protected call has returned.
  xpcall = function(f, handler, ...)
    local result = raw.table.pack(unless_expired(raw_pcall(f, ...)))
    if result[1] then return raw.unpack(result, 1, result.n) end
    return false, handler(result[2])
  end,
  -- Kong's sandbox has print; here it writes nowhere, so uploads cannot flood the log.
  print = noop,
  string = readonly("string", raw.string, {
    "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match",
    "rep", "reverse", "sub", "upper",
  }),
  table = readonly("table", raw.table, {
    "concat", "insert", "maxn", "pack", "remove", "sort", "unpack",
  }),
  math = readonly("math", raw.math, {
    "abs", "acos", "asin", "atan", "atan2", "ceil", "cos", "cosh", "deg", "exp", "floor",
    "fmod", "frexp", "huge", "ldexp", "log", "log10", "max", "min", "modf", "pi", "pow",
    "rad", "random", "randomseed", "sin", "sinh", "sqrt", "tan", "tanh",
  }),
  bit = readonly("bit", raw.bit, {
    "arshift", "band", "bnot", "bor", "bswap", "bxor", "lshift", "rol", "ror", "rshift",
    "tobit", "tohex",
  }),
  ngx = readonly("ngx", { null = null }, { "null" }),
}
env._G = env
return env
