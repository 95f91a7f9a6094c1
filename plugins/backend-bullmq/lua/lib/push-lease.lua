-- The push side of push delivery (lib/push.lua), for add-fresh.lua: after fresh ready
-- jobs were added to a queue, leases up to `most` jobs of it to the queue's registered
-- idle workers with BullMQ's moveToActive (defined above as moveToActiveScript()) and the
-- handler filter (handler-filter.lua), exactly as lease-jobs.lua leases for a worker that
-- runs those handlers: both take each job with lib/lease-take.lua (lock token, lease
-- expiry field, the retry mark cleared, kept counts). Needs kept (lib/kept-counts.lua) and
-- lib/lease-take.lua above it. KEYS and ARGV are overwritten.
-- Nothing is pushed while the global pause, a flow limit or the rate limit is stored
-- (the leases those need are left to the workers, who do not wait for pushes then),
-- nor on a paused queue, nor to a cordoned worker or a registration past its lifetime.

-- Leases up to `limit` jobs of the queue at base to worker w (registration reg, runs: the
-- handler names it runs or nil for every one; retries: whether the queue's retry set
-- exists, nil when not known), appending each lease to its inbox as lease-jobs.lua
-- answers it: {queue, jobId, token, job hash (flat), lease expiry}.
local function pushLease(own, base, queue, w, reg, runs, limit, parkCap, nowMs, seq, retries)
  local lockDuration = tonumber(reg.ms)
  local expires = string.format('%d', nowMs + lockDuration)
  local timestamp = string.format('%d', nowMs)
  for i = #KEYS, 12, -1 do KEYS[i] = nil end
  for i = #ARGV, 4, -1 do ARGV[i] = nil end
  local lq = leaseQueue(own, base, queue, timestamp, retries)
  local filter = newFilter(own, base, queue, runs, parkCap, limit)
  local inbox = pushInbox(own, w)
  local n = 0
  while n < limit do
    if filter ~= nil and chooseNext(filter, timestamp) == nil then break end
    local token = 'p' .. seq .. ':' .. (n + 1)
    local reply = leaseTake(lq, moveToActiveScript, filter, token, lockDuration, w, expires)
    if reply == nil then break end
    redis.call('RPUSH', inbox, cjson.encode({ queue, reply[2], token, reply[1], expires }))
    n = n + 1
  end
  if filter ~= nil then finishFilter(filter) end
  if n > 0 then
    -- an inbox nobody drains (its worker died) holds only leases that expire and are recovered
    redis.call('PEXPIRE', inbox, lockDuration * 2)
    local left = tonumber(reg.n) - n
    if left <= 0 then pushUnregister(own, w, reg.qs) else redis.call('HSET', pushHash(own, w), 'n', left) end
  end
  return n
end

-- Pushes up to `most` jobs of the queue at base to its idle workers; how many it pushed.
-- The common case, no idle worker for the queue, costs one EXISTS.
local function pushJobs(own, base, queue, parkCap, most)
  local idleKey = pushIdle(own, queue)
  if redis.call('EXISTS', idleKey) == 0 then return 0 end
  -- The global pause, flow limits, the rate limit, cordons and the queue's retry marks: in
  -- the common case none is stored, and one EXISTS says so; otherwise each is looked at.
  local cordons, retries = false, false
  local stored = redis.call('EXISTS', own .. 'paused', own .. 'fl', own .. 'ratelimit', own .. 'workers-cordoned', own .. 'retry:' .. queue)
  if stored > 0 then
    if redis.call('EXISTS', own .. 'paused', own .. 'fl', own .. 'ratelimit') > 0 then return 0 end
    cordons = redis.call('EXISTS', own .. 'workers-cordoned') == 1
    -- what else the first EXISTS found is the retry set
    retries = stored > (cordons and 1 or 0)
  end
  if redis.call('HEXISTS', base .. 'meta', 'paused') == 1 then return 0 end
  local t = redis.call('TIME')
  local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local pushed = 0
  for _, w in ipairs(redis.call('SMEMBERS', idleKey)) do
    if pushed >= most then break end
    local flat = redis.call('HGETALL', pushHash(own, w))
    if #flat == 0 then
      redis.call('SREM', idleKey, w)
    else
      local reg = {}
      for i = 1, #flat, 2 do reg[flat[i]] = flat[i + 1] end
      if tonumber(reg.u) < nowMs or (cordons and redis.call('HEXISTS', own .. 'workers-cordoned', w) == 1) then
        -- a registration past its lifetime (its worker is gone or late) or a cordoned worker
        pushUnregister(own, w, reg.qs)
      else
        local runs = nil
        if reg.a ~= '1' then
          runs = {}
          for field in pairs(reg) do
            local name = string.match(field, '^h:(.*)$')
            if name then runs[name] = true end
          end
        end
        local seq = redis.call('INCR', own .. 'push-seq')
        pushed = pushed + pushLease(own, base, queue, w, reg, runs, math.min(tonumber(reg.n), most - pushed), parkCap, nowMs, seq, retries)
      end
    end
  end
  return pushed
end
