-- Push delivery (awaitPushedTasks in backend.ts), after common.
-- An idle worker registers: its hash pw:<worker> holds n (free slots), ms (lease ms),
-- u (until: the registration's expiry, epoch ms), qs (its queues, a JSON list) and
-- a = '1' (every handler) or h:<handler> = '1' per handler it runs; it joins the set
-- pi:<queue> of each queue. An enqueue that creates a task ready at once leases it to
-- such a worker and appends it to the worker's inbox pb:<worker> (a list the worker
-- BLPOPs on), instead of waking every worker. The worker unregisters and takes what its
-- inbox holds in one script (push_done.lua), so nothing is pushed to it afterwards.

local function push_hash(P, w) return P .. 'pw:' .. w end
local function push_inbox(P, w) return P .. 'pb:' .. w end
local function push_idle(P, q) return P .. 'pi:' .. q end

-- Removes worker w's registration (qs: its queue list as stored).
local function push_unregister(P, w, qs)
  for _, q in ipairs(cjson.decode(qs)) do redis.call('SREM', push_idle(P, q), w) end
  redis.call('DEL', push_hash(P, w))
end
