-- complete: marks leased tasks succeeded; a stale lease token changes nothing.
-- KEYS[1] processing zset   KEYS[2] succeeded index (zset by finishedAt)
-- ARGV[1] key prefix   ARGV[2..] pairs: task id, lease token
-- Returns one outcome per pair: 1 ok, 0 lease lost.
--!include common
local P = ARGV[1]
local now = now_ms()
local out = {}
local done = {}
for i = 2, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local tk = P .. 't:' .. id
  local f = redis.call('HMGET', tk, 's', 'lt', 'q')
  if f[1] == 'processing' and f[2] == token then
    redis.call('HSET', tk, 's', 'succeeded', 'fa', now, 'ua', now, 'lt', '', 'lx', '')
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZADD', KEYS[2], now, id)
    done[f[3]] = (done[f[3]] or 0) + 1
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
