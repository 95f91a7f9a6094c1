-- push-done: ends an idle worker's wait for pushed jobs (lib/push.lua): unregisters it
-- and returns what its inbox holds, in one step, so a push racing the end of the wait is
-- either in the reply or never made.
-- ARGV[1] own key base   ARGV[2] worker id
-- Returns the inbox entries, oldest first (JSON leases, and '' for wake-up markers).
--!include push
local own, w = ARGV[1], ARGV[2]
local qs = redis.call('HGET', pushHash(own, w), 'qs')
if qs then pushUnregister(own, w, qs) end
local inbox = pushInbox(own, w)
local items = redis.call('LRANGE', inbox, 0, -1)
if #items > 0 then redis.call('DEL', inbox) end
return items
