-- Taking ready jobs of one queue into leases with BullMQ's moveToActive, as every
-- Switchyard lease does it (lease-jobs.lua for a worker's call, lib/push-lease.lua for a
-- push): BullMQ's keys and arguments as its Worker passes them, a lock token per job,
-- the lease expiry field (syx), the retry mark cleared and the kept pending count.
-- Needs kept (lib/kept-counts.lua) and settle (handler-filter.lua) above it.

-- A queue at key base `base` ("<prefix><queue>:") made ready for leases at `timestamp`
-- (a string: BullMQ's processedOn): KEYS and ARGV[1..2] set as BullMQ's Worker passes
-- them to moveToActive. `retries`: whether the queue's retry set exists, nil when not
-- known yet (then read here).
local function leaseQueue(own, base, queue, timestamp, retries)
  KEYS[1] = base .. 'wait'
  KEYS[2] = base .. 'active'
  KEYS[3] = base .. 'prioritized'
  KEYS[4] = base .. 'events'
  KEYS[5] = base .. 'stalled'
  KEYS[6] = base .. 'limiter'
  KEYS[7] = base .. 'delayed'
  KEYS[8] = base .. 'paused'
  KEYS[9] = base .. 'meta'
  KEYS[10] = base .. 'pc'
  KEYS[11] = base .. 'marker'
  ARGV[1] = base
  ARGV[2] = timestamp
  local retryKey = own .. 'retry:' .. queue
  if retries == nil then retries = redis.call('EXISTS', retryKey) == 1 end
  return { base = base, retryKey = retryKey, retries = retries, pendingKey = own .. 'hp:' .. queue }
end

-- moveToActive's options as cmsgpack.pack({ token = t, lockDuration = d, name = w }) packs
-- them (a map of three), from parts: what stays the same for a queue's leases is packed once
local OPTS_HEAD = string.char(0x83) .. cmsgpack.pack('token')

-- Runs moveToActive (the wrapped BullMQ script, a function) once for the queue lq that
-- leaseQueue prepared, locking the job it takes with `token` for lockDuration ms on behalf
-- of worker `workerId`; filter: the queue's handler filter, nil without one (chooseNext
-- ran before). Returns moveToActive's reply ({job hash (flat), job id, ...}) when it took
-- a job, whose lease then expires at expiresStr (epoch ms, a string); nil when it took none.
local function leaseTake(lq, moveToActive, filter, token, lockDuration, workerId, expiresStr)
  local tail = lq.optsTail
  if tail == nil or lq.optsWorker ~= workerId or lq.optsLock ~= lockDuration then
    tail = cmsgpack.pack('lockDuration') .. cmsgpack.pack(lockDuration) .. cmsgpack.pack('name') .. cmsgpack.pack(workerId)
    lq.optsTail, lq.optsWorker, lq.optsLock = tail, workerId, lockDuration
  end
  ARGV[3] = OPTS_HEAD .. cmsgpack.pack(token) .. tail
  local reply = moveToActive()
  local jobId = reply[2]
  if filter ~= nil then settle(filter, jobId) end
  -- {0, 0, rateLimitTtl, nextDelayed}: nothing to take from this queue now
  if type(jobId) ~= 'string' then return nil end
  redis.call('HSET', lq.base .. jobId, 'syx', expiresStr)
  if lq.retries then redis.call('SREM', lq.retryKey, jobId) end
  kept.add(lq.pendingKey, kept.field(reply[1], 'name'), -1)
  return reply
end
