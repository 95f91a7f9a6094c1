-- ARGV[5] payload JSON, ARGV[6] BullMQ priority, ARGV[7] maxAttempts, ARGV[8] timeoutMs,
-- ARGV[9] runAt ms ('' = now + ARGV[10] delay ms), ARGV[11] '1' keeps the stored runAt,
-- ARGV[12] the timeout a job without one in its options has.
-- The replace modes of enqueue: a job that has not started (scheduled or ready, no
-- attempt yet) takes the new payload, priority, attempts, timeout and run time in
-- place, moving between BullMQ's delayed set and its ready structures as the run time
-- asks. Anything else is left as is.
-- Returns {'replaced'} | {'existing', state} | {'not_found'}.
local state = jobState(base, queue, id)
if state == nil or state == 'unknown' then return {'not_found'} end
local jobKey = base .. id
if (state ~= 'ready' and state ~= 'scheduled') or (tonumber(rcall('HGET', jobKey, 'ats')) or 0) > 0
  or rcall('ZSCORE', base .. 'waiting-children', id) then
  return {'existing', state}
end
local now = nowMs()
local opts = {}
local encoded = rcall('HGET', jobKey, 'opts')
if encoded then
  local ok, decoded = pcall(cjson.decode, encoded)
  if ok and type(decoded) == 'table' then opts = decoded end
end
local meta = opts['sy']
if type(meta) ~= 'table' then meta = {} end
local created = tonumber(rcall('HGET', jobKey, 'timestamp')) or now
local runAt
if ARGV[11] == '1' then
  -- the stored run time, read as task-view.ts reads it
  local score = rcall('ZSCORE', base .. 'delayed', id)
  if score then runAt = math.floor(tonumber(score) / 0x1000)
  else runAt = tonumber(rcall('HGET', jobKey, 'syra')) or tonumber(meta['r']) or (created + (tonumber(rcall('HGET', jobKey, 'delay')) or 0)) end
elseif ARGV[9] ~= '' then runAt = tonumber(ARGV[9])
else runAt = now + tonumber(ARGV[10]) end
detach(base, queue, id, state)
if tonumber(ARGV[8]) == tonumber(ARGV[12]) then meta['t'] = nil else meta['t'] = tonumber(ARGV[8]) end
meta['r'] = nil
opts['sy'] = meta
opts['attempts'] = tonumber(ARGV[7])
opts['priority'] = tonumber(ARGV[6])
local delay = math.max(0, runAt - created)
if runAt > now then opts['delay'] = runAt - now else opts['delay'] = nil end
rcall('HSET', jobKey, 'data', ARGV[5], 'priority', ARGV[6], 'opts', cjson.encode(opts), 'delay', delay, 'syra', runAt, 'syu', now)
if runAt > now then
  -- BullMQ's delayed score: run time << 12 plus a tie-breaker within the millisecond
  local minScore = runAt * 0x1000
  local maxScore = (runAt + 1) * 0x1000 - 1
  local score = minScore
  local top = rcall('ZREVRANGEBYSCORE', base .. 'delayed', maxScore, minScore, 'WITHSCORES', 'LIMIT', 0, 1)
  if top[2] then score = math.min(maxScore, tonumber(top[2]) + 1) end
  rcall('ZADD', base .. 'delayed', score, id)
  countJob(base, id, 'hp:', 1)
  local first = rcall('ZRANGE', base .. 'delayed', 0, 0, 'WITHSCORES')
  if first[2] then rcall('ZADD', base .. 'marker', math.floor(tonumber(first[2]) / 0x1000), '1') end
  emit(base, 'event', 'delayed', 'jobId', id, 'delay', runAt)
else
  pushReady(base, id, false)
  emit(base, 'event', 'waiting', 'jobId', id, 'prev', state)
end
return {'replaced'}
