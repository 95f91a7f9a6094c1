-- recover: processing tasks whose lease deadline passed go back to ready, or to the DLQ
-- when the expired attempt was their last. The attempt stays counted, so a task that
-- crashes its workers ends in the DLQ instead of looping. Only the dead-lettering
-- expiry is recorded as an error (the DLQ entry must say why); a requeue keeps the
-- task's error history as its handlers wrote it.
-- KEYS[1] processing zset   KEYS[2] DLQ zset
-- ARGV[1] key prefix   ARGV[2] work channel   ARGV[3] limit
-- Returns { {requeued ids}, {dead ids}, {cascaded triples (common.lua)} }.
--!include common
--!include flow
--!include lease_end
local P = ARGV[1]
local flow_on = flow_counting(P)
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = { requeued = {}, dead = {}, woken = {} }
for _, id in ipairs(expired) do
  local f = lease_end_fields(P, id)
  redis.call('ZREM', KEYS[1], id)
  if f[1] == 'processing' then
    end_lease(P, id, f, 'lease expired (worker ' .. (f[9] or '?') .. ')', KEYS[2], now, flow_on, out)
  end
end
for q in pairs(out.woken) do redis.call('PUBLISH', ARGV[2], q) end
return { out.requeued, out.dead, cascaded }
