-- worker_release: the processing tasks whose lease one worker holds go back to ready,
-- or to the DLQ when the attempt was their last, now instead of at their lease expiry:
-- the same transition as recover.lua, chosen by worker. The lease token is cleared, so
-- the worker's late ack, failure or extension of such a task is lease_lost.
-- KEYS[1] processing zset   KEYS[2] DLQ zset
-- ARGV[1] key prefix   ARGV[2] work channel   ARGV[3] worker id   ARGV[4] limit
-- ARGV[5] dry run (0|1)   ARGV[6] most processing entries examined
-- Returns { {requeued ids}, {dead ids} } (with dry run: what would be).
--!include common
--!include flow
local P = ARGV[1]
local flow_on = flow_counting(P)
local worker = ARGV[3]
local limit = tonumber(ARGV[4])
local dry = ARGV[5] == '1'
local now = now_ms()
local requeued, dead = {}, {}
local woken = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[6]) - 1)) do
  if #requeued + #dead >= limit then break end
  local tk = P .. 't:' .. id
  local f = redis.call('HMGET', tk, 's', 'q', 'h', 'a', 'm', 'pr', 'ra', 'er', 'w')
  if f[1] == 'processing' and f[9] == worker then
    local q, h, attempts = f[2], f[3], tonumber(f[4])
    local last = attempts >= tonumber(f[5])
    if dry then
      if last then dead[#dead + 1] = id else requeued[#requeued + 1] = id end
    else
      redis.call('ZREM', KEYS[1], id)
      redis.call('HINCRBY', P .. 'c:' .. q, 'p', -1)
      if flow_on then flow_task_done(P, tk, h) end
      if last then
        local message = 'lease released by an operator on the last attempt (worker ' .. worker .. ')'
        local errors = push_error(f[8], { attempt = attempts, message = message, at = now })
        redis.call('HSET', tk, 's', 'dead', 'le', message, 'er', errors, 'fa', now, 'ua', now, 'lt', '', 'lx', '')
        redis.call('ZADD', KEYS[2], now, id)
        count_state(P, 'dead', q, h, 1)
        dead[#dead + 1] = id
      else
        redis.call('HSET', tk, 's', 'ready', 'ua', now, 'lt', '', 'lx', '')
        redis.call('ZADD', P .. 'r:' .. q, ready_score(f[6], f[7]), id)
        woken[q] = true
        requeued[#requeued + 1] = id
      end
    end
  end
end
for q in pairs(woken) do redis.call('PUBLISH', ARGV[2], q) end
return { requeued, dead }
