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
  return nil
end

-- Per-queue counters for the states whose index is global (processing, dead,
-- succeeded, canceled); per-queue indexes (ready, scheduled, retrying) are counted with ZCARD.
local COUNTER_FIELD = { processing = 'p', dead = 'd', succeeded = 'ok', canceled = 'x' }

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
end

-- Puts a task into a state's index and counters with the given score.
local function enter_state(P, id, state, q, h, score)
  local key = state_index(P, state, q)
  if key then redis.call('ZADD', key, score, id) end
  count_state(P, state, q, h, 1)
end

-- Removes a task and every trace of it (indexes, counters, idempotency key).
local function erase_task(P, id, f_state, f_queue, f_handler, f_ikey)
  leave_state(P, id, f_state, f_queue, f_handler)
  redis.call('ZREM', P .. 'all', id)
  if f_ikey and f_ikey ~= '' and redis.call('HGET', P .. 'idem', f_ikey) == id then
    redis.call('HDEL', P .. 'idem', f_ikey)
  end
  redis.call('DEL', P .. 't:' .. id)
end

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

local function set_of(csv)
  local s = {}
  for v in string.gmatch(csv, '[^,]+') do s[v] = true end
  return s
end
