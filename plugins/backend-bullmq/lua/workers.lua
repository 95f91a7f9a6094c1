-- KEYS[1] worker hash (id -> JSON), KEYS[2] expiry zset (id -> expires at).
-- ARGV[1] 'beat' | 'list'; for 'beat': ARGV[2] id, ARGV[3] JSON, ARGV[4] ttl ms.
-- Expired workers are dropped on every call, so the registry never grows unbounded.
local rcall = redis.call
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = rcall('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
if #expired > 0 then
  rcall('ZREM', KEYS[2], unpack(expired))
  rcall('HDEL', KEYS[1], unpack(expired))
end
if ARGV[1] == 'beat' then
  rcall('HSET', KEYS[1], ARGV[2], ARGV[3])
  rcall('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[2])
  return {}
end
local live = rcall('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf', 'LIMIT', 0, 10000)
if #live == 0 then return {} end
return rcall('HMGET', KEYS[1], unpack(live))
