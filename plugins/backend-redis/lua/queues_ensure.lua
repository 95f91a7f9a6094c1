-- queues_ensure: registers queues so they are listed before their first task.
-- KEYS[1] queue registry hash
-- ARGV[1..] queue names
--!include common
local now = now_ms()
for i = 1, #ARGV do redis.call('HSETNX', KEYS[1], ARGV[i], now) end
return #ARGV
