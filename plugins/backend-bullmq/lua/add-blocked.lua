-- BullMQ's add script for a batch of jobs that wait for parent tasks (deps.lua). Each
-- job is added exactly as BullMQ adds it and, in the same run, registered with its
-- parents and then, while a parent has not succeeded yet, taken out of BullMQ's
-- structures into the queue's blocked set; when a parent is already dead, canceled or
-- gone it is canceled or dead-lettered at once, by its policy. A job whose parents all
-- succeeded stays where BullMQ put it.
-- ARGV[1] the queue's key base, ARGV[2] own key base, ARGV[3] the queue name, ARGV[4] m,
-- then m × (job id, policy, parent task ids as a JSON array, the same parents as a JSON
-- array of [queue, job id]), then the calls as runCalls reads them.
local input = {}
for i = 1, #ARGV do input[i] = ARGV[i] end
local m = tonumber(input[4])
local wanted = {}
for k = 0, m - 1 do
  local at = 5 + k * 4
  wanted[input[at]] = { input[at + 1], input[at + 2], input[at + 3] }
end
rcall('SET', own .. 'dp', '1')

local function afterRun(reply)
  local jid = tostring(reply)
  local d = wanted[jid]
  -- added among the pending jobs (kept counts); a job blocked below leaves them again
  if d == nil then
    if type(reply) == 'string' then countJob(base, reply, 'hp:', 1) end
    return reply
  end
  wanted[jid] = nil
  local state = jobState(base, queue, jid)
  -- a job that existed already (its id was claimed before) is not this one
  if (state ~= 'ready' and state ~= 'scheduled') or rcall('HEXISTS', base .. jid, 'sypf') == 1 then return reply end
  countJob(base, jid, 'hp:', 1)
  local ids, refs = cjson.decode(d[2]), cjson.decode(d[3])
  local waiting, failure = 0, nil
  for k, ref in ipairs(refs) do
    local pid = ids[k]
    local ps = jobState(depQueueBase(ref[1]), ref[1], ref[2])
    if ps == nil then
      if failure == nil then failure = 'parent task ' .. pid .. ' was deleted' end
    elseif ps == 'dead' or ps == 'canceled' then
      if failure == nil then failure = 'parent task ' .. pid .. ' was ' .. ps end
    elseif ps ~= 'succeeded' then
      waiting = waiting + 1
    else
      -- counted now: its next success (after a requeue) does not count again
      rcall('HSET', base .. jid, 'sypd:' .. pid, '1')
    end
    rcall('SADD', own .. 'kids:' .. pid, jid)
  end
  rcall('HSET', base .. jid, 'sydp', d[2], 'sypf', d[1], 'sypp', waiting)
  if failure ~= nil or waiting > 0 then
    local now = nowMs()
    -- its run time as enqueued, for its release (the delayed score goes with detach)
    local score = rcall('ZSCORE', base .. 'delayed', jid)
    if score then rcall('HSET', base .. jid, 'syra', math.floor(tonumber(score) / 0x1000)) end
    detach(base, queue, jid, state)
    if failure ~= nil then depFail(base, queue, jid, d[1], failure, now)
    else rcall('ZADD', own .. 'blocked:' .. queue, now, jid) end
  end
  return reply
end
local replies = runCalls(input, 5 + m * 4, nil, afterRun)
-- jobs that took their policy at once (deps.lua) follow the replies, when any
if #cascaded > 0 then replies[#replies + 1] = {'sy:cascaded', cascaded} end
return replies
