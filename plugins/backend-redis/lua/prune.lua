-- prune: deletes succeeded and canceled tasks finished before now - age, at most `limit`.
-- KEYS[1] succeeded index   KEYS[2] canceled index
-- ARGV[1] key prefix   ARGV[2] age ms   ARGV[3] limit
-- Returns how many tasks were deleted.
--!include common
local P = ARGV[1]
local cutoff = now_ms() - tonumber(ARGV[2])
local left = tonumber(ARGV[3])
local removed = 0
for _, key in ipairs({ KEYS[1], KEYS[2] }) do
  if left <= 0 then break end
  local ids = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. int_str(cutoff), 'LIMIT', 0, left)
  for _, id in ipairs(ids) do
    local f = redis.call('HMGET', P .. 't:' .. id, 's', 'q', 'h', 'ik')
    if f[1] then
      erase_task(P, id, f[1], f[2], f[3], f[4])
    else
      redis.call('ZREM', key, id)
    end
    removed = removed + 1
  end
  left = left - #ids
end
return removed
