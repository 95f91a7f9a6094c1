-- complete: marks leased tasks succeeded with their results; a stale lease token changes
-- nothing. The last error is cleared (the error history stays): a task that failed once
-- and then succeeded shows no stale error.
-- KEYS[1] processing zset   KEYS[2] succeeded index (zset by finishedAt)
-- ARGV[1] key prefix   ARGV[2..] triples: task id, lease token, result JSON ('' = none)
-- Returns one outcome per triple: 1 ok, 0 lease lost.
-- Hot path: only the fields that change are written. The lease token and expiry stay
-- behind (every lease check also wants state 'processing', tokens are never reused, and
-- readers show an expiry only while processing); a result is written only when there is
-- one (requeue clears an old one before a task can run again). The index moves of the
-- whole call are one ZREM and one ZADD. The time goes to redis.call as a string made
-- once (Redis formats a Lua number argument with printf, per argument).
--!include common
--!include flow
local P = ARGV[1]
local flow_on = flow_counting(P)
local now = int_str(now_ms())
local out = {}
local done = {}
local finished = {}
for i = 2, #ARGV, 3 do
  local id, token, result = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local tk = P .. 't:' .. id
  local f = redis.call('HMGET', tk, 's', 'lt', 'q', 'kc', 'le')
  if f[1] == 'processing' and f[2] == token then
    local had_error = f[5] and f[5] ~= ''
    if result ~= '' then
      if had_error then redis.call('HSET', tk, 's', 'succeeded', 'fa', now, 'ua', now, 'rv', result, 'le', '')
      else redis.call('HSET', tk, 's', 'succeeded', 'fa', now, 'ua', now, 'rv', result) end
    elseif had_error then redis.call('HSET', tk, 's', 'succeeded', 'fa', now, 'ua', now, 'le', '')
    else redis.call('HSET', tk, 's', 'succeeded', 'fa', now, 'ua', now) end
    finished[#finished + 1] = id
    done[f[3]] = (done[f[3]] or 0) + 1
    if f[4] == '1' then settle_children(P, id, 'succeeded') end
    if flow_on then flow_task_done(P, tk, nil) end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
if #finished > 0 then
  redis.call('ZREM', KEYS[1], unpack(finished))
  local scored = {}
  for j, id in ipairs(finished) do scored[2 * j - 1] = now; scored[2 * j] = id end
  redis.call('ZADD', KEYS[2], unpack(scored))
end
for q, c in pairs(done) do
  local ck = P .. 'c:' .. q
  redis.call('HINCRBY', ck, 'p', -c)
  redis.call('HINCRBY', ck, 'ok', c)
end
return out
