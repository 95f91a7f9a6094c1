-- Ending an active job's lease without its worker (recover.lua: the lease expired;
-- release-worker.lua: an operator released it), after prelude.lua and deps.lua.

-- whether the attempt an active job runs is its last (BullMQ's opts.attempts, at least 1),
-- and the attempt number
local function onLastAttempt(jobKey)
  local f = rcall('HMGET', jobKey, 'ats', 'opts')
  local ats = tonumber(f[1]) or 0
  local attempts = 1
  local ok, opts = pcall(cjson.decode, f[2] or '{}')
  if ok and type(opts) == 'table' and tonumber(opts['attempts']) then attempts = tonumber(opts['attempts']) end
  if attempts < 1 then attempts = 1 end
  return ats >= attempts, ats
end

-- Takes job jid out of the active list: back to the front of its priority, as BullMQ's
-- stalled check puts a stalled job back, or, when that attempt was its last, to failed
-- with `message` first in its error history, settling its children. Its id goes to
-- `requeued` or `dead`.
local function endLease(jid, message, now, requeued, dead)
  local jobKey = base .. jid
  rcall('LREM', base .. 'active', 1, jid)
  rcall('SREM', base .. 'stalled', jid)
  rcall('HDEL', jobKey, 'syx')
  local last, ats = onLastAttempt(jobKey)
  if last then
    local errors = withError(rcall('HGET', jobKey, 'sye'), {attempt = ats, message = message, at = now})
    rcall('ZADD', base .. 'failed', now, jid)
    countJob(base, jid, 'hd:', 1)
    rcall('HSET', jobKey, 'failedReason', message, 'finishedOn', now, 'syu', now, 'sye', errors)
    rcall('HINCRBY', jobKey, 'atm', 1)
    emit(base, 'event', 'failed', 'jobId', jid, 'failedReason', message, 'prev', 'active')
    settleJob(queue, jid, 'dead')
    dead[#dead + 1] = jid
  else
    rcall('HINCRBY', jobKey, 'stc', 1)
    rcall('HSET', jobKey, 'syu', now)
    pushReady(base, jid, true)
    emit(base, 'event', 'stalled', 'jobId', jid)
    emit(base, 'event', 'waiting', 'jobId', jid, 'prev', 'active')
    requeued[#requeued + 1] = jid
  end
end
