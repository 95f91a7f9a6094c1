-- Task dependencies (capability `dependencies`), after prelude.lua (uses its `own`,
-- nowMs, emit and pushReady). A child enqueued with dependsOn keeps its parents' task
-- ids in its job hash ('sydp', a JSON array), its policy ('sypf': 'cancel' | 'dead')
-- and how many parents it still waits for ('sypp', with a field 'sypd:<parent>' for
-- each parent already counted, so a parent requeued after its success counts once).
-- While blocked it is in none of BullMQ's structures, only in own..'blocked:<queue>'
-- (score: when it was blocked), so no BullMQ worker, Switchyard's or another, can see it. A parent's children are the
-- set own..'kids:<parent task id>'. own..'dp' exists once any child was enqueued: the
-- paths that finish tasks look for children only when it does, so a deployment that
-- never uses dependencies pays nothing.

local function depTaskId(q, jid)
  if rcall('HGET', own .. 'idx', jid) == q then return jid end
  return q .. ':' .. jid
end

local function depQueueBase(q)
  -- own is "<prefix>::sy:", a queue's key base "<prefix>:<queue>:"
  return string.sub(own, 1, -6) .. ':' .. q .. ':'
end

-- the run time a blocked job was enqueued with, read as task-view.ts reads it
local function depRunAt(b, jid)
  local f = rcall('HMGET', b .. jid, 'syra', 'opts', 'timestamp', 'delay')
  if tonumber(f[1]) then return tonumber(f[1]) end
  local ok, opts = pcall(cjson.decode, f[2] or '{}')
  if ok and type(opts) == 'table' and type(opts['sy']) == 'table' and tonumber(opts['sy']['r']) then return tonumber(opts['sy']['r']) end
  return (tonumber(f[3]) or 0) + (tonumber(f[4]) or 0)
end

-- A blocked job whose last parent succeeded: scheduled by its run time, else ready
-- (with the wake-ups a ready job gets: BullMQ's marker and Switchyard's work channel).
local function depRelease(b, q, jid, now)
  rcall('ZREM', own .. 'blocked:' .. q, jid)
  local runAt = depRunAt(b, jid)
  rcall('HSET', b .. jid, 'syu', now)
  if runAt > now then
    -- BullMQ's delayed score: run time << 12 plus a tie-breaker within the millisecond
    local minScore = runAt * 0x1000
    local maxScore = (runAt + 1) * 0x1000 - 1
    local score = minScore
    local top = rcall('ZREVRANGEBYSCORE', b .. 'delayed', maxScore, minScore, 'WITHSCORES', 'LIMIT', 0, 1)
    if top[2] then score = math.min(maxScore, tonumber(top[2]) + 1) end
    rcall('ZADD', b .. 'delayed', score, jid)
    countJob(b, jid, 'hp:', 1)
    rcall('HSET', b .. jid, 'delay', runAt - now)
    local first = rcall('ZRANGE', b .. 'delayed', 0, 0, 'WITHSCORES')
    if first[2] then rcall('ZADD', b .. 'marker', math.floor(tonumber(first[2]) / 0x1000), '1') end
    emit(b, 'event', 'delayed', 'jobId', jid, 'delay', runAt)
  else
    pushReady(b, jid, false)
    emit(b, 'event', 'waiting', 'jobId', jid, 'prev', 'blocked')
    rcall('PUBLISH', own .. 'work', q)
  end
end

-- The tasks depFail canceled or dead-lettered in this script run, as flat task id,
-- queue, state triples (at most 10,000 tasks): the scripts that finish tasks return it
-- (see each), and the backend reports it to Backend.watchCascades' listeners.
local cascaded = {}

-- A blocked job (already out of every structure) whose parent died: canceled or
-- dead-lettered by its policy, naming the parent. Returns the state it took.
local function depFail(b, q, jid, policy, message, now)
  local jobKey = b .. jid
  if #cascaded < 30000 then
    cascaded[#cascaded + 1] = depTaskId(q, jid); cascaded[#cascaded + 1] = q
    if policy == 'dead' then cascaded[#cascaded + 1] = 'dead' else cascaded[#cascaded + 1] = 'canceled' end
  end
  if policy == 'dead' then
    local f = rcall('HMGET', jobKey, 'ats', 'sye')
    local errors = withError(f[2], {attempt = tonumber(f[1]) or 0, message = message, at = now})
    rcall('ZADD', b .. 'failed', now, jid)
    countJob(b, jid, 'hd:', 1)
    rcall('HSET', jobKey, 'failedReason', message, 'finishedOn', now, 'syu', now, 'sye', errors)
    emit(b, 'event', 'failed', 'jobId', jid, 'failedReason', message, 'prev', 'blocked')
    return 'dead'
  end
  rcall('ZADD', own .. 'canceled:' .. q, now, jid)
  rcall('HSET', jobKey, 'failedReason', message, 'finishedOn', now, 'syu', now, 'syc', '1')
  emit(b, 'event', 'removed', 'jobId', jid, 'prev', 'blocked')
  return 'canceled'
end

-- The parent task `rootId` reached `outcome` ('succeeded', 'dead', 'canceled', or
-- 'deleted' before it succeeded). Success: each blocked child waits for one parent
-- less and is released when none is left. Otherwise blocked children are canceled or
-- dead-lettered by their policy, and the same applies to their own blocked children,
-- breadth first (no deep recursion). Children no longer blocked are left as they are.
local function settleChildren(rootId, outcome)
  if rcall('EXISTS', own .. 'kids:' .. rootId) == 0 then return end
  local now = nowMs()
  local worklist = { { rootId, outcome } }
  local i = 1
  while i <= #worklist do
    local pid, how = worklist[i][1], worklist[i][2]
    i = i + 1
    for _, cid in ipairs(rcall('SMEMBERS', own .. 'kids:' .. pid)) do
      local cq = rcall('HGET', own .. 'idx', cid)
      if cq and rcall('ZSCORE', own .. 'blocked:' .. cq, cid) then
        local cb = depQueueBase(cq)
        if how == 'succeeded' then
          -- each parent counts once ('sypd:<parent>' marks it), however often it succeeds
          if rcall('HSETNX', cb .. cid, 'sypd:' .. pid, '1') == 1 and rcall('HINCRBY', cb .. cid, 'sypp', -1) <= 0 then depRelease(cb, cq, cid, now) end
        else
          rcall('ZREM', own .. 'blocked:' .. cq, cid)
          local target = depFail(cb, cq, cid, rcall('HGET', cb .. cid, 'sypf'), 'parent task ' .. pid .. ' was ' .. how, now)
          if rcall('EXISTS', own .. 'kids:' .. cid) == 1 then worklist[#worklist + 1] = { cid, target } end
        end
      end
    end
  end
end

-- settleChildren for a job of queue q that just reached `outcome`, when any child exists
local function settleJob(q, jid, outcome)
  if rcall('EXISTS', own .. 'dp') == 0 then return end
  settleChildren(depTaskId(q, jid), outcome)
end

-- Right after a run of BullMQ's moveToFinished (KEYS and ARGV still its own: ARGV[1]
-- job id, ARGV[5] target, ARGV[7] the queue's key base, KEYS[11] the target set): a
-- job it finished settles its children. A reply below 0 finished nothing.
local function settleFinished(reply)
  if type(reply) == 'number' and reply < 0 then return end
  local q = string.match(ARGV[7], ':([^:]+):$')
  if q == nil or not rcall('ZSCORE', KEYS[11], ARGV[1]) then return end
  local outcome = 'dead'
  if ARGV[5] == 'completed' then outcome = 'succeeded' end
  settleChildren(depTaskId(q, ARGV[1]), outcome)
end

-- The state of parent task `pid` (deps.lua's ids: a Switchyard id, or "<queue>:<job id>"
-- for a job Switchyard did not create); nil when it is stored nowhere.
local function depParentState(pid)
  local pq, pj = string.match(pid, '^([^:]+):(.+)$')
  if pq == nil then
    pq, pj = rcall('HGET', own .. 'idx', pid), pid
    if not pq then return nil end
  end
  return jobState(depQueueBase(pq), pq, pj)
end

-- A parent finished where Switchyard's scripts did not see it (a plain BullMQ worker,
-- BullMQ's own stalled check) settles no child when it finishes. The lease recovery
-- sweep (recover.lua) runs this per queue: it looks at blocked children of queue q,
-- round robin from where the last sweep stopped, reading at most `most` parent states,
-- and settles each edge to a finished parent that was not counted yet: a success
-- counts once (the 'sypd:' mark); a dead or canceled parent, or one stored nowhere
-- (deleted, or removed by BullMQ's removeOnComplete before its success was counted),
-- applies the child's policy. Returns how many children it released or failed.
local function sweepBlocked(q, most)
  if rcall('EXISTS', own .. 'dp') == 0 or most <= 0 then return 0 end
  local blockedKey = own .. 'blocked:' .. q
  local cursorKey = own .. 'sweep:' .. q
  local from = tonumber(rcall('GET', cursorKey)) or 0
  local children = rcall('ZRANGE', blockedKey, from, from + most - 1)
  local b = depQueueBase(q)
  local now = nowMs()
  local settled, reads, seen = 0, 0, 0
  for _, cid in ipairs(children) do
    if reads >= most then break end
    seen = seen + 1
    local f = rcall('HMGET', b .. cid, 'sydp', 'sypf')
    local ok, parents = pcall(cjson.decode, f[1] or '[]')
    if not ok or type(parents) ~= 'table' then parents = {} end
    for _, pid in ipairs(parents) do
      if rcall('HEXISTS', b .. cid, 'sypd:' .. pid) == 0 then
        reads = reads + 1
        local state = depParentState(pid)
        if state == 'succeeded' then
          rcall('HSET', b .. cid, 'sypd:' .. pid, '1')
          if rcall('HINCRBY', b .. cid, 'sypp', -1) <= 0 then
            depRelease(b, q, cid, now)
            settled = settled + 1
            break
          end
        elseif state == nil or state == 'dead' or state == 'canceled' then
          rcall('ZREM', blockedKey, cid)
          local target = depFail(b, q, cid, f[2], 'parent task ' .. pid .. ' was ' .. (state or 'deleted'), now)
          settleChildren(cid, target)
          settled = settled + 1
          break
        end
      end
    end
  end
  -- the next sweep goes on after the children looked at (less the ones that left the set)
  if seen < #children or #children == most then rcall('SET', cursorKey, from + seen - settled)
  else rcall('DEL', cursorKey) end
  return settled
end
