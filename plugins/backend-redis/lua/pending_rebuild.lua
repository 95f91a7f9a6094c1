-- pending_rebuild: sets one queue's pending counts (ph:<queue>, see common.lua) from its
-- pending indexes, for data written before the scripts kept them. Once per queue: the
-- queue is then named in the rebuilt set, and a second call (another process opening
-- the same data) changes nothing. Atomic, so a transition running meanwhile is counted
-- exactly once; the cost is one HGET per pending task of the queue, read in pages.
-- KEYS[1] rebuilt-queues set
-- ARGV[1] key prefix   ARGV[2] queue
-- Returns the number of pending tasks counted, or -1 when the queue was rebuilt already.
--!include common
local P, q = ARGV[1], ARGV[2]
if redis.call('SISMEMBER', KEYS[1], q) == 1 then return -1 end
local PAGE = 10000
local counts = {}
local total = 0
local indexes = ready_keys(P, q)
indexes[#indexes + 1] = P .. 's:' .. q
indexes[#indexes + 1] = P .. 'y:' .. q
for _, key in ipairs(indexes) do
  local from = 0
  while true do
    local ids = redis.call('ZRANGE', key, from, from + PAGE - 1)
    for _, id in ipairs(ids) do
      local h = redis.call('HGET', P .. 't:' .. id, 'h')
      if h then
        counts[h] = (counts[h] or 0) + 1
        total = total + 1
      end
    end
    if #ids < PAGE then break end
    from = from + PAGE
  end
end
local key = P .. 'ph:' .. q
redis.call('DEL', key)
for h, n in pairs(counts) do redis.call('HSET', key, h, n) end
redis.call('SADD', KEYS[1], q)
return total
