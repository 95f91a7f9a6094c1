-- flow_set: creates or replaces the limit of one scope. A new handler (or tenant) limit starts its
-- running count from the tasks of that handler processing now (O(in-flight), once), so
-- the count is exact from the first lease on. A changed window restarts the rate count.
-- KEYS[1] limits hash   KEYS[2] running-per-handler hash   KEYS[3] rate windows hash
-- ARGV[1] key prefix   ARGV[2] kind   ARGV[3] name   ARGV[4] spec "concurrency:rate:windowMs"
--!include common
--!include flow
local P, kind, name, spec = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = kind .. ':' .. name
local old = redis.call('HGET', KEYS[1], key)
if old then
  local _, _, ow = flow_split(old)
  local _, _, nw = flow_split(spec)
  if ow ~= nw then redis.call('HDEL', KEYS[3], key) end
end
redis.call('HSET', KEYS[1], key, spec)
if kind == 'handler' and redis.call('HEXISTS', KEYS[2], name) == 0 then
  local n = 0
  for _, id in ipairs(redis.call('ZRANGE', P .. 'proc', 0, -1)) do
    if redis.call('HGET', P .. 't:' .. id, 'h') == name then n = n + 1 end
  end
  redis.call('HSET', KEYS[2], name, n)
end
if kind == 'tenant' and redis.call('HEXISTS', P .. 'ft', name) == 0 then
  local n = 0
  for _, id in ipairs(redis.call('ZRANGE', P .. 'proc', 0, -1)) do
    if redis.call('HGET', P .. 't:' .. id, 'tn') == name then n = n + 1 end
  end
  redis.call('HSET', P .. 'ft', name, n)
end
return 1
