-- lease: takes up to `limit` ready tasks from the queues in the given order, skipping
-- paused queues; first promotes due scheduled/retrying tasks of each queue (bounded).
-- KEYS[1] processing zset (by lease deadline)   KEYS[2] global pause flag
-- KEYS[3] paused-queues hash                     KEYS[4] lease token sequence
-- ARGV[1] key prefix  ARGV[2] work channel  ARGV[3] worker id  ARGV[4] limit
-- ARGV[5] lease ms    ARGV[6] promotion cap per queue          ARGV[7..] queue names
-- Returns { deadline, then 11 fields per task: id, queue, handler, payload, attempts,
--   maxAttempts, priority, timeoutMs, createdAt, runAt, leaseToken }
--!include common
if redis.call('EXISTS', KEYS[2]) == 1 then return {} end
local P, worker = ARGV[1], ARGV[3]
local limit, cap = tonumber(ARGV[4]), tonumber(ARGV[6])
local now = now_ms()
local deadline = now + tonumber(ARGV[5])
local queues = {}
for i = 7, #ARGV do queues[#queues + 1] = ARGV[i] end
local out = { deadline }
if #queues == 0 then return out end
local paused = redis.call('HMGET', KEYS[3], unpack(queues))
local remaining = limit
local token = nil
local seen = {}

-- Moves due tasks of one delayed index into ready; returns how many moved.
local function promote(key, q)
  local due = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, cap)
  for _, id in ipairs(due) do
    local tk = P .. 't:' .. id
    local f = redis.call('HMGET', tk, 'pr', 'ra')
    if f[1] then
      redis.call('HSET', tk, 's', 'ready', 'ua', now)
      redis.call('ZADD', P .. 'r:' .. q, ready_score(f[1], f[2]), id)
    end
  end
  if #due > 0 then redis.call('ZREM', key, unpack(due)) end
  return #due
end

for i, q in ipairs(queues) do
  if remaining <= 0 then break end
  if not paused[i] and not seen[q] then
    seen[q] = true
    local promoted = promote(P .. 's:' .. q, q) + promote(P .. 'y:' .. q, q)
    local popped = redis.call('ZPOPMIN', P .. 'r:' .. q, remaining)
    local taken = 0
    if #popped > 0 and not token then token = redis.call('INCRBY', KEYS[4], limit) - limit end
    for j = 1, #popped, 2 do
      local id = popped[j]
      local tk = P .. 't:' .. id
      local f = redis.call('HMGET', tk, 'h', 'p', 'a', 'm', 'pr', 'to', 'ca', 'ra')
      if f[1] then
        local attempts = tonumber(f[3]) + 1
        token = token + 1
        local lease_token = int_str(token)
        redis.call('HSET', tk, 's', 'processing', 'a', attempts, 'lt', lease_token, 'lx', deadline,
          'sa', now, 'ua', now, 'w', worker)
        redis.call('ZADD', KEYS[1], deadline, id)
        local o = #out
        out[o + 1] = id; out[o + 2] = q; out[o + 3] = f[1]; out[o + 4] = f[2]; out[o + 5] = attempts
        out[o + 6] = f[4]; out[o + 7] = f[5]; out[o + 8] = f[6]; out[o + 9] = f[7]; out[o + 10] = f[8]
        out[o + 11] = lease_token
        taken = taken + 1
      end
    end
    if taken > 0 then redis.call('HINCRBY', P .. 'c:' .. q, 'p', taken) end
    remaining = remaining - taken
    -- promoted more than this call could take: let idle workers know
    if promoted > #popped / 2 then redis.call('PUBLISH', ARGV[2], q) end
  end
end
return out
