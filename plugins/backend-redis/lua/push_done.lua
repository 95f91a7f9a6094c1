-- push_done: ends an idle worker's wait for pushed tasks (lib/push.lua): unregisters it
-- and returns what its inbox holds, in one step, so a push racing the end of the wait is
-- either in the reply or never made.
-- KEYS[1] the worker's registration hash   KEYS[2] its inbox
-- ARGV[1] key prefix   ARGV[2] worker id
-- Returns the inbox entries, oldest first (JSON leases, and '' for wake-up markers).
--!include push
local qs = redis.call('HGET', KEYS[1], 'qs')
if qs then push_unregister(ARGV[1], ARGV[2], qs) end
local items = redis.call('LRANGE', KEYS[2], 0, -1)
if #items > 0 then redis.call('DEL', KEYS[2]) end
return items
