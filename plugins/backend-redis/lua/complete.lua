-- complete: marks leased tasks succeeded with their results; a stale lease token changes
-- nothing. The last error is cleared (the error history stays): a task that failed once
-- and then succeeded shows no stale error.
-- KEYS[1] processing zset   KEYS[2] succeeded index (zset by finishedAt)
-- ARGV[1] key prefix   ARGV[2..] triples: task id, lease token, result JSON ('' = none)
-- Returns one outcome per triple: 1 ok, 0 lease lost.
--!include common
--!include flow
local P = ARGV[1]
local flow_on = flow_counting(P)
local now = now_ms()
local out = {}
local done = {}
for i = 2, #ARGV, 3 do
  local id, token, result = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local tk = P .. 't:' .. id
  local f = redis.call('HMGET', tk, 's', 'lt', 'q', 'kc')
  if f[1] == 'processing' and f[2] == token then
    redis.call('HSET', tk, 's', 'succeeded', 'fa', now, 'ua', now, 'lt', '', 'lx', '', 'le', '', 'rv', result)
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZADD', KEYS[2], now, id)
    done[f[3]] = (done[f[3]] or 0) + 1
    if f[4] == '1' then settle_children(P, id, 'succeeded') end
    if flow_on then flow_task_done(P, tk, nil) end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
for q, c in pairs(done) do
  local ck = P .. 'c:' .. q
  redis.call('HINCRBY', ck, 'p', -c)
  redis.call('HINCRBY', ck, 'ok', c)
end
return out
