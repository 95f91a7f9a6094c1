-- Cancels a job that no worker has started. Atomic against moveToActive: either the
-- job is still waiting here and is taken out, or a worker has it and this changes nothing.
local state = jobState(base, queue, id)
if state == nil or state == 'unknown' then return {'not_found'} end
if state ~= 'ready' and state ~= 'scheduled' and state ~= 'retrying' and state ~= 'blocked' then return {'conflict', state} end
local now = nowMs()
detach(base, queue, id, state)
rcall('ZADD', own .. 'canceled:' .. queue, now, id)
rcall('HSET', base .. id, 'finishedOn', now, 'syu', now, 'syc', '1')
emit(base, 'event', 'removed', 'jobId', id, 'prev', state)
settleJob(queue, id, 'canceled')
return {'canceled', cascaded}
