-- leader_release: frees the lock only when (holder, token) still hold it.
-- KEYS[1] lock hash
-- ARGV[1] holder   ARGV[2] token
-- Returns 1 when released, 0 otherwise.
--!include common
local cur = redis.call('HMGET', KEYS[1], 'holder', 'token', 'exp')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
if tonumber(cur[3]) <= now_ms() then return 0 end
return 1
