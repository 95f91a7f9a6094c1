-- BullMQ's moveToFinished for a batch of acks (calls as runCalls reads them, after the
-- handler names), where the calls whose fetch-next flag (ARGV[6] of the call) is "1"
-- also take the queue's next job in the same run, exactly as a BullMQ Worker's own ack
-- does (the lock of the next job carries the acked job's token and the lock duration
-- packed in the call). All such calls are for one queue. What Switchyard adds to a
-- lease is done here too: nothing is fetched while Switchyard is globally paused, the
-- worker is cordoned or the queue is not registered, only a job whose name is one of the handler names is
-- fetched (handler-filter.lua: the job is chosen before the run; the caller sends no
-- fetch-next with an ack of a job that has a parent, whose ack may move the parent to
-- wait before fetch-next pops), and a fetched job gets its lease expiry (syx) and leaves the retry
-- marks, as in lease-jobs.lua.
-- ARGV[1] own key base, ARGV[2] the queue's key base ("<prefix>:<queue>:"),
-- ARGV[3] the queue name, ARGV[4] lease length (ms), ARGV[5] jobs parked at most,
-- ARGV[6] the worker id, ARGV[7] n handler names (-1: every handler), ARGV[8..7+n] the names.
-- Returns each call's reply; a fetched job's reply gets its lease expiry as [5].
--!include kept-counts
local input = {}
for i = 1, #ARGV do input[i] = ARGV[i] end
-- deps.lua's key base (prelude.lua's own), then this script's own names
own = input[1]
-- once any task waits for parents (deps.lua), an ack may release children: they settle
-- after each run and the lease sent after the acks takes the next jobs
local withDeps = redis.call('EXISTS', own .. 'dp') == 1
local own, base, queue, leaseMs = input[1], input[2], input[3], tonumber(input[4])
local parkCap, workerId, nHandlers = tonumber(input[5]), input[6], tonumber(input[7])
local runs = nil
local firstCall = 8
if nHandlers >= 0 then
  runs = {}
  for i = 8, 7 + nHandlers do runs[input[i]] = true end
  firstCall = 8 + nHandlers
end
local fetch = nHandlers ~= 0 and redis.call('EXISTS', own .. 'paused') == 0 and redis.call('SISMEMBER', own .. 'queues', queue) == 1
  and redis.call('HEXISTS', own .. 'workers-cordoned', workerId) == 0
  and redis.call('HEXISTS', base .. 'meta', 'paused') == 0
  -- with flow limits stored the lease sent after the acks takes the next jobs (lease-jobs.lua)
  and redis.call('EXISTS', own .. 'fl') == 0
  and not withDeps
local filter = nil
if fetch then filter = newFilter(own, base, queue, runs, parkCap, 100) end
local t = redis.call('TIME')
local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + leaseMs
-- as a string made once: Redis printf-formats every Lua number argument of redis.call
local expiresStr = string.format('%d', expires)
local retryKey = own .. 'retry:' .. queue
local retries = fetch and redis.call('EXISTS', retryKey) == 1

-- the job the last run's fetch-next took, for settle()
local popped = nil

local function beforeRun()
  if filter ~= nil then settle(filter, popped) end
  popped = nil
  if not fetch then
    ARGV[6] = '0'
  elseif filter ~= nil and ARGV[6] == '1' and chooseNext(filter, ARGV[2]) == nil then
    ARGV[6] = '0'
  end
end

local function afterRun(reply)
  kept.finished(reply)
  if withDeps then settleFinished(reply) end
  if type(reply) == 'table' and type(reply[2]) == 'string' then
    popped = reply[2]
    redis.call('HSET', base .. reply[2], 'syx', expiresStr)
    if retries then redis.call('SREM', retryKey, reply[2]) end
    reply[5] = expires
  end
  return reply
end

local replies = runCalls(input, firstCall, beforeRun, afterRun)
if filter ~= nil then
  settle(filter, popped)
  finishFilter(filter)
end
kept.flush()
return replies
