-- worker_list: live workers (bounded), after dropping those whose heartbeat deadline passed.
-- KEYS[1] worker registry zset
-- ARGV[1] key prefix   ARGV[2] limit
-- Returns flat: info JSON, heartbeat time per worker.
--!include common
local P = ARGV[1]
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. int_str(now), '+inf', 'LIMIT', 0, tonumber(ARGV[2]))) do
  local w = redis.call('HMGET', P .. 'w:' .. id, 'info', 'hb')
  if w[1] then out[#out + 1] = w[1]; out[#out + 1] = w[2] end
end
return out
