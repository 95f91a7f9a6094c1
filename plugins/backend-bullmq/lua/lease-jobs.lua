-- Leases up to ARGV[4] jobs from the queues after the handler names, in that order,
-- in one call. Each job is taken by BullMQ's own moveToActive (defined above as
-- bullmqScript()), run once per job with the keys and arguments a BullMQ Worker
-- passes, so priority order, pause, rate limits, delayed promotion, markers and events
-- stay BullMQ's. Only jobs whose name is one of the handler names are taken (see
-- handler-filter.lua, included above). Every job gets its own lock token (ARGV[5] .. n)
-- and its lease expiry recorded.
-- ARGV[1] key prefix ("<prefix>:"), ARGV[2] own key base, ARGV[3] timestamp (the
-- caller's clock, as BullMQ's workers pass it), ARGV[6] lock duration (ms),
-- ARGV[7] worker id (BullMQ's processedBy), ARGV[8] jobs parked at most per queue,
-- ARGV[9] n handler names (-1: every handler), ARGV[10..9+n] the names, then queue names.
-- Returns {queue, jobId, token, job hash (flat), lease expiry} per leased job.
--!include kept-counts
local rcall = redis.call
local prefix, own, timestamp = ARGV[1], ARGV[2], ARGV[3]
local limit, tokenBase, lockDuration, workerId = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), ARGV[7]
local parkCap, nHandlers = tonumber(ARGV[8]), tonumber(ARGV[9])
local runs = nil
local firstQueue = 10
if nHandlers >= 0 then
  runs = {}
  for i = 10, 9 + nHandlers do runs[ARGV[i]] = true end
  firstQueue = 10 + nHandlers
end
local queues = {}
for i = firstQueue, #ARGV do queues[#queues + 1] = ARGV[i] end
for i = #ARGV, 4, -1 do ARGV[i] = nil end

local out = {}
if nHandlers == 0 then return out end
if rcall('EXISTS', own .. 'paused') == 1 then return out end
-- a worker an operator cordoned leases nothing (workers.lua keeps the cordon hash)
if rcall('HEXISTS', own .. 'workers-cordoned', workerId) == 1 then return out end
-- flow limits (flow.lua): nil without any; with some, a saturated handler is one the
-- caller cannot run now (the filter parks its jobs) and each queue takes what its limit leaves
local fl = flowOpen(prefix, own)
if fl ~= nil then
  local callerRuns = runs
  runs = setmetatable({}, { __index = function(_, name)
    return (callerRuns == nil or callerRuns[name] == true) and flowHandlerOk(fl, name)
  end })
end
local t = rcall('TIME')
local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + lockDuration
-- as a string made once: Redis printf-formats every Lua number argument of redis.call
local expiresStr = string.format('%d', expires)

for _, queue in ipairs(queues) do
  if #out >= limit then break end
  if rcall('SISMEMBER', own .. 'queues', queue) == 1 then
    local base = prefix .. queue .. ':'
    KEYS[1] = base .. 'wait'
    KEYS[2] = base .. 'active'
    KEYS[3] = base .. 'prioritized'
    KEYS[4] = base .. 'events'
    KEYS[5] = base .. 'stalled'
    KEYS[6] = base .. 'limiter'
    KEYS[7] = base .. 'delayed'
    KEYS[8] = base .. 'paused'
    KEYS[9] = base .. 'meta'
    KEYS[10] = base .. 'pc'
    KEYS[11] = base .. 'marker'
    ARGV[1] = base
    ARGV[2] = timestamp
    local retryKey = own .. 'retry:' .. queue
    local retries = rcall('EXISTS', retryKey) == 1
    local pendingKey = own .. 'hp:' .. queue
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
      ARGV[3] = cmsgpack.pack({ token = token, lockDuration = lockDuration, name = workerId })
      local reply = bullmqScript()
      local jobId = reply[2]
      if filter ~= nil then settle(filter, jobId) end
      -- {0, 0, rateLimitTtl, nextDelayed}: nothing to take from this queue now
      if type(jobId) ~= 'string' then break end
      rcall('HSET', base .. jobId, 'syx', expiresStr)
      if retries then rcall('SREM', retryKey, jobId) end
      out[#out + 1] = { queue, jobId, token, reply[1], expires }
      kept.add(pendingKey, kept.field(reply[1], 'name'), -1)
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
return out
