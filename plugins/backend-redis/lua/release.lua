-- release: gives held leases back to ready without consuming the attempt (graceful shutdown).
-- KEYS[1] processing zset
-- ARGV[1] key prefix   ARGV[2] work channel   ARGV[3..] pairs: task id, lease token
-- Returns one outcome per pair: 1 ok, 0 lease lost.
--!include common
--!include flow
local P = ARGV[1]
local flow_on = flow_counting(P)
local now = now_ms()
local out = {}
local woken = {}
local pending = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local tk = P .. 't:' .. id
  local f = redis.call('HMGET', tk, 's', 'lt', 'q', 'a', 'pr', 'ra', 'h')
  if f[1] == 'processing' and f[2] == token then
    local q = f[3]
    redis.call('HSET', tk, 's', 'ready', 'a', math.max(tonumber(f[4]) - 1, 0), 'ua', now, 'lt', '', 'lx', '')
    redis.call('ZREM', KEYS[1], id)
    redis.call('HINCRBY', P .. 'c:' .. q, 'p', -1)
    if flow_on then flow_task_done(P, tk, nil) end
    redis.call('ZADD', P .. 'r:' .. q, ready_score(f[5], f[6]), id)
    pending_tally(P, pending, id, q, f[7], 1)
    woken[q] = true
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
pending_flush(P, pending)
for q in pairs(woken) do redis.call('PUBLISH', ARGV[2], q) end
return out
