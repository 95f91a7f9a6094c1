-- push-wait: registers an idle worker for push delivery (lib/push.lua), replacing a
-- registration it still has. Its inbox holds nothing but stale wake-up markers then
-- (nothing is pushed to an unregistered worker), so it is emptied.
-- ARGV[1] own key base   ARGV[2] worker id   ARGV[3] free slots   ARGV[4] lease ms
-- ARGV[5] registration lifetime ms   ARGV[6] n handler names (-1: every handler)
-- ARGV[7..6+n] handler names, then queue names
--!include push
local own, w = ARGV[1], ARGV[2]
local hash = pushHash(own, w)
local old = redis.call('HGET', hash, 'qs')
if old then pushUnregister(own, w, old) end
redis.call('DEL', pushInbox(own, w))
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[6])
local firstQueue = 7
local fields = { 'n', ARGV[3], 'ms', ARGV[4], 'u', string.format('%d', nowMs + tonumber(ARGV[5])) }
if n < 0 then
  fields[#fields + 1] = 'a'; fields[#fields + 1] = '1'
else
  for i = 7, 6 + n do fields[#fields + 1] = 'h:' .. ARGV[i]; fields[#fields + 1] = '1' end
  firstQueue = 7 + n
end
local queues = {}
for i = firstQueue, #ARGV do queues[#queues + 1] = ARGV[i] end
fields[#fields + 1] = 'qs'; fields[#fields + 1] = cjson.encode(queues)
redis.call('HSET', hash, unpack(fields))
for _, q in ipairs(queues) do redis.call('SADD', pushIdle(own, q), w) end
return 1
