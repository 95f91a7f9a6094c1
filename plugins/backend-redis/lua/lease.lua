-- lease: takes up to `limit` ready tasks from the queues in the given order, skipping
-- paused queues; first promotes due scheduled/retrying tasks of each queue (bounded).
-- Only tasks whose handler the caller runs are taken. A ready task it cannot run is
-- parked (see common.lua), at most `park cap` per queue per call, so a later lease never
-- meets it again unless it can run it; parked tasks of the caller's handlers are merged
-- with the ready index by score, so run order holds across both.
-- KEYS[1] processing zset (by lease deadline)   KEYS[2] global pause flag
-- KEYS[3] paused-queues hash                     KEYS[4] lease token sequence
-- ARGV[1] key prefix  ARGV[2] work channel  ARGV[3] worker id  ARGV[4] limit
-- ARGV[5] lease ms    ARGV[6] promotion cap per queue          ARGV[7] park cap per queue
-- ARGV[8] '1': within the global rate limit (leaseWithinRateLimit), '0': not
-- ARGV[9] n handler names (-1: every handler)  ARGV[10..9+n] handler names, then queue names
-- Returns { deadline, then 11 fields per task: id, queue, handler, payload, attempts,
--   maxAttempts, priority, timeoutMs, createdAt, runAt, leaseToken }; within the rate
--   limit, one more value at the end: 1 when the permits ran out before the queues did.
-- The global rate limit ({P}rl, rate_take.lua) is taken here when asked for: at most the
-- permits the window of `now` has left are leased, and the tasks taken count in it, the
-- window of their start time ('sa' is `now`), so by start time no window holds more than
-- the limit; a window once left is never counted again.
-- Flow limits (lib/flow.lua): with {P}fl present, each queue takes at most what its
-- limit leaves, and a task whose handler's limit is used up is parked like one the
-- caller cannot run (it stays ready, attempts untouched); starts and running counts are
-- updated here, in the same script. Without limits this costs one EXISTS.
-- A worker an operator cordoned gets nothing: one HGET of its registry entry.
-- A task whose tenant's limit is used up is set aside for this call and put back where
-- it was (same index, same score) before the queue is left, so it keeps its place; set
-- aside tasks count against the park cap, which bounds the work of one call. Tasks
-- without a tenant are never held back by tenant limits.
--!include common
--!include flow
--!include lease_fields
if redis.call('EXISTS', KEYS[2]) == 1 then return {} end
local P, worker = ARGV[1], ARGV[3]
-- a cordoned worker leases nothing (worker_cordon.lua sets the flag on its registry entry)
if redis.call('HGET', P .. 'w:' .. worker, 'c') == '1' then return {} end
local limit, cap, park_cap = tonumber(ARGV[4]), tonumber(ARGV[6]), tonumber(ARGV[7])
local now = now_ms()
local deadline = now + tonumber(ARGV[5])
-- numbers reach redis.call as strings made once: Redis formats a Lua number argument
-- with printf, dearer than the HSET it goes into
local now_s, deadline_s = int_str(now), int_str(deadline)
-- attempts (a string; absent before the first lease) -> the next attempt as number and string
local next_attempt = {}
local n_handlers = tonumber(ARGV[9])
-- runs[h] for the handlers the caller runs; nil: every handler
local runs = nil
local first_queue = 10
if n_handlers >= 0 then
  runs = {}
  for i = 10, 9 + n_handlers do runs[ARGV[i]] = true end
  first_queue = 10 + n_handlers
end
local queues = {}
for i = first_queue, #ARGV do queues[#queues + 1] = ARGV[i] end
local out = { deadline }
-- within the rate limit: the limit's window and its starts so far, and whether the permits cut the lease
local rate = nil
if ARGV[8] == '1' then
  local c = redis.call('HMGET', P .. 'rl', 'limit', 'window', 'win', 'used')
  if c[1] then
    local win = math.floor(now / tonumber(c[2]))
    local stored = tonumber(c[3]) or -1
    local used = 0
    if stored == win then used = tonumber(c[4]) or 0 end
    local left = tonumber(c[1]) - used
    -- the clock stepped back into a window already left: nothing starts until it is back
    if stored > win then left = 0 end
    rate = { win = win, used = used, cut = left < limit }
    if left < limit then limit = math.max(0, left) end
  end
end
-- the reply, given how many tasks were taken; within the rate limit it ends with the flag
local function finish(taken)
  if ARGV[8] == '1' then out[#out + 1] = (rate ~= nil and rate.cut and taken >= limit) and 1 or 0 end
  return out
end
if #queues == 0 or n_handlers == 0 then return finish(0) end
local paused = redis.call('HMGET', KEYS[3], unpack(queues))
local remaining = limit
local token = nil
local seen = {}
-- deadline, id pairs of the tasks taken, for the processing zset
local leased = {}
-- tasks taken per (queue, handler): they leave the pending counts (common.lua)
local pending = {}

-- flow: nil without limits; otherwise the limits, and how many more may start per handler
local flow = nil
local h_left, h_taken = {}, {}
local t_left, t_taken = {}, {}
if redis.call('EXISTS', P .. 'fl') == 1 then
  flow = {}
  local flat = redis.call('HGETALL', P .. 'fl')
  for i = 1, #flat, 2 do flow[flat[i]] = flat[i + 1] end
end
-- false when the caller may not take a task of handler h now
local function handler_ok(h)
  if runs ~= nil and not runs[h] then return false end
  if flow == nil then return true end
  local left = h_left[h]
  if left == nil then
    local spec = flow['handler:' .. h]
    if spec == nil then left = false
    else left = flow_left(P, 'handler:' .. h, spec, flow_running(P, 'handler', h), now) end
    h_left[h] = left
  end
  return left == false or left > 0
end

-- false when a task of tenant tn (false/nil: none) may not start now
local function tenant_ok(tn)
  if flow == nil or not tn then return true end
  local left = t_left[tn]
  if left == nil then
    local spec = flow['tenant:' .. tn]
    if spec == nil then left = false
    else left = flow_left(P, 'tenant:' .. tn, spec, flow_running(P, 'tenant', tn), now) end
    t_left[tn] = left
  end
  return left == false or left > 0
end

-- Moves due tasks of one delayed index into ready; returns how many moved.
local function promote(key, q)
  local due = redis.call('ZRANGEBYSCORE', key, '-inf', now_s, 'LIMIT', 0, cap)
  for _, id in ipairs(due) do
    local tk = P .. 't:' .. id
    local f = redis.call('HMGET', tk, 'pr', 'ra')
    if f[1] then
      redis.call('HSET', tk, 's', 'ready', 'ua', now_s)
      redis.call('ZADD', P .. 'r:' .. q, ready_score(f[1], f[2]), id)
    end
  end
  if #due > 0 then redis.call('ZREM', key, unpack(due)) end
  return #due
end

-- What a lease returns of a task; f[1] is nil when its hash is gone.
local function fields(id)
  return redis.call('HMGET', P .. 't:' .. id, 'h', 'p', 'a', 'm', 'pr', 'to', 'ca', 'ra', 'tn')
end

-- Leases one task that has left its index, given its fields().
local function take(id, q, f)
  local tk = P .. 't:' .. id
  if not token then token = redis.call('INCRBY', KEYS[4], limit) - limit end
  local before = f[3] or '0'
  local attempt = next_attempt[before]
  if attempt == nil then
    local a = tonumber(before) + 1
    attempt = { a, int_str(a) }
    next_attempt[before] = attempt
  end
  local attempts = attempt[1]
  token = token + 1
  local lease_token = string.format('%d', token)
  lease_mark(tk, attempt[2], lease_token, deadline_s, now_s, worker)
  -- into the processing zset with the others at the end (one ZADD per call)
  leased[#leased + 1] = deadline_s; leased[#leased + 1] = id
  pending_tally(P, pending, id, q, f[1], -1)
  if flow ~= nil then
    local h = f[1]
    if h_left[h] then
      h_left[h] = h_left[h] - 1
      h_taken[h] = (h_taken[h] or 0) + 1
    end
    local tn = f[9]
    if tn and t_left[tn] then
      t_left[tn] = t_left[tn] - 1
      t_taken[tn] = (t_taken[tn] or 0) + 1
    end
  end
  local o = #out
  out[o + 1] = id; out[o + 2] = q; out[o + 3] = f[1]; out[o + 4] = f[2]; out[o + 5] = attempts
  out[o + 6] = f[4]; out[o + 7] = f[5]; out[o + 8] = f[6]; out[o + 9] = f[7]; out[o + 10] = f[8]
  out[o + 11] = lease_token
end

-- Takes up to `want` tasks of one queue; returns how many.
local function lease_queue(q, want)
  local ready = P .. 'r:' .. q
  local sources = {}
  for _, h in ipairs(parked_handlers(P, q)) do
    if handler_ok(h) then sources[#sources + 1] = { key = parked_key(P, q, h), handler = h } end
  end
  local taken, parked = 0, 0
  local parked_now = {}
  -- tasks set aside because their tenant's limit is used up: key, score, id
  local aside = {}
  local function set_aside(key, score, id)
    aside[#aside + 1] = { key, score, id }
    parked = parked + 1
  end
  local function put_back()
    for _, a in ipairs(aside) do redis.call('ZADD', a[1], a[2], a[3]) end
  end
  local function park(id, h, score)
    redis.call('ZADD', parked_key(P, q, h), score, id)
    if not parked_now[h] then
      redis.call('SADD', P .. 'kh:' .. q, h)
      parked_now[h] = true
    end
    parked = parked + 1
  end

  if #sources == 0 then
    -- The common case: nothing parked that this caller runs. Pop a batch; park what it
    -- cannot run and pop again (a larger batch once parking shows up, giving back
    -- what it did not need), until `want` are taken, the queue is empty or the cap is hit.
    while taken < want and parked < park_cap do
      local need = want - taken
      local batch = need
      if parked > 0 then batch = math.min(math.max(need, parked * 2), park_cap) end
      local popped = redis.call('ZPOPMIN', ready, batch)
      if #popped == 0 then break end
      local back = {}
      for j = 1, #popped, 2 do
        local id = popped[j]
        local f = fields(id)
        if f[1] then
          if not handler_ok(f[1]) then park(id, f[1], popped[j + 1])
          elseif not tenant_ok(f[9]) then set_aside(ready, popped[j + 1], id)
          elseif taken < want then
            take(id, q, f)
            taken = taken + 1
          else
            back[#back + 1] = popped[j + 1]; back[#back + 1] = id
          end
        end
      end
      if #back > 0 then redis.call('ZADD', ready, unpack(back)) end
    end
    put_back()
    return taken
  end

  -- Parked tasks this caller runs exist: merge their indexes with the ready index by
  -- (score, id), the order ZRANGE keeps within one zset.
  sources[#sources + 1] = { key = ready, handler = nil }
  local function head(s)
    if s.id == nil and not s.empty then
      local r = redis.call('ZRANGE', s.key, 0, 0, 'WITHSCORES')
      if #r == 0 then s.empty = true else s.id, s.raw, s.score = r[1], r[2], tonumber(r[2]) end
    end
    return s.id
  end
  while taken < want and parked < park_cap do
    local best = nil
    for _, s in ipairs(sources) do
      if head(s) and (best == nil or s.score < best.score or (s.score == best.score and s.id < best.id)) then best = s end
    end
    if best == nil then break end
    if best.handler ~= nil and not handler_ok(best.handler) then
      -- its handler's flow limit was used up by this call: leave the rest parked
      best.id = nil
      best.empty = true
    else
      local id, raw = best.id, best.raw
      redis.call('ZREM', best.key, id)
      best.id = nil
      local f = fields(id)
      if f[1] then
        -- a parked index holds only its own handler, which this caller runs
        if best.handler == nil and not handler_ok(f[1]) then park(id, f[1], raw)
        elseif not tenant_ok(f[9]) then set_aside(best.key, raw, id)
        else
          take(id, q, f)
          taken = taken + 1
        end
      end
    end
  end
  put_back()
  for _, s in ipairs(sources) do
    if s.handler ~= nil then drop_if_empty(P, q, s.handler) end
  end
  return taken
end

for i, q in ipairs(queues) do
  if remaining <= 0 then break end
  if not paused[i] and not seen[q] then
    seen[q] = true
    local promoted = promote(P .. 's:' .. q, q) + promote(P .. 'y:' .. q, q)
    local want = remaining
    local q_spec = flow and flow['queue:' .. q]
    if q_spec then
      local left = flow_left(P, 'queue:' .. q, q_spec, flow_running(P, 'queue', q), now)
      if left ~= nil and left < want then want = left end
    end
    local taken = 0
    if want > 0 then taken = lease_queue(q, want) end
    if taken > 0 then redis.call('HINCRBY', P .. 'c:' .. q, 'p', taken) end
    if q_spec then flow_count_starts(P, 'queue:' .. q, q_spec, taken, now) end
    remaining = remaining - taken
    -- promoted more than this call could take: let idle workers know
    if promoted > taken then redis.call('PUBLISH', ARGV[2], q) end
  end
end
if #leased > 0 then redis.call('ZADD', KEYS[1], unpack(leased)) end
pending_flush(P, pending)
for h, n in pairs(h_taken) do
  redis.call('HINCRBY', P .. 'fr', h, n)
  flow_count_starts(P, 'handler:' .. h, flow['handler:' .. h], n, now)
end
for tn, n in pairs(t_taken) do
  redis.call('HINCRBY', P .. 'ft', tn, n)
  flow_count_starts(P, 'tenant:' .. tn, flow['tenant:' .. tn], n, now)
end
local taken = limit - remaining
if rate ~= nil and taken > 0 then redis.call('HSET', P .. 'rl', 'win', int_str(rate.win), 'used', rate.used + taken) end
return finish(taken)
