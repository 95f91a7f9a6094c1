-- worker_sweep: removes stale registry entries (deadline passed) whose last heartbeat is
-- at least ARGV[2] ms old, oldest deadline first; live entries are never touched.
-- KEYS[1] worker registry zset
-- ARGV[1] key prefix   ARGV[2] older than ms   ARGV[3] limit   ARGV[4] dry run (0|1)
-- ARGV[5] retention ms
-- Returns flat: info JSON, heartbeat time, cordoned (0|1) per removed (or removable) worker.
--!include common
local P = ARGV[1]
local now = now_ms()
local forget = now - tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', forget)
local cutoff = now - tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local rows, found = {}, 0
-- the stale entries are those of workers that stopped within the retention: few
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. int_str(forget), now, 'LIMIT', 0, 10000)) do
  if found >= limit then break end
  local key = P .. 'w:' .. id
  local w = redis.call('HMGET', key, 'info', 'hb', 'c')
  if not w[1] then
    redis.call('ZREM', KEYS[1], id)
  elseif tonumber(w[2]) <= cutoff then
    found = found + 1
    rows[#rows + 1] = w[1]; rows[#rows + 1] = w[2]; rows[#rows + 1] = w[3] == '1' and 1 or 0
    if ARGV[4] ~= '1' then
      redis.call('ZREM', KEYS[1], id)
      redis.call('DEL', key)
    end
  end
end
return rows
