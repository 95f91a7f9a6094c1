-- prune: deletes the tasks of one final state finished before now - age, oldest first,
-- at most `limit`, with every trace (indexes, counters, idempotency key).
-- KEYS[1] the state's index (succeeded, canceled or dead; score = finishedAt)
-- ARGV[1] key prefix   ARGV[2] age ms   ARGV[3] limit
-- Returns how many tasks were deleted.
--!include common
local P = ARGV[1]
local cutoff = now_ms() - tonumber(ARGV[2])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. int_str(cutoff), 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', P .. 't:' .. id, 's', 'q', 'h', 'ik')
  if f[1] then
    erase_task(P, id, f[1], f[2], f[3], f[4])
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return #ids
