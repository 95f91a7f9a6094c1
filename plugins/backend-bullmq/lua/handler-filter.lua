-- Leasing only the jobs whose handler (job name) the caller runs, with BullMQ's own
-- moveToActive / fetch-next still doing every move to active.
--
-- Before each BullMQ pop, chooseNext looks at the job BullMQ would take (the wait
-- list's tail, else the lowest prioritized score) and at the heads of the parked sets
-- of the caller's handlers, and makes sure the pop takes the one that comes first in
-- run order and that the caller can run:
--  * a job the caller cannot run is parked: moved out of wait/prioritized into
--    "<own>parked:<queue>:<name>" (a zset, its prioritized score kept, so order among
--    parked jobs holds; wait-list jobs get scores below every prioritized one, in the
--    order they were met) and its name added to "<own>parkedh:<queue>". It is met once,
--    not on every lease; every Switchyard reader still sees it as ready (prelude.lua).
--  * due delayed jobs are promoted first (BullMQ's promoteDelayedJobs, as its pop does),
--    so the head looked at is the head BullMQ pops;
--  * the chosen job is normally already what BullMQ pops next; when it is not (a parked
--    job, or for fetch-next after an ack that may move a parent job to wait) it is
--    put at the wait list's tail, which BullMQ pops before anything else. If the pop
--    does not happen (queue maxed, rate limited, lease lost) settle() puts it back.
-- A lease with every handler and nothing parked skips all of this.

local PARKED_WAIT_BASE = -4503599627370496 -- -2^52: parked wait-list jobs come before every prioritized score

-- filter state for one queue of one call; nil when nothing needs filtering
local function newFilter(own, base, queue, runs, parkCap)
  local sources = {}
  for _, name in ipairs(redis.call('SMEMBERS', own .. 'parkedh:' .. queue)) do
    if runs == nil or runs[name] then
      sources[#sources + 1] = { key = own .. 'parked:' .. queue .. ':' .. name, name = name }
    end
  end
  if runs == nil and #sources == 0 then return nil end
  return { own = own, base = base, queue = queue, runs = runs, sources = sources, parked = 0, parkCap = parkCap,
    promotedAt = nil, chosen = nil, parkedNames = {} }
end

local function sourceHead(s)
  if s.id == nil and not s.empty then
    local r = redis.call('ZRANGE', s.key, 0, 0, 'WITHSCORES')
    if #r == 0 then s.empty = true else s.id, s.score = r[1], tonumber(r[2]) end
  end
  return s.id
end

local function park(f, jobId, name, score)
  redis.call('ZADD', f.own .. 'parked:' .. f.queue .. ':' .. name, score, jobId)
  if not f.parkedNames[name] then
    redis.call('SADD', f.own .. 'parkedh:' .. f.queue, name)
    f.parkedNames[name] = true
  end
  f.parked = f.parked + 1
end

-- Promotes the delayed jobs due at `timestamp` with BullMQ's own promoteDelayedJobs
-- (hoisted from the wrapped script, see bullmq-batch.ts), as BullMQ's pop would first:
-- a due job must be seen (and maybe chosen) before the pop, and a job no lease takes
-- must still become ready.
local function promoteDue(f, timestamp)
  if f.promotedAt ~= nil and f.promotedAt >= tonumber(timestamp) then return end
  local b = f.base
  local target, isPausedOrMaxed = getTargetQueueList(b .. 'meta', b .. 'active', b .. 'wait', b .. 'paused')
  promoteDelayedJobs(b .. 'delayed', b .. 'marker', target, b .. 'prioritized', b .. 'events', b, timestamp, b .. 'pc', isPausedOrMaxed)
  f.promotedAt = tonumber(timestamp)
end

-- After a BullMQ pop at `timestamp`: due delayed jobs are promoted; the chosen job,
-- if it was placed on the wait list and is still there, goes back where it was.
local function settle(f, timestamp)
  if timestamp ~= nil then f.promotedAt = math.max(f.promotedAt or 0, tonumber(timestamp)) end
  local c = f.chosen
  f.chosen = nil
  if c == nil or not c.placed then return end
  if redis.call('LINDEX', f.base .. 'wait', -1) ~= c.id then return end
  redis.call('RPOP', f.base .. 'wait')
  if c.parkedKey then
    redis.call('ZADD', c.parkedKey, c.score, c.id)
    redis.call('SADD', f.own .. 'parkedh:' .. f.queue, c.name)
  else
    redis.call('ZADD', f.base .. 'prioritized', c.score, c.id)
  end
end

local function place(f, c)
  redis.call('RPUSH', f.base .. 'wait', c.id)
  c.placed = true
  f.chosen = c
  return c.id
end

-- Prepares BullMQ's next pop (at `timestamp`) to take a job the caller runs; returns
-- its id, or nil when the queue has none (or the parking cap was reached). With
-- alwaysPlace, the job is put at the wait tail even when BullMQ would pop it anyway
-- (for fetch-next after an ack that may change the queue before the pop).
local function chooseNext(f, timestamp, alwaysPlace)
  local wait, prioritized = f.base .. 'wait', f.base .. 'prioritized'
  promoteDue(f, timestamp)
  while true do
    local head, headScore, fromWait = redis.call('LINDEX', wait, -1), nil, false
    if head == false then head = nil end
    if head then
      fromWait = true
      -- BullMQ 4's markers in the wait list: BullMQ drops them when it meets them
      if string.sub(head, 1, 2) == '0:' then
        redis.call('RPOP', wait)
        head = nil
      end
    end
    if not fromWait then
      local r = redis.call('ZRANGE', prioritized, 0, 0, 'WITHSCORES')
      if #r > 0 then head, headScore = r[1], tonumber(r[2]) end
    end
    if fromWait and head == nil then
      -- a marker was dropped: look again
    else
      local best = nil
      for _, s in ipairs(f.sources) do
        if sourceHead(s) and (best == nil or s.score < best.score or (s.score == best.score and s.id < best.id)) then best = s end
      end
      if best ~= nil and (head == nil or best.score < PARKED_WAIT_BASE / 2
          or (not fromWait and (best.score < headScore or (best.score == headScore and best.id < head)))) then
        local c = { id = best.id, score = best.score, parkedKey = best.key, name = best.name }
        redis.call('ZREM', best.key, best.id)
        best.id = nil
        return place(f, c)
      end
      if head == nil then return nil end
      local name = redis.call('HGET', f.base .. head, 'name')
      -- a job without a hash is BullMQ's to deal with, as it would without the filter
      if not name or f.runs == nil or f.runs[name] then
        if fromWait or not alwaysPlace then return head end
        redis.call('ZREM', prioritized, head)
        return place(f, { id = head, score = headScore })
      end
      if f.parked >= f.parkCap then return nil end
      if fromWait then
        redis.call('RPOP', wait)
        park(f, head, name, PARKED_WAIT_BASE + redis.call('INCR', f.own .. 'parkseq'))
      else
        redis.call('ZREM', prioritized, head)
        park(f, head, name, headScore)
      end
    end
  end
end

-- Forgets the caller's parked sets that it emptied.
local function finishFilter(f)
  for _, s in ipairs(f.sources) do
    if redis.call('EXISTS', s.key) == 0 then redis.call('SREM', f.own .. 'parkedh:' .. f.queue, s.name) end
  end
end
