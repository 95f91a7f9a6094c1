-- BullMQ's add script for a batch of fresh jobs of one queue (tasks without idempotency
-- keys or parents, whose ids newTaskId() made), with what goes with them in the same
-- call: the queue registered and each job's id indexed once its add went through. One
-- call instead of the add plus an SADD and an HSET of their own, and no index entry is
-- ever missing for a job a worker can lease.
-- Jobs ready at once (any add script but addDelayedJob) are then pushed to the queue's
-- idle workers (lib/push-lease.lua): leased to a registered worker and appended to its
-- inbox, so it starts them from its blocking read, one hop after this add. What is left
-- ready is announced with a PUBLISH on the work channel from here (a worker that was
-- pushed everything needs no wake-up, and only this script knows).
-- ARGV[1] the id index key, ARGV[2] the queue registry key, ARGV[3] the queue name,
-- ARGV[4] own key base, ARGV[5] the work channel, ARGV[6] jobs a push parks at most
-- (handler-filter.lua), ARGV[7] n, ARGV[8..7+n] the job names of the calls in order (n = 1:
-- every call's), then the calls as runCalls reads them. syScript names the BullMQ script
-- (set by bullmq-batch.ts). An add that went through counts its job among the pending
-- ones (lib/kept-counts.lua) under the name sent with it: the caller built the job with
-- that name, so no HGET of the stored hash per job.
--!include kept-counts
--!include push
--!include lease-take
--!include push-lease
local index, registry, queue = ARGV[1], ARGV[2], ARGV[3]
local own, channel, parkCap = ARGV[4], ARGV[5], tonumber(ARGV[6])
local nNames = tonumber(ARGV[7])
local input = {}
for i = 1, #ARGV do input[i] = ARGV[i] end
local pendingKey = own .. 'hp:' .. queue
-- the call about to run (1-based): beforeRun runs before every call, afterRun only after those that did not raise
local call = 0
-- an add script's queue key base: its meta key less "meta"
local function addBase()
  if syScript == 'addStandardJob' then return string.sub(KEYS[3], 1, -5) end
  return string.sub(KEYS[2], 1, -5)
end
redis.call('SADD', registry, queue)
-- the index entries of the jobs added, written with one HSET (a call holds at most 100 adds)
local indexed = {}
local base = nil
local replies = runCalls(input, 8 + nNames, function() call = call + 1 end, function(reply)
  -- an add answers the job id
  if type(reply) == 'string' then
    indexed[#indexed + 1] = reply
    indexed[#indexed + 1] = queue
    base = addBase()
    if nNames == 1 then kept.add(pendingKey, input[8], 1) else kept.add(pendingKey, input[7 + call], 1) end
  end
  return reply
end)
if #indexed > 0 then redis.call('HSET', index, unpack(indexed)) end
local added = #indexed / 2
if added > 0 and syScript ~= 'addDelayedJob' then
  if pushJobs(own, base, queue, parkCap, added) < added then redis.call('PUBLISH', channel, queue) end
end
kept.flush()
return replies
