-- Shared helpers, included at the top of every script (see scripts.ts).
-- Times are Redis TIME in epoch ms, so every node agrees on lease expiry.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Ready order is priority (higher first) then runAt: one composite zset score.
-- Priorities are -1000..1000 and runAt < 2^42 ms (year 2109), so the score stays
-- below 2^53 and is exact in a double. Formatted with %.0f because Lua's default
-- number-to-string keeps only 14 digits.
local PRIORITY_SPAN = 4398046511104
local function ready_score(priority, run_at)
  return string.format('%.0f', (1000 - tonumber(priority)) * PRIORITY_SPAN + tonumber(run_at))
end

local function int_str(n)
  return string.format('%.0f', n)
end

-- The index a task of a given state lives in (nil for none).
local function state_index(P, state, q)
  if state == 'ready' then return P .. 'r:' .. q end
  if state == 'scheduled' then return P .. 's:' .. q end
  if state == 'retrying' then return P .. 'y:' .. q end
  if state == 'processing' then return P .. 'proc' end
  if state == 'dead' then return P .. 'dead' end
  if state == 'succeeded' then return P .. 'succ' end
  if state == 'canceled' then return P .. 'canc' end
  if state == 'blocked' then return P .. 'blk' end
  return nil
end

-- Per-queue counters for the states whose index is global (processing, dead,
-- succeeded, canceled); per-queue indexes (ready, scheduled, retrying) are counted with ZCARD.
local COUNTER_FIELD = { processing = 'p', dead = 'd', succeeded = 'ok', canceled = 'x', blocked = 'b' }

-- Pending tasks (ready, parked included, scheduled, retrying) per queue and handler:
-- hash ph:<queue>, handler -> count, a field dropped at zero, so the handlers of a
-- queue's pending work are its HKEYS (pending_handlers.lua, the admin overview) and no
-- reader samples tasks. Moves between pending states (promotion, parking) change
-- nothing; every script that moves a task into or out of them keeps the count, once per
-- (queue, handler) per call where it moves many (pending_tally / pending_flush).
-- While the counts of older data are rebuilt (pending_rebuild.lua walks every task in
-- creation order, a page per call), P phc holds the last task sequence it counted: a
-- transition of a task after it changes no count (the walk counts it where it ends up),
-- so the counts stay exact for the tasks walked and are complete when the walk ends.
local PENDING_STATE = { ready = true, scheduled = true, retrying = true }

local function pending_add(P, q, h, delta)
  local key = P .. 'ph:' .. q
  if redis.call('HINCRBY', key, h, delta) <= 0 then redis.call('HDEL', key, h) end
end

-- nil: not read yet in this call; false: no rebuild running; else the last sequence counted
local pending_cursor = nil

-- whether a transition of task `id` changes the counts now
local function pending_counted(P, id)
  if pending_cursor == nil then
    local c = redis.call('GET', P .. 'phc')
    pending_cursor = (c and tonumber(c)) or false
  end
  return pending_cursor == false or tonumber(id) <= pending_cursor
end

-- one task's move into (delta 1) or out of (-1) the pending states
local function pending_move(P, id, q, h, delta)
  if pending_counted(P, id) then pending_add(P, q, h, delta) end
end

-- tally[q][h] += delta for task id; pending_flush writes the sums
local function pending_tally(P, tally, id, q, h, delta)
  if not pending_counted(P, id) then return end
  local per = tally[q]
  if per == nil then per = {}; tally[q] = per end
  per[h] = (per[h] or 0) + delta
end

local function pending_flush(P, tally)
  for q, per in pairs(tally) do
    for h, n in pairs(per) do
      if n ~= 0 then pending_add(P, q, h, n) end
    end
  end
end

local function count_state(P, state, q, h, delta)
  local field = COUNTER_FIELD[state]
  if field then redis.call('HINCRBY', P .. 'c:' .. q, field, delta) end
  -- a handler with a flow limit counts its processing tasks (lib/flow.lua)
  if state == 'processing' and redis.call('HEXISTS', P .. 'fr', h) == 1 then redis.call('HINCRBY', P .. 'fr', h, delta) end
  if state == 'dead' then
    local left = redis.call('HINCRBY', P .. 'dh', h, delta)
    if left <= 0 then redis.call('HDEL', P .. 'dh', h) end
  end
end

-- Parked ready tasks: a lease that meets a ready task whose handler it cannot run moves
-- it from r:<queue> into its handler's parked index (same score, so run order is kept)
-- and names the handler in the queue's parked-handler set. Leases that can run the
-- handler merge that index with r:<queue>; every reader counts and lists it as ready.
-- The queue is length-prefixed so no (queue, handler) pair can share a key with another.
local function parked_key(P, q, h)
  return P .. 'k:' .. #q .. ':' .. q .. ':' .. h
end

local function parked_handlers(P, q)
  return redis.call('SMEMBERS', P .. 'kh:' .. q)
end

-- Forgets a parked index once it is empty, so leases and readers stop looking at it.
local function drop_if_empty(P, q, h)
  if redis.call('EXISTS', parked_key(P, q, h)) == 0 then redis.call('SREM', P .. 'kh:' .. q, h) end
end

-- Every index holding a queue's ready tasks: r:<queue> first, then the parked ones.
local function ready_keys(P, q)
  local keys = { P .. 'r:' .. q }
  for _, h in ipairs(parked_handlers(P, q)) do keys[#keys + 1] = parked_key(P, q, h) end
  return keys
end

local function ready_count(P, q)
  local n = 0
  for _, key in ipairs(ready_keys(P, q)) do n = n + redis.call('ZCARD', key) end
  return n
end

-- Takes a task out of its state's index and counters.
local function leave_state(P, id, state, q, h)
  local key = state_index(P, state, q)
  if key and redis.call('ZREM', key, id) == 0 and state == 'ready' then
    -- not in r:<queue>: a lease parked it
    if redis.call('ZREM', parked_key(P, q, h), id) == 1 then drop_if_empty(P, q, h) end
  end
  count_state(P, state, q, h, -1)
  if PENDING_STATE[state] then pending_move(P, id, q, h, -1) end
end

-- Puts a task into a state's index and counters with the given score.
local function enter_state(P, id, state, q, h, score)
  local key = state_index(P, state, q)
  if key then redis.call('ZADD', key, score, id) end
  count_state(P, state, q, h, 1)
  if PENDING_STATE[state] then pending_move(P, id, q, h, 1) end
end

-- Task dependencies. A child (enqueued with dependsOn) keeps its parents in 'dp'
-- (comma separated), its policy in 'pf' ('cancel' | 'dead') and how many parents it
-- still waits for in 'pp', with a field 'pd:<parent>' for each parent already counted
-- (a parent requeued after its success that succeeds again counts once); a parent that
-- has children has 'kc' = '1' and their ids in the set kids:<id>. Scripts that finish a
-- task read 'kc' with the fields they read anyway and call settle_children only when
-- it is set, so tasks without children pay nothing.

-- Prepends an error to the task's bounded error history (newest first, at most 10).
local function push_error(encoded, entry)
  local list = {}
  if encoded and encoded ~= '' then
    local ok, decoded = pcall(cjson.decode, encoded)
    if ok and type(decoded) == 'table' then list = decoded end
  end
  local out = { entry }
  for i = 1, math.min(#list, 9) do out[#out + 1] = list[i] end
  return cjson.encode(out)
end

-- The tasks settle_children canceled or dead-lettered in this script run (and tasks
-- enqueue.lua gave their policy at once), as flat id, queue, state triples, at most
-- CASCADE_REPORT_MAX tasks: the scripts that finish tasks return it as one more reply
-- element, and the backend reports it to Backend.watchCascades' listeners.
local CASCADE_REPORT_MAX = 10000
local cascaded = {}
local function note_cascaded(id, q, state)
  if #cascaded < CASCADE_REPORT_MAX * 3 then
    cascaded[#cascaded + 1] = id; cascaded[#cascaded + 1] = q; cascaded[#cascaded + 1] = state
  end
end

-- A parent reached `outcome` ('succeeded', 'dead', 'canceled', or 'deleted' before it
-- succeeded). Success: each blocked child waits for one parent less and becomes ready
-- (or scheduled, by its runAt) when none is left. Otherwise blocked children are
-- canceled or dead-lettered by their policy, naming the parent, and the same applies
-- to their own children, breadth first, so a deep graph needs no deep recursion.
local function settle_children(P, root, outcome)
  local now = now_ms()
  local worklist = { { root, outcome } }
  local woken = {}
  local i = 1
  while i <= #worklist do
    local id, how = worklist[i][1], worklist[i][2]
    i = i + 1
    for _, cid in ipairs(redis.call('SMEMBERS', P .. 'kids:' .. id)) do
      local ck = P .. 't:' .. cid
      local f = redis.call('HMGET', ck, 's', 'q', 'h', 'pf', 'pr', 'ra', 'kc', 'er', 'a')
      if f[1] == 'blocked' then
        local q, h = f[2], f[3]
        -- each parent counts once ('pd:<parent>' marks it), however often it succeeds
        if how == 'succeeded' and redis.call('HSETNX', ck, 'pd:' .. id, '1') == 1 then
          if redis.call('HINCRBY', ck, 'pp', -1) <= 0 then
            leave_state(P, cid, 'blocked', q, h)
            local run_at = tonumber(f[6])
            if run_at > now then
              enter_state(P, cid, 'scheduled', q, h, int_str(run_at))
              redis.call('HSET', ck, 's', 'scheduled', 'ua', now)
            else
              enter_state(P, cid, 'ready', q, h, ready_score(f[5], run_at))
              redis.call('HSET', ck, 's', 'ready', 'ua', now)
              woken[q] = true
            end
          end
        elseif how ~= 'succeeded' then
          local target = 'canceled'
          if f[4] == 'dead' then target = 'dead' end
          local message = 'parent task ' .. id .. ' was ' .. how
          leave_state(P, cid, 'blocked', q, h)
          enter_state(P, cid, target, q, h, now)
          redis.call('HSET', ck, 's', target, 'le', message, 'fa', now, 'ua', now)
          if target == 'dead' then
            redis.call('HSET', ck, 'er', push_error(f[8], { attempt = tonumber(f[9]) or 0, message = message, at = now }))
          end
          note_cascaded(cid, q, target)
          if f[7] == '1' then worklist[#worklist + 1] = { cid, target } end
        end
      end
    end
  end
  for q in pairs(woken) do redis.call('PUBLISH', P .. 'work', q) end
end

-- Removes a task and every trace of it (indexes, counters, idempotency key). A parent
-- removed before it succeeded settles its blocked children as if it had died.
local function erase_task(P, id, f_state, f_queue, f_handler, f_ikey)
  if redis.call('HGET', P .. 't:' .. id, 'kc') == '1' then
    if f_state ~= 'succeeded' then settle_children(P, id, 'deleted') end
    redis.call('DEL', P .. 'kids:' .. id)
  end
  leave_state(P, id, f_state, f_queue, f_handler)
  redis.call('ZREM', P .. 'all', id)
  if f_ikey and f_ikey ~= '' and redis.call('HGET', P .. 'idem', f_ikey) == id then
    redis.call('HDEL', P .. 'idem', f_ikey)
  end
  redis.call('DEL', P .. 't:' .. id)
end

local function set_of(csv)
  local s = {}
  for v in string.gmatch(csv, '[^,]+') do s[v] = true end
  return s
end
