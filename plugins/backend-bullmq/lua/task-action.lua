-- One operator action on one job, re-checked and changed in this step (cancel, run_now,
-- reschedule, move; retry and delete are requeue.lua and delete.lua). A job a worker
-- holds is never in the from-states, so it is never touched.
-- ARGV[5] action, ARGV[6] from-states (csv), ARGV[7] '1' for a dry run,
-- ARGV[8] runAt ms ('' keep), ARGV[9] BullMQ priority ('' keep), ARGV[10] attempts ('' keep),
-- ARGV[11] target queue (move), ARGV[12] target queue key base (move).
-- Returns {'ok', state} | {'not_found'} | {'wrong_state', state} | {'conflict', state}.
local state = jobState(base, queue, id)
if state == nil or state == 'unknown' then return {'not_found'} end
if not contains(ARGV[6], state) then return {'wrong_state', state} end
if ARGV[7] == '1' then return {'ok', state} end
local action = ARGV[5]
local now = nowMs()
local jobKey = base .. id

-- puts a waiting job back where its state lives in queue key base b (queue name q)
local function attach(b, q, st, runAt)
  if st == 'blocked' then
    rcall('HSET', b .. id, 'syra', runAt)
    rcall('ZADD', own .. 'blocked:' .. q, now, id)
  elseif st == 'ready' then
    rcall('HSET', b .. id, 'syra', runAt)
    pushReady(b, id, false)
    emit(b, 'event', 'waiting', 'jobId', id, 'prev', state)
  else
    rcall('ZADD', b .. 'delayed', string.format('%.0f', runAt * 0x1000), id)
    countJob(b, id, 'hp:', 1)
    if st == 'retrying' then rcall('SADD', own .. 'retry:' .. q, id) end
    emit(b, 'event', 'delayed', 'jobId', id, 'delay', runAt)
  end
end

-- the job's runAt as stored: its delayed score, else the runAt Switchyard recorded
local function currentRunAt()
  local score = rcall('ZSCORE', base .. 'delayed', id)
  if score then return math.floor(tonumber(score) / 0x1000) end
  return tonumber(rcall('HGET', jobKey, 'syra')) or now
end

if action == 'cancel' then
  detach(base, queue, id, state)
  rcall('ZADD', own .. 'canceled:' .. queue, now, id)
  rcall('HSET', jobKey, 'finishedOn', now, 'syu', now, 'syc', '1')
  emit(base, 'event', 'removed', 'jobId', id, 'prev', state)
  settleJob(queue, id, 'canceled')
elseif action == 'run_now' then
  -- a blocked job runs when its parents are done, not before
  if state == 'blocked' then return {'wrong_state', state} end
  detach(base, queue, id, state)
  rcall('HSET', jobKey, 'delay', 0, 'syu', now)
  attach(base, queue, 'ready', now)
elseif action == 'reschedule' then
  local runAt = currentRunAt()
  local nextState = state
  if ARGV[8] ~= '' then
    runAt = tonumber(ARGV[8])
    if state ~= 'retrying' and state ~= 'blocked' then
      if runAt > now then nextState = 'scheduled' else nextState = 'ready' end
    end
  end
  detach(base, queue, id, state)
  local opts = cjson.decode(rcall('HGET', jobKey, 'opts') or '{}')
  if ARGV[9] ~= '' then
    rcall('HSET', jobKey, 'priority', ARGV[9])
    opts['priority'] = tonumber(ARGV[9])
  end
  if ARGV[10] ~= '' then opts['attempts'] = tonumber(ARGV[10]) end
  rcall('HSET', jobKey, 'opts', cjson.encode(opts), 'syu', now)
  if nextState ~= 'ready' and nextState ~= 'blocked' then rcall('HSET', jobKey, 'delay', math.max(0, runAt - now)) end
  attach(base, queue, nextState, runAt)
elseif action == 'move' then
  local target, b = ARGV[11], ARGV[12]
  if target == queue then return {'ok', state} end
  if rcall('EXISTS', b .. id) == 1 then return {'conflict', state} end
  local runAt = currentRunAt()
  detach(base, queue, id, state)
  rcall('RENAME', jobKey, b .. id)
  if rcall('EXISTS', jobKey .. ':logs') == 1 then rcall('RENAME', jobKey .. ':logs', b .. id .. ':logs') end
  rcall('HSET', own .. 'idx', id, target)
  rcall('SADD', own .. 'queues', target)
  rcall('HSET', b .. id, 'syu', now)
  emit(base, 'event', 'removed', 'jobId', id, 'prev', state)
  attach(b, target, state, runAt)
end
-- the third element: what a cancel finished below (deps.lua's cascaded triples)
return {'ok', state, cascaded}
