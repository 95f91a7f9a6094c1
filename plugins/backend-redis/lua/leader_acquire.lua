-- leader_acquire: takes a free or expired lock with a new fencing token, or renews it for its holder.
-- KEYS[1] lock hash   KEYS[2] fencing token hash (name -> last token)   KEYS[3] lock names set
-- ARGV[1] lock name   ARGV[2] holder   ARGV[3] ttl ms
-- Returns { acquired (1|0), holder, token, expiresAt }
--!include common
local now = now_ms()
local ttl = tonumber(ARGV[3])
local cur = redis.call('HMGET', KEYS[1], 'holder', 'token', 'exp')
if cur[1] and tonumber(cur[3]) > now then
  if cur[1] ~= ARGV[2] then return { 0, cur[1], cur[2], cur[3] } end
  redis.call('HSET', KEYS[1], 'exp', now + ttl)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return { 1, cur[1], cur[2], now + ttl }
end
local token = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('HSET', KEYS[1], 'holder', ARGV[2], 'token', token, 'exp', now + ttl)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SADD', KEYS[3], ARGV[1])
return { 1, ARGV[2], token, now + ttl }
