-- Leases up to ARGV[4] jobs from the queues after the handler names, in that order,
-- in one call. Each job is taken by BullMQ's own moveToActive (defined above as
-- bullmqScript()), run once per job with the keys and arguments a BullMQ Worker
-- passes, so priority order, pause, rate limits, delayed promotion, markers and events
-- stay BullMQ's. Only jobs whose name is one of the handler names are taken (see
-- handler-filter.lua, included above). Every job gets its own lock token (ARGV[5] .. n)
-- and its lease expiry recorded, by lib/lease-take.lua as push delivery does (lib/push-lease.lua).
-- ARGV[1] key prefix ("<prefix>:"), ARGV[2] own key base, ARGV[3] timestamp (the
-- caller's clock, as BullMQ's workers pass it), ARGV[6] lock duration (ms),
-- ARGV[7] worker id (BullMQ's processedBy), ARGV[8] jobs parked at most per queue,
-- ARGV[9] '1': within the global rate limit (leaseWithinRateLimit), '0': not,
-- ARGV[10] n handler names (-1: every handler), ARGV[11..10+n] the names, then queue names.
-- Returns {queue, jobId, token, job hash (flat), lease expiry} per leased job; within
-- the rate limit {jobs, 1 when the permits ran out before the queues did, else 0}.
-- Within the rate limit (<own>ratelimit, counted per window in <own>ratewindow:<n> as
-- rate-permits.lua counts) the jobs are stamped with the Redis clock read here instead
-- of the caller's (processedOn, Task.startedAt), at most the permits the window of that
-- time has left are leased, and the jobs taken count in it: by start time no window
-- holds more than the limit.
--!include kept-counts
--!include lease-take
local rcall = redis.call
local prefix, own, timestamp = ARGV[1], ARGV[2], ARGV[3]
local limit, tokenBase, lockDuration, workerId = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), ARGV[7]
local parkCap, rated, nHandlers = tonumber(ARGV[8]), ARGV[9] == '1', tonumber(ARGV[10])
local runs = nil
local firstQueue = 11
if nHandlers >= 0 then
  runs = {}
  for i = 11, 10 + nHandlers do runs[ARGV[i]] = true end
  firstQueue = 11 + nHandlers
end
local queues = {}
for i = firstQueue, #ARGV do queues[#queues + 1] = ARGV[i] end
for i = #ARGV, 4, -1 do ARGV[i] = nil end

local out = {}
-- the rate limit's window counter and what it had; cut: the permits, not the queues, bound this lease
local rate = nil
local function finish()
  if not rated then return out end
  return { out, (rate ~= nil and rate.cut and #out >= limit) and 1 or 0 }
end
if nHandlers == 0 then return finish() end
-- The global pause, cordons, flow limits and the first queue's retry marks: in the common
-- case none is stored, and one EXISTS says so instead of four commands; otherwise each is
-- looked at on its own.
local stored = rcall('EXISTS', own .. 'paused', own .. 'workers-cordoned', own .. 'fl', own .. 'retry:' .. (queues[1] or '')) > 0
-- whether queues[1] has retry marks, nil: not known (leaseQueue reads it)
local firstRetries = nil
if stored then
  if rcall('EXISTS', own .. 'paused') == 1 then return finish() end
  -- a worker an operator cordoned leases nothing (workers.lua keeps the cordon hash)
  if rcall('HEXISTS', own .. 'workers-cordoned', workerId) == 1 then return finish() end
else
  firstRetries = false
end
-- flow limits (flow.lua): nil without any; with some, a saturated handler is one the
-- caller cannot run now (the filter parks its jobs) and each queue takes what its limit leaves
local fl = nil
if stored then fl = flowOpen(prefix, own) end
if fl ~= nil then
  local callerRuns = runs
  runs = setmetatable({}, { __index = function(_, name)
    return (callerRuns == nil or callerRuns[name] == true) and flowHandlerOk(fl, name)
  end })
end
local t = rcall('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expires = nowMs + lockDuration
if rated then
  local cfg = rcall('HMGET', own .. 'ratelimit', 'limit', 'windowMs')
  local rateLimit, windowMs = tonumber(cfg[1]), tonumber(cfg[2])
  if rateLimit and windowMs then
    timestamp = string.format('%d', nowMs)
    rate = { key = own .. 'ratewindow:' .. math.floor(nowMs / windowMs), windowMs = windowMs }
    local left = rateLimit - (tonumber(rcall('GET', rate.key)) or 0)
    rate.cut = left < limit
    if left < limit then limit = math.max(0, left) end
  end
end
-- as a string made once: Redis printf-formats every Lua number argument of redis.call
local expiresStr = string.format('%d', expires)

for _, queue in ipairs(queues) do
  if #out >= limit then break end
  if rcall('SISMEMBER', own .. 'queues', queue) == 1 then
    local base = prefix .. queue .. ':'
    local retries = nil
    if queue == queues[1] then retries = firstRetries end
    local lq = leaseQueue(own, base, queue, timestamp, retries)
    -- a BullMQ-paused queue gives nothing: nothing to choose or park there
    local filter = nil
    if rcall('HEXISTS', base .. 'meta', 'paused') == 0 then filter = newFilter(own, base, queue, runs, parkCap, limit - #out) end
    -- tenant limits: a job of a saturated tenant is parked (or left parked) like one of a
    -- saturated handler; a filter always exists while limits do (runs is set above)
    if filter ~= nil and fl ~= nil and fl.anyTenant then
      filter.jobOk = function(id) return flowJobOk(fl, base, id) end
    end
    local queueLeft = nil
    if fl ~= nil then queueLeft = flowQueueLeft(fl, prefix, queue) end
    while #out < limit and (queueLeft == nil or queueLeft > 0) do
      if filter ~= nil and chooseNext(filter, timestamp) == nil then break end
      local token = tokenBase .. (#out + 1)
      local reply = leaseTake(lq, bullmqScript, filter, token, lockDuration, workerId, expiresStr)
      if reply == nil then break end
      local jobId = reply[2]
      out[#out + 1] = { queue, jobId, token, reply[1], expires }
      if fl ~= nil then
        local tn = nil
        if fl.anyTenant then tn = flowJobTenant(base, jobId) end
        flowTook(fl, queue, rcall('HGET', base .. jobId, 'name'), tn)
        if queueLeft ~= nil then queueLeft = queueLeft - 1 end
      end
    end
    if filter ~= nil then finishFilter(filter) end
  end
end
if fl ~= nil then flowClose(fl) end
kept.flush()
if rate ~= nil and #out > 0 then
  rcall('INCRBY', rate.key, #out)
  rcall('PEXPIRE', rate.key, rate.windowMs * 2)
end
return finish()
