-- extend: pushes the lease deadline of held leases to now + leaseMs.
-- KEYS[1] processing zset
-- ARGV[1] key prefix   ARGV[2] lease ms   ARGV[3..] pairs: task id, lease token
-- Returns one new deadline per pair, or -1 where the lease was lost.
--!include common
local P = ARGV[1]
local now = now_ms()
local deadline = now + tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local tk = P .. 't:' .. id
  local f = redis.call('HMGET', tk, 's', 'lt')
  if f[1] == 'processing' and f[2] == token then
    redis.call('HSET', tk, 'lx', deadline, 'ua', now)
    redis.call('ZADD', KEYS[1], deadline, id)
    out[#out + 1] = deadline
  else
    out[#out + 1] = -1
  end
end
return out
