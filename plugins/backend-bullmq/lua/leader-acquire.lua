-- KEYS[1] lock hash, KEYS[2] fencing counter, KEYS[3] set of lock names.
-- ARGV[1] name, ARGV[2] holder, ARGV[3] ttl ms. Acquire, or renew for the holder.
local rcall = redis.call
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
local cur = rcall('HMGET', KEYS[1], 'holder', 'token', 'expiresAt')
local holder, token, expiresAt = cur[1], tonumber(cur[2]), tonumber(cur[3])
rcall('SADD', KEYS[3], ARGV[1])
if holder and expiresAt and expiresAt > now then
  if holder ~= ARGV[2] then return {0, holder, token, expiresAt} end
  rcall('HSET', KEYS[1], 'expiresAt', now + ttl)
  rcall('PEXPIRE', KEYS[1], ttl)
  return {1, holder, token, now + ttl}
end
local fresh = rcall('INCR', KEYS[2])
rcall('HSET', KEYS[1], 'holder', ARGV[2], 'token', fresh, 'expiresAt', now + ttl)
rcall('PEXPIRE', KEYS[1], ttl)
return {1, ARGV[2], fresh, now + ttl}
