-- Push delivery (awaitPushedTasks in backend.ts). An idle worker registers: its hash
-- <own>pw:<worker> holds n (free slots), ms (lease ms), u (until: the registration's
-- expiry, epoch ms), qs (its queues, a JSON list) and a = '1' (every handler) or
-- h:<handler> = '1' per handler it runs; it joins the set <own>pi:<queue> of each queue.
-- The add of fresh ready jobs (add-fresh.lua) leases jobs of its queue to such a worker
-- with BullMQ's moveToActive, as lease-jobs.lua would (handler filter, lock token,
-- processedOn, attemptsStarted, lease expiry field, kept counts), and appends each
-- lease to the worker's inbox <own>pb:<worker> (a list it BLPOPs on). The worker
-- unregisters and takes what its inbox holds in one script (push-done.lua), so nothing
-- is pushed to it afterwards.

local function pushHash(own, w) return own .. 'pw:' .. w end
local function pushInbox(own, w) return own .. 'pb:' .. w end
local function pushIdle(own, q) return own .. 'pi:' .. q end

-- Removes worker w's registration (qs: its queue list as stored).
local function pushUnregister(own, w, qs)
  for _, q in ipairs(cjson.decode(qs)) do redis.call('SREM', pushIdle(own, q), w) end
  redis.call('DEL', pushHash(own, w))
end
