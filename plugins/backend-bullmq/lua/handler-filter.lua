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
--    job) it is put at the wait list's tail, which BullMQ pops before anything else. If
--    the pop does not happen (queue maxed, rate limited, lease lost) settle() puts it
--    back. (An ack of a job with a parent may move the parent to wait before fetch-next
--    pops; backend.ts sends no fetch-next in a batch with such an ack.)
-- A lease with every handler and nothing parked skips all of this.

local PARKED_WAIT_BASE = -4503599627370496 -- -2^52: parked wait-list jobs come before every prioritized score

-- Filter state for one queue of one call; nil when nothing needs filtering. What it
-- learns of the queue's head (the wait list empty, the first `batch` prioritized ids)
-- stays valid inside the call until something other than the pops it chose changes
-- the queue (a promotion, a pop that did not happen): forget().
local function newFilter(own, base, queue, runs, parkCap, batch)
  local sources = {}
  for _, name in ipairs(redis.call('SMEMBERS', own .. 'parkedh:' .. queue)) do
    if runs == nil or runs[name] then
      sources[#sources + 1] = { key = own .. 'parked:' .. queue .. ':' .. name, name = name }
    end
  end
  if runs == nil and #sources == 0 then return nil end
  return { own = own, base = base, queue = queue, runs = runs, sources = sources, parked = 0, parkCap = parkCap,
    batch = math.max(1, math.min(batch, 100)), promotedAt = nil, chosen = nil, parkedNames = {}, known = nil, waitEmpty = false }
end

local function forget(f)
  f.known = nil
  f.waitEmpty = false
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
  -- the calls of one batch mostly share their timestamp: no tonumber (a strtod) for those
  if timestamp == f.promotedText then return end
  local at = tonumber(timestamp)
  if f.promotedAt ~= nil and f.promotedAt >= at then return end
  f.promotedAt, f.promotedText = at, timestamp
  local b = f.base
  if #redis.call('ZRANGEBYSCORE', b .. 'delayed', 0, (at + 1) * 0x1000 - 1, 'LIMIT', 0, 1) == 0 then return end
  local target, isPausedOrMaxed = getTargetQueueList(b .. 'meta', b .. 'active', b .. 'wait', b .. 'paused')
  promoteDelayedJobs(b .. 'delayed', b .. 'marker', target, b .. 'prioritized', b .. 'events', b, timestamp, b .. 'pc', isPausedOrMaxed)
  forget(f)
end

-- After a BullMQ pop that was to take the chosen job (`popped`: the id it took, if
-- any): a job placed on the wait list and still there goes back where it was.
local function settle(f, popped)
  local c = f.chosen
  f.chosen = nil
  if c == nil then return end
  if c.source then
    -- a parked job placed on the wait list and not popped goes back to its parked set
    if redis.call('LINDEX', f.base .. 'wait', -1) == c.id then
      redis.call('RPOP', f.base .. 'wait')
      redis.call('ZADD', c.source.key, c.score, c.id)
      redis.call('SADD', f.own .. 'parkedh:' .. f.queue, c.source.name)
      c.source.id, c.source.empty = nil, false
      forget(f)
    end
  elseif popped ~= c.id then
    forget(f)
  end
end

local function place(f, c)
  redis.call('RPUSH', f.base .. 'wait', c.id)
  f.chosen = c
  return c.id
end

local function waitTail(f)
  if f.waitEmpty then return nil end
  local head = redis.call('LINDEX', f.base .. 'wait', -1)
  if not head then
    f.waitEmpty = true
    return nil
  end
  return head
end

-- the lowest prioritized id and score, read `batch` at a time
local function prioritizedHead(f)
  local k = f.known
  if k == nil or (k.pos > #k.ids and not k.all) then
    local r = redis.call('ZRANGE', f.base .. 'prioritized', 0, f.batch - 1, 'WITHSCORES')
    k = { ids = {}, scores = {}, pos = 1, all = #r < f.batch * 2 }
    for i = 1, #r, 2 do
      k.ids[#k.ids + 1] = r[i]
      k.scores[#k.scores + 1] = tonumber(r[i + 1])
    end
    f.known = k
  end
  return k.ids[k.pos], k.scores[k.pos]
end

-- Prepares BullMQ's next pop (at `timestamp`) to take a job the caller runs; returns
-- its id, or nil when the queue has none (or the parking cap was reached).
local function chooseNext(f, timestamp)
  local wait, prioritized = f.base .. 'wait', f.base .. 'prioritized'
  promoteDue(f, timestamp)
  while true do
    local headScore = nil
    local head = waitTail(f)
    local fromWait = head ~= nil
    if not fromWait then head, headScore = prioritizedHead(f) end
    if fromWait and string.sub(head, 1, 2) == '0:' then
      -- BullMQ 4's markers in the wait list: BullMQ drops them when it meets them
      redis.call('RPOP', wait)
    else
      local best = nil
      for _, s in ipairs(f.sources) do
        if f.jobOk ~= nil and (f.runs == nil or f.runs[s.name]) and sourceHead(s) and not f.jobOk(s.id) then
          -- its head's tenant is saturated (f.jobOk): nothing more from this set in this call
          s.id, s.empty = nil, true
        end
        if (f.runs == nil or f.runs[s.name]) and sourceHead(s) and (best == nil or s.score < best.score or (s.score == best.score and s.id < best.id)) then best = s end
      end
      if best ~= nil and (head == nil or best.score < PARKED_WAIT_BASE / 2
          or (not fromWait and (best.score < headScore or (best.score == headScore and best.id < head)))) then
        local c = { id = best.id, score = best.score, source = best }
        redis.call('ZREM', best.key, best.id)
        best.id = nil
        return place(f, c)
      end
      if head == nil then return nil end
      local name = redis.call('HGET', f.base .. head, 'name')
      -- a job without a hash is BullMQ's to deal with, as it would without the filter
      if not name or ((f.runs == nil or f.runs[name]) and (f.jobOk == nil or f.jobOk(head))) then
        if not fromWait then f.known.pos = f.known.pos + 1 end
        f.chosen = { id = head }
        return head
      end
      if f.parked >= f.parkCap then return nil end
      if fromWait then
        redis.call('RPOP', wait)
        park(f, head, name, PARKED_WAIT_BASE + redis.call('INCR', f.own .. 'parkseq'))
      else
        redis.call('ZREM', prioritized, head)
        f.known.pos = f.known.pos + 1
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
