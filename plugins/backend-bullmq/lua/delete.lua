-- ARGV[5] from-states (csv), ARGV[6] '1' for a dry run. A job a worker holds is never
-- deleted (BullMQ cannot remove a locked job either).
local state = jobState(base, queue, id)
if state == nil or state == 'unknown' then return {'not_found'} end
if state == 'processing' or not contains(ARGV[5], state) then return {'wrong_state', state} end
if ARGV[6] == '1' then return {'ok', state} end
detach(base, queue, id, state)
-- a parent deleted before it succeeded settles its blocked children as if it had died
if rcall('EXISTS', own .. 'dp') == 1 then
  local taskId = depTaskId(queue, id)
  if state ~= 'succeeded' then settleChildren(taskId, 'deleted') end
  rcall('DEL', own .. 'kids:' .. taskId)
end
local jobKey = base .. id
rcall('DEL', jobKey, jobKey .. ':logs', jobKey .. ':dependencies', jobKey .. ':processed', jobKey .. ':failed', jobKey .. ':unsuccessful')
rcall('HDEL', own .. 'idx', id)
emit(base, 'event', 'removed', 'jobId', id, 'prev', state)
return {'ok', state, cascaded}
