-- BullMQ's moveToFinished for a batch (calls as runCalls reads them), as batch.lua
-- runs it, plus task dependencies: once any child was enqueued (deps.lua), a job that
-- ends completed or failed settles its children in the same run.
--!include kept-counts
local input = {}
for i = 1, #ARGV do input[i] = ARGV[i] end
local withDeps = nil
local function afterRun(reply)
  kept.finished(reply)
  if withDeps == nil then
    -- every call is of this backend: its own key base follows from a queue's key base
    local prefix = string.match(ARGV[7], '^(.*):[^:]+:$')
    if prefix == nil then return reply end
    own = prefix .. '::sy:'
    withDeps = rcall('EXISTS', own .. 'dp') == 1
  end
  if withDeps then settleFinished(reply) end
  return reply
end
local replies = runCalls(input, 1, nil, afterRun)
kept.flush()
-- what the runs canceled or dead-lettered below (deps.lua) follows the replies, when any
if #cascaded > 0 then replies[#replies + 1] = {'sy:cascaded', cascaded} end
return replies
