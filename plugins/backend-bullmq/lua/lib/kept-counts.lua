-- Switchyard's kept counts (README "Kept counts"): per queue, pending jobs (wait,
-- paused, prioritized, parked, delayed) by job name in own..'hp:<queue>' and dead jobs
-- (the failed set) by job name in own..'hd:<queue>', changed by every Switchyard script
-- in the same run as the move it counts, so the overview and DLQ stats read them in
-- O(queues x handlers). Changes are summed here and written once per name at the end
-- of the call (flush), so a batch of 200 leases of one handler costs one HINCRBY. A
-- count reaching 0 is removed; a negative one (jobs moved by other BullMQ code) is kept,
-- so the readers' check of the counts against BullMQ's own sizes sees the mismatch.
local kept = { delta = {} }

-- d added to `name` in hash `key`
function kept.add(key, name, d)
  if not name then return end
  local t = kept.delta[key]
  if t == nil then
    t = {}
    kept.delta[key] = t
  end
  t[name] = (t[name] or 0) + d
end

-- d added to the count `kind` ('hp:' pending, 'hd:' dead) of job jid's name, where b is
-- the queue's key base "<prefix>:<queue>:" (own keys are "<prefix>::sy:...")
function kept.job(b, jid, kind, d)
  local prefix, q = string.match(b, '^(.*):([^:]+):$')
  if q == nil then return end
  kept.add(prefix .. '::sy:' .. kind .. q, redis.call('HGET', b .. jid, 'name'), d)
end

-- the value of field `name` in a flat HGETALL reply (a job hash BullMQ's moveToActive returns)
function kept.field(flat, name)
  if type(flat) ~= 'table' then return nil end
  for i = 1, #flat - 1, 2 do
    if flat[i] == name then return flat[i + 1] end
  end
  return nil
end

function kept.flush()
  for key, t in pairs(kept.delta) do
    for name, d in pairs(t) do
      if d ~= 0 and redis.call('HINCRBY', key, name, d) == 0 then redis.call('HDEL', key, name) end
    end
  end
  kept.delta = {}
end

-- queue key base -> its pending count key (false: not a Switchyard queue's), so a batch of
-- acks matches and joins the key once, not per job
kept.pendingKeys = {}

-- After a run of BullMQ's moveToFinished that went through (ARGV as it was: ARGV[1] job
-- id, ARGV[5] target, ARGV[7] the queue's key base): the job it failed is dead (unless
-- BullMQ removed it at once, removeOnFail), and the job its fetch-next took (the reply
-- holds its hash) is no longer pending. A completed job was active: not counted.
function kept.finished(reply)
  if type(reply) == 'number' and reply < 0 then return end
  local b = ARGV[7]
  if ARGV[5] == 'failed' and redis.call('ZSCORE', b .. 'failed', ARGV[1]) then kept.job(b, ARGV[1], 'hd:', 1) end
  if type(reply) == 'table' and type(reply[2]) == 'string' then
    local key = kept.pendingKeys[b]
    if key == nil then
      local prefix, q = string.match(b, '^(.*):([^:]+):$')
      key = q ~= nil and (prefix .. '::sy:hp:' .. q)
      kept.pendingKeys[b] = key
    end
    if key then kept.add(key, kept.field(reply[1], 'name'), -1) end
  end
end
