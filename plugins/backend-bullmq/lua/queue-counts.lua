-- Per-queue counts for the overview and the queue list, in one call whatever the
-- number of queues, and O(queues): every count is a list length or set cardinality,
-- never a scan of jobs. (One script rather than a pipeline of ~10 commands per queue:
-- a long pipeline spreads over many socket reads and writes on both sides.)
-- ARGV[1] BullMQ key prefix ("<prefix>:"), ARGV[2] Switchyard's key base ("<prefix>::sy:"),
-- ARGV[3..] queue names; none means every registered queue, and named queues that
-- are not registered are left out.
-- Returns per queue, flat: name, active, wait, paused, prioritized, delayed,
-- completed, failed, canceled, retrying (delayed jobs waiting out a backoff),
-- 1 if BullMQ-paused else 0, weight ('' when unset), parked (ready jobs a lease parked,
-- see handler-filter.lua: one ZCARD per parked name), blocked (jobs waiting for their
-- parent tasks, deps.lua).
local prefix, own = ARGV[1], ARGV[2]
local names = {}
if #ARGV > 2 then
  for i = 3, #ARGV do
    if redis.call('SISMEMBER', own .. 'queues', ARGV[i]) == 1 then names[#names + 1] = ARGV[i] end
  end
else
  names = redis.call('SMEMBERS', own .. 'queues')
end
local out = {}
for _, q in ipairs(names) do
  local base = prefix .. q .. ':'
  out[#out + 1] = q
  out[#out + 1] = redis.call('LLEN', base .. 'active')
  out[#out + 1] = redis.call('LLEN', base .. 'wait')
  out[#out + 1] = redis.call('LLEN', base .. 'paused')
  out[#out + 1] = redis.call('ZCARD', base .. 'prioritized')
  out[#out + 1] = redis.call('ZCARD', base .. 'delayed')
  out[#out + 1] = redis.call('ZCARD', base .. 'completed')
  out[#out + 1] = redis.call('ZCARD', base .. 'failed')
  out[#out + 1] = redis.call('ZCARD', own .. 'canceled:' .. q)
  out[#out + 1] = redis.call('ZINTERCARD', 2, base .. 'delayed', own .. 'retry:' .. q)
  out[#out + 1] = redis.call('HEXISTS', base .. 'meta', 'paused')
  out[#out + 1] = redis.call('HGET', own .. 'weights', q) or ''
  local parked = 0
  for _, name in ipairs(redis.call('SMEMBERS', own .. 'parkedh:' .. q)) do
    parked = parked + redis.call('ZCARD', own .. 'parked:' .. q .. ':' .. name)
  end
  out[#out + 1] = parked
  out[#out + 1] = redis.call('ZCARD', own .. 'blocked:' .. q)
end
return out
