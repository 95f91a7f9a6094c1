-- ARGV: the calls, as runCalls (run-calls.lua) reads them; syScript names the BullMQ
-- script (set by bullmq-batch.ts). An add, a retry (retryJob) or a retry after a delay
-- (moveToDelayed) that went through puts a job among the pending ones: counted in
-- Switchyard's kept counts (lib/kept-counts.lua).
--!include kept-counts
local input = {}
for i = 1, #ARGV do input[i] = ARGV[i] end
local afterRun
-- an add script's queue key base: its meta key less "meta"
local function addBase()
  if syScript == 'addStandardJob' then return string.sub(KEYS[3], 1, -5) end
  return string.sub(KEYS[2], 1, -5)
end
if syScript == 'retryJob' or syScript == 'moveToDelayed' then
  -- retryJob: ARGV[1] the queue's key base, ARGV[4] job id; moveToDelayed: ARGV[3] job id
  local idAt = 4
  if syScript == 'moveToDelayed' then idAt = 3 end
  afterRun = function(reply)
    if reply == 0 then kept.job(ARGV[1], ARGV[idAt], 'hp:', 1) end
    return reply
  end
else
  -- an add answers the job id; the queue's key base is its meta key less "meta"
  afterRun = function(reply)
    if type(reply) == 'string' then kept.job(addBase(), reply, 'hp:', 1) end
    return reply
  end
end
local replies = runCalls(input, 1, nil, afterRun)
kept.flush()
return replies
