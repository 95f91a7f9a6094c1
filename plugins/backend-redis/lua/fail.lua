-- fail: records a failed attempt; the task retries after its delay, or goes to the DLQ
-- when no delay is given or its attempts are spent. A stale lease token changes nothing.
-- KEYS[1] processing zset   KEYS[2] DLQ zset (by failedAt)
-- ARGV[1] key prefix   ARGV[2] work channel
-- ARGV[3..] 5 fields per item: task id, lease token, message, stack ('' = none), retryDelayMs ('' = dead-letter)
-- Returns { {one outcome per item: 'retrying' | 'dead' | 'lease_lost'}, {cascaded triples (common.lua)} }.
--!include common
--!include flow
local P = ARGV[1]
local flow_on = flow_counting(P)
local now = now_ms()
local out = {}
local woken = {}
local pending = {}
for i = 3, #ARGV, 5 do
  local id, token, message, stack, delay = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local tk = P .. 't:' .. id
  local f = redis.call('HMGET', tk, 's', 'lt', 'q', 'h', 'a', 'm', 'er', 'kc')
  if f[1] == 'processing' and f[2] == token then
    local q, h, attempts = f[3], f[4], tonumber(f[5])
    local entry = { attempt = attempts, message = message, at = now }
    if stack ~= '' then entry.stack = stack end
    local errors = push_error(f[7], entry)
    redis.call('ZREM', KEYS[1], id)
    redis.call('HINCRBY', P .. 'c:' .. q, 'p', -1)
    if flow_on then flow_task_done(P, tk, h) end
    if delay == '' or attempts >= tonumber(f[6]) then
      redis.call('HSET', tk, 's', 'dead', 'le', message, 'er', errors, 'fa', now, 'ua', now, 'lt', '', 'lx', '')
      redis.call('ZADD', KEYS[2], now, id)
      count_state(P, 'dead', q, h, 1)
      if f[8] == '1' then settle_children(P, id, 'dead') end
      out[#out + 1] = 'dead'
    else
      local run_at = now + tonumber(delay)
      redis.call('HSET', tk, 's', 'retrying', 'le', message, 'er', errors, 'ra', run_at, 'ua', now, 'lt', '', 'lx', '')
      redis.call('ZADD', P .. 'y:' .. q, run_at, id)
      pending_tally(P, pending, id, q, h, 1)
      if run_at <= now then woken[q] = true end
      out[#out + 1] = 'retrying'
    end
  else
    out[#out + 1] = 'lease_lost'
  end
end
pending_flush(P, pending)
for q in pairs(woken) do redis.call('PUBLISH', ARGV[2], q) end
return { out, cascaded }
