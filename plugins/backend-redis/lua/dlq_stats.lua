-- dlq_stats: DLQ size, per-queue and per-handler counts, oldest and newest failure.
-- O(queues + handlers), from counters.
-- KEYS[1] DLQ zset   KEYS[2] queue registry hash   KEYS[3] dead-by-handler hash
-- ARGV[1] key prefix
-- Returns { total, {queue, count...}, {handler, count...}, oldest ('' none), newest ('' none) }
local P = ARGV[1]
local by_queue = {}
for _, q in ipairs(redis.call('HKEYS', KEYS[2])) do
  local d = tonumber(redis.call('HGET', P .. 'c:' .. q, 'd') or '0')
  if d > 0 then by_queue[#by_queue + 1] = q; by_queue[#by_queue + 1] = d end
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local newest = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return { redis.call('ZCARD', KEYS[1]), by_queue, redis.call('HGETALL', KEYS[3]), oldest[2] or '', newest[2] or '' }
