-- worker_release: the processing tasks whose lease one worker holds go back to ready,
-- or to the DLQ when the attempt was their last, now instead of at their lease expiry:
-- the same transition as recover.lua, chosen by worker. The lease token is cleared, so
-- the worker's late ack, failure or extension of such a task is lease_lost.
-- KEYS[1] processing zset   KEYS[2] DLQ zset
-- ARGV[1] key prefix   ARGV[2] work channel   ARGV[3] worker id   ARGV[4] limit
-- ARGV[5] dry run (0|1)   ARGV[6] most processing entries examined
-- Returns { {requeued ids}, {dead ids}, {cascaded triples (common.lua)} } (with dry run: what would be, nothing cascaded).
--!include common
--!include flow
--!include lease_end
local P = ARGV[1]
local flow_on = flow_counting(P)
local worker = ARGV[3]
local limit = tonumber(ARGV[4])
local dry = ARGV[5] == '1'
local now = now_ms()
local out = { requeued = {}, dead = {}, woken = {} }
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[6]) - 1)) do
  if #out.requeued + #out.dead >= limit then break end
  local f = lease_end_fields(P, id)
  if f[1] == 'processing' and f[9] == worker then
    if dry then
      if lease_end_last(f) then out.dead[#out.dead + 1] = id else out.requeued[#out.requeued + 1] = id end
    else
      redis.call('ZREM', KEYS[1], id)
      end_lease(P, id, f, 'lease released by an operator on the last attempt (worker ' .. worker .. ')', KEYS[2], now, flow_on, out)
    end
  end
end
for q in pairs(out.woken) do redis.call('PUBLISH', ARGV[2], q) end
return { out.requeued, out.dead, cascaded }
