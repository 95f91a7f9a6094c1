-- BullMQ's add script for a batch of fresh jobs of one queue (tasks without idempotency
-- keys or parents, whose ids newTaskId() made), with what goes with them in the same
-- call: the queue registered and each job's id indexed once its add went through. One
-- call instead of the add plus an SADD and an HSET of their own, and no index entry is
-- ever missing for a job a worker can lease.
-- The wake-up (PUBLISH) stays a command of its own, sent right behind: Redis writes the
-- replies of one event-loop pass last-queued first, so the subscriber that gets the
-- PUBLISH last is written to first, before the event-stream watchers this add answered
-- and the enqueue's own reply. From inside the script it would go out last of the three.
-- ARGV[1] the id index key, ARGV[2] the queue registry key, ARGV[3] the queue name, then
-- the calls as runCalls reads them. syScript names the BullMQ script (set by
-- bullmq-batch.ts). An add that went through counts its job among the pending ones
-- (lib/kept-counts.lua).
--!include kept-counts
local index, registry, queue = ARGV[1], ARGV[2], ARGV[3]
local input = {}
for i = 1, #ARGV do input[i] = ARGV[i] end
-- an add script's queue key base: its meta key less "meta"
local function addBase()
  if syScript == 'addStandardJob' then return string.sub(KEYS[3], 1, -5) end
  return string.sub(KEYS[2], 1, -5)
end
redis.call('SADD', registry, queue)
-- the index entries of the jobs added, written with one HSET (a call holds at most 100 adds)
local indexed = {}
local replies = runCalls(input, 4, nil, function(reply)
  -- an add answers the job id
  if type(reply) == 'string' then
    indexed[#indexed + 1] = reply
    indexed[#indexed + 1] = queue
    kept.job(addBase(), reply, 'hp:', 1)
  end
  return reply
end)
if #indexed > 0 then redis.call('HSET', index, unpack(indexed)) end
kept.flush()
return replies
