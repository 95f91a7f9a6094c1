-- progress: stores the latest progress of tasks whose lease still holds; a stale lease
-- token changes nothing.
-- KEYS[1] processing zset (routes the call; the task hashes are built from the prefix)
-- ARGV[1] key prefix   ARGV[2..] triples: task id, lease token, progress JSON
-- Returns one outcome per triple: 1 ok, 0 lease lost.
--!include common
local P = ARGV[1]
local out = {}
for i = 2, #ARGV, 3 do
  local id, token = ARGV[i], ARGV[i + 1]
  local tk = P .. 't:' .. id
  local f = redis.call('HMGET', tk, 's', 'lt')
  if f[1] == 'processing' and f[2] == token then
    redis.call('HSET', tk, 'pg', ARGV[i + 2])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
