-- push_wait: registers an idle worker for push delivery (lib/push.lua), replacing a
-- registration it still has. Its inbox holds nothing but stale wake-up markers
-- then (nothing is pushed to an unregistered worker), so it is emptied.
-- KEYS[1] the worker's registration hash   KEYS[2] its inbox
-- ARGV[1] key prefix   ARGV[2] worker id   ARGV[3] free slots   ARGV[4] lease ms
-- ARGV[5] registration lifetime ms   ARGV[6] inbox format the worker reads (lib/push.lua)
-- ARGV[7] n handler names (-1: every handler)   ARGV[8..7+n] handler names, then queue names
--!include common
--!include push
local P, w = ARGV[1], ARGV[2]
local old = redis.call('HGET', KEYS[1], 'qs')
if old then push_unregister(P, w, old) end
redis.call('DEL', KEYS[2])
local n = tonumber(ARGV[7])
local first_queue = 8
local fields = { 'n', ARGV[3], 'ms', ARGV[4], 'u', int_str(now_ms() + tonumber(ARGV[5])), 'f', ARGV[6] }
if n < 0 then
  fields[#fields + 1] = 'a'; fields[#fields + 1] = '1'
else
  for i = 8, 7 + n do fields[#fields + 1] = 'h:' .. ARGV[i]; fields[#fields + 1] = '1' end
  first_queue = 8 + n
end
local queues = {}
for i = first_queue, #ARGV do queues[#queues + 1] = ARGV[i] end
fields[#fields + 1] = 'qs'; fields[#fields + 1] = cjson.encode(queues)
redis.call('HSET', KEYS[1], unpack(fields))
for _, q in ipairs(queues) do redis.call('SADD', push_idle(P, q), w) end
return 1
