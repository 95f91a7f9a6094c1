-- ARGV[4] limit, ARGV[5] worker id, ARGV[6] dry run (0|1). The active jobs whose lease
-- that worker holds (BullMQ's processedBy) are recovered now, as recover.lua recovers
-- an expired lease: put back (front of their priority) or, when the attempt was their
-- last, moved to failed. Their lock is deleted first, so the worker's late ack,
-- failure or extension names a lock that no longer exists (lease_lost).
--!include lease-end
local limit = tonumber(id)
local worker = ARGV[5]
local dry = ARGV[6] == '1'
local now = nowMs()
local requeued, dead = {}, {}
local active = rcall('LRANGE', base .. 'active', 0, -1)
for _, jid in ipairs(active) do
  if #requeued + #dead >= limit then break end
  local jobKey = base .. jid
  if string.sub(jid, 1, 2) ~= '0:' and rcall('HGET', jobKey, 'pb') == worker and rcall('EXISTS', jobKey .. ':lock') == 1 then
    if dry then
      if onLastAttempt(jobKey) then dead[#dead + 1] = jid else requeued[#requeued + 1] = jid end
    else
      rcall('DEL', jobKey .. ':lock')
      endLease(jid, 'lease released by an operator on the last attempt (worker ' .. worker .. ')', now, requeued, dead)
    end
  end
end
-- the third element: what the releases canceled or dead-lettered below (deps.lua's cascaded triples)
return {requeued, dead, cascaded}
