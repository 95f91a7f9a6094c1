-- Ending a processing task's lease without its worker (recover.lua: the deadline
-- passed; worker_release.lua: an operator released it), after common and flow.

-- the task fields end_lease takes, in this order
local function lease_end_fields(P, id)
  return redis.call('HMGET', P .. 't:' .. id, 's', 'q', 'h', 'a', 'm', 'pr', 'ra', 'er', 'w', 'kc')
end

-- whether the attempt the task (its lease_end_fields) runs is its last
local function lease_end_last(f)
  return tonumber(f[4]) >= tonumber(f[5])
end

-- The task (out of the processing zset already, f its lease_end_fields) goes back to
-- ready, or, when its attempt was the last, to the DLQ zset `dlq` with `message` first
-- in its errors, and its blocked children get their policy. Its id goes to
-- out.requeued or out.dead; out.woken collects the queues to wake.
local function end_lease(P, id, f, message, dlq, now, flow_on, out)
  local tk = P .. 't:' .. id
  local q, h, attempts = f[2], f[3], tonumber(f[4])
  redis.call('HINCRBY', P .. 'c:' .. q, 'p', -1)
  if flow_on then flow_task_done(P, tk, h) end
  if lease_end_last(f) then
    local errors = push_error(f[8], { attempt = attempts, message = message, at = now })
    redis.call('HSET', tk, 's', 'dead', 'le', message, 'er', errors, 'fa', now, 'ua', now, 'lt', '', 'lx', '')
    redis.call('ZADD', dlq, now, id)
    count_state(P, 'dead', q, h, 1)
    if f[10] == '1' then settle_children(P, id, 'dead') end
    out.dead[#out.dead + 1] = id
  else
    redis.call('HSET', tk, 's', 'ready', 'ua', now, 'lt', '', 'lx', '')
    redis.call('ZADD', P .. 'r:' .. q, ready_score(f[6], f[7]), id)
    pending_move(P, id, q, h, 1)
    out.woken[q] = true
    out.requeued[#out.requeued + 1] = id
  end
end
