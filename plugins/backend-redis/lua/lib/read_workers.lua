-- read_workers(KEYS, ARGV): the body of worker_list.lua, a function so that overview.lua runs it too.
-- worker_list: live workers (bounded), or with ARGV[3] = 1 also the stale ones (their
-- deadline passed less than the retention ago), after dropping entries past it.
-- KEYS[1] worker registry zset
-- ARGV[1] key prefix   ARGV[2] limit   ARGV[3] include stale (0|1)   ARGV[4] retention ms
-- Returns flat: info JSON, heartbeat time, cordoned (0|1), stale (0|1) per worker.
--!include common
local function read_workers(KEYS, ARGV)
  local P = ARGV[1]
  local now = now_ms()
  local forget = now - tonumber(ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', forget)
  local from = ARGV[3] == '1' and '(' .. int_str(forget) or '(' .. int_str(now)
  local out = {}
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], from, '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))) do
    out[#out + 1] = id
  end
  local rows = {}
  for i = 1, #out, 2 do
    local id, deadline = out[i], tonumber(out[i + 1])
    local w = redis.call('HMGET', P .. 'w:' .. id, 'info', 'hb', 'c')
    if w[1] then
      rows[#rows + 1] = w[1]; rows[#rows + 1] = w[2]
      rows[#rows + 1] = w[3] == '1' and 1 or 0
      rows[#rows + 1] = deadline <= now and 1 or 0
    end
  end
  return rows
end
