-- ARGV[4] limit. Every active job whose lock key is gone had its lease expire: put it
-- back (front of its priority, as BullMQ's stalled check does) or, when that expired
-- attempt was its last, move it to failed. A lock that still exists is a live lease.
-- Then settles blocked children whose parents finished unseen (sweepBlocked, deps.lua),
-- and returns how many as a third element; the fourth is what they canceled or
-- dead-lettered (deps.lua's cascaded triples).
--!include lease-end
local limit = tonumber(id)
local now = nowMs()
-- parent states a sweep of blocked children reads per queue: bounds the script's time
local SWEEP_BLOCKED_MOST = 200
local requeued, dead = {}, {}
local active = rcall('LRANGE', base .. 'active', 0, -1)
for _, jid in ipairs(active) do
  if #requeued + #dead >= limit then break end
  local jobKey = base .. jid
  if string.sub(jid, 1, 2) ~= '0:' and rcall('EXISTS', jobKey .. ':lock') == 0 and rcall('EXISTS', jobKey) == 1 then
    endLease(jid, 'lease expired during the last attempt', now, requeued, dead)
  end
end
local swept = sweepBlocked(queue, SWEEP_BLOCKED_MOST)
return {requeued, dead, swept, cascaded}
