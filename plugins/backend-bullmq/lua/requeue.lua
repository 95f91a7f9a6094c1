-- ARGV[5] from-states (csv), ARGV[6] '1' for a dry run, ARGV[7] new payload JSON or '',
-- ARGV[8] target queue, ARGV[9] target queue key base.
-- Gives the job a fresh attempt budget and makes it ready, optionally in another queue.
local state = jobState(base, queue, id)
if state == nil or state == 'unknown' then return {'not_found'} end
if state == 'processing' or not contains(ARGV[5], state) then return {'wrong_state', state} end
if ARGV[6] == '1' then return {'ok', state} end
local now = nowMs()
detach(base, queue, id, state)
local b = base
local target = ARGV[8]
if target ~= queue then
  b = ARGV[9]
  if rcall('EXISTS', b .. id) == 1 then return {'conflict', state} end
  rcall('RENAME', base .. id, b .. id)
  if rcall('EXISTS', base .. id .. ':logs') == 1 then rcall('RENAME', base .. id .. ':logs', b .. id .. ':logs') end
  rcall('HSET', own .. 'idx', id, target)
  rcall('SADD', own .. 'queues', target)
  emit(base, 'event', 'removed', 'jobId', id, 'prev', state)
end
local jobKey = b .. id
rcall('HDEL', jobKey, 'finishedOn', 'processedOn', 'failedReason', 'returnvalue', 'progress', 'syx', 'syc', 'defa', 'pb')
rcall('HSET', jobKey, 'ats', 0, 'atm', 0, 'stc', 0, 'delay', 0, 'syu', now, 'syra', now)
rcall('HINCRBY', jobKey, 'syr', 1)
if ARGV[7] ~= '' then rcall('HSET', jobKey, 'data', ARGV[7]) end
pushReady(b, id, false)
emit(b, 'event', 'waiting', 'jobId', id, 'prev', state)
return {'ok', state}
