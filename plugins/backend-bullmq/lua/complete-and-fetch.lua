-- BullMQ's moveToFinished for a batch of acks (calls as runCalls reads them, from
-- ARGV[5]), where the calls whose fetch-next flag (ARGV[6] of the call) is "1" also
-- take the queue's next job in the same run, exactly as a BullMQ Worker's own ack
-- does (the lock of the next job carries the acked job's token and the lock duration
-- packed in the call). All such calls are for one queue. What Switchyard adds to a
-- lease is done here too: nothing is fetched while Switchyard is globally paused or
-- the queue is not registered, and a fetched job gets its lease expiry (syx) and
-- leaves the retry marks, as in lease-jobs.lua.
-- ARGV[1] own key base, ARGV[2] the queue's key base ("<prefix>:<queue>:"),
-- ARGV[3] the queue name, ARGV[4] lease length (ms).
-- Returns each call's reply; a fetched job's reply gets its lease expiry as [5].
local input = {}
for i = 1, #ARGV do input[i] = ARGV[i] end
local own, base, queue, leaseMs = input[1], input[2], input[3], tonumber(input[4])
local fetch = redis.call('EXISTS', own .. 'paused') == 0 and redis.call('SISMEMBER', own .. 'queues', queue) == 1
local t = redis.call('TIME')
local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + leaseMs
local retryKey = own .. 'retry:' .. queue
local retries = fetch and redis.call('EXISTS', retryKey) == 1

local function beforeRun()
  if not fetch then ARGV[6] = '0' end
end

local function afterRun(reply)
  if type(reply) == 'table' and type(reply[2]) == 'string' then
    redis.call('HSET', base .. reply[2], 'syx', expires)
    if retries then redis.call('SREM', retryKey, reply[2]) end
    reply[5] = expires
  end
  return reply
end

return runCalls(input, 5, beforeRun, afterRun)
