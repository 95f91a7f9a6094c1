-- recover: processing tasks whose lease deadline passed go back to ready, or to the DLQ
-- when the expired attempt was their last. The attempt stays counted, so a task that
-- crashes its workers ends in the DLQ instead of looping. Only the dead-lettering
-- expiry is recorded as an error (the DLQ entry must say why); a requeue keeps the
-- task's error history as its handlers wrote it.
-- KEYS[1] processing zset   KEYS[2] DLQ zset
-- ARGV[1] key prefix   ARGV[2] work channel   ARGV[3] limit
-- Returns { {requeued ids}, {dead ids} }.
--!include common
--!include flow
local P = ARGV[1]
local flow_on = flow_counting(P)
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local requeued, dead = {}, {}
local woken = {}
for _, id in ipairs(expired) do
  local tk = P .. 't:' .. id
  local f = redis.call('HMGET', tk, 's', 'q', 'h', 'a', 'm', 'pr', 'ra', 'er', 'w', 'kc')
  redis.call('ZREM', KEYS[1], id)
  if f[1] == 'processing' then
    local q, h, attempts = f[2], f[3], tonumber(f[4])
    redis.call('HINCRBY', P .. 'c:' .. q, 'p', -1)
    if flow_on then flow_task_done(P, tk, h) end
    if attempts >= tonumber(f[5]) then
      local message = 'lease expired (worker ' .. (f[9] or '?') .. ')'
      local errors = push_error(f[8], { attempt = attempts, message = message, at = now })
      redis.call('HSET', tk, 's', 'dead', 'le', message, 'er', errors, 'fa', now, 'ua', now, 'lt', '', 'lx', '')
      redis.call('ZADD', KEYS[2], now, id)
      count_state(P, 'dead', q, h, 1)
      if f[10] == '1' then settle_children(P, id, 'dead') end
      dead[#dead + 1] = id
    else
      redis.call('HSET', tk, 's', 'ready', 'ua', now, 'lt', '', 'lx', '')
      redis.call('ZADD', P .. 'r:' .. q, ready_score(f[6], f[7]), id)
      woken[q] = true
      requeued[#requeued + 1] = id
    end
  end
end
for q in pairs(woken) do redis.call('PUBLISH', ARGV[2], q) end
return { requeued, dead }
