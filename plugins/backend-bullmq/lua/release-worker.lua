-- ARGV[4] limit, ARGV[5] worker id, ARGV[6] dry run (0|1). The active jobs whose lease
-- that worker holds (BullMQ's processedBy) are recovered now, as recover.lua recovers
-- an expired lease: put back (front of their priority) or, when the attempt was their
-- last, moved to failed. Their lock is deleted first, so the worker's late ack,
-- failure or extension names a lock that no longer exists (lease_lost).
local limit = tonumber(id)
local worker = ARGV[5]
local dry = ARGV[6] == '1'
local now = nowMs()
local requeued, dead = {}, {}
local active = rcall('LRANGE', base .. 'active', 0, -1)
for _, jid in ipairs(active) do
  if #requeued + #dead >= limit then break end
  local jobKey = base .. jid
  if string.sub(jid, 1, 2) ~= '0:' and rcall('HGET', jobKey, 'pb') == worker and rcall('EXISTS', jobKey .. ':lock') == 1 then
    local f = rcall('HMGET', jobKey, 'ats', 'opts', 'sye')
    local ats = tonumber(f[1]) or 0
    local attempts = 1
    local ok, opts = pcall(cjson.decode, f[2] or '{}')
    if ok and type(opts) == 'table' and tonumber(opts['attempts']) then attempts = tonumber(opts['attempts']) end
    if attempts < 1 then attempts = 1 end
    if dry then
      if ats >= attempts then dead[#dead + 1] = jid else requeued[#requeued + 1] = jid end
    else
      rcall('DEL', jobKey .. ':lock')
      rcall('LREM', base .. 'active', 1, jid)
      rcall('SREM', base .. 'stalled', jid)
      rcall('HDEL', jobKey, 'syx')
      if ats >= attempts then
        local message = 'lease released by an operator on the last attempt (worker ' .. worker .. ')'
        local errors = {}
        local okErrors, previous = pcall(cjson.decode, f[3] or '[]')
        if not okErrors or type(previous) ~= 'table' then previous = {} end
        errors[1] = {attempt = ats, message = message, at = now}
        for i = 1, math.min(#previous, 19) do errors[i + 1] = previous[i] end
        rcall('ZADD', base .. 'failed', now, jid)
        rcall('HSET', jobKey, 'failedReason', message, 'finishedOn', now, 'syu', now, 'sye', cjson.encode(errors))
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
  end
end
return {requeued, dead}
