-- Push delivery (awaitPushedTasks in backend.ts), after common.
-- An idle worker registers: its hash pw:<worker> holds n (free slots), ms (lease ms),
-- u (until: the registration's expiry, epoch ms), qs (its queues, a JSON list) and
-- a = '1' (every handler) or h:<handler> = '1' per handler it runs, and f, the inbox
-- format it reads (absent: 1, a worker registered before formats existed); it joins the set
-- pi:<queue> of each queue. An enqueue that creates a task ready at once leases it to
-- such a worker and appends it to the worker's inbox pb:<worker> (a list the worker
-- BLMPOPs on), instead of waking every worker. The enqueue that pushes to a worker
-- unregisters it in the same call (at most its slots pushed), so nothing is pushed to it
-- afterwards and the worker's pop takes all of it. A wait that ends otherwise (timeout,
-- wake-up marker, the lease on registering found tasks, or a format 1 entry, which an
-- older enqueue that leaves the worker registered pushed) ends with push_done.lua, which
-- unregisters and takes what the inbox holds in one step.
-- Inbox formats (codec.ts decodePushedEntry reads both): 1, a JSON array of strings in
-- leaseTasks' reply layout, the payload a JSON string inside it (two parses); 2, the
-- same array led by the number 2, the payload inlined as JSON (one parse). A worker
-- gets format 2 only when its registration says it reads it, so an older worker
-- (no f) keeps getting format 1 during a rolling upgrade. Only an enqueue that
-- unregisters the worker it pushes to writes format 2: the worker reads a pop of
-- format 2 entries alone as the end of its registration.

local function push_hash(P, w) return P .. 'pw:' .. w end
local function push_inbox(P, w) return P .. 'pb:' .. w end
local function push_idle(P, q) return P .. 'pi:' .. q end

-- Removes worker w's registration (qs: its queue list as stored).
local function push_unregister(P, w, qs)
  for _, q in ipairs(cjson.decode(qs)) do redis.call('SREM', push_idle(P, q), w) end
  redis.call('DEL', push_hash(P, w))
end

-- One pushed lease in format `format` ('2', else 1): fields as leaseTasks' reply, the
-- payload (JSON text) inlined in format 2. Format 2 is concatenated: every field but the
-- queue, the handler and the payload is a string of digits (ids, tokens, times, and the
-- integers the enqueue was given), so quoting them is all the encoding they need, and
-- the payload is not escaped at all.
local function push_entry(format, deadline_s, id, q, h, payload, attempt_s, max_attempts, priority, timeout_ms, created_s, run_at_s, token)
  if format ~= '2' then
    return cjson.encode({ deadline_s, id, q, h, payload, attempt_s, max_attempts, priority, timeout_ms, created_s, run_at_s, token })
  end
  return '[2,"' .. deadline_s .. '","' .. id .. '",' .. string.sub(cjson.encode({ q, h }), 2, -2) .. ',' .. payload ..
    ',"' .. attempt_s .. '","' .. max_attempts .. '","' .. priority .. '","' .. timeout_ms .. '","' .. created_s ..
    '","' .. run_at_s .. '","' .. token .. '"]'
end
