-- read_coordination(KEYS, ARGV): the body of coordination.lua, a function so that overview.lua runs it too.
-- coordination: global pause, rate limit and live leader locks in one read.
-- KEYS[1] global pause flag   KEYS[2] rate limit hash   KEYS[3] leader lock names set
-- ARGV[1] key prefix
-- Returns { paused (1|0), limit ('' none), windowMs, { name, holder, token, expiresAt... } }
--!include common
local function read_coordination(KEYS, ARGV)
  local P = ARGV[1]
  local now = now_ms()
  local rl = redis.call('HMGET', KEYS[2], 'limit', 'window')
  local leaders = {}
  for _, name in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    local l = redis.call('HMGET', P .. 'lock:' .. name, 'holder', 'token', 'exp')
    if l[1] and tonumber(l[3]) > now then
      leaders[#leaders + 1] = name; leaders[#leaders + 1] = l[1]; leaders[#leaders + 1] = l[2]; leaders[#leaders + 1] = l[3]
    elseif not l[1] then
      redis.call('SREM', KEYS[3], name)
    end
  end
  return { redis.call('EXISTS', KEYS[1]), rl[1] or '', rl[2] or '', leaders }
end
