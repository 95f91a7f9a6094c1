-- Flow control state (see flow_set.lua):
--   {P}fl  hash 'queue:<name>' | 'handler:<name>' -> "concurrency:rateLimit:windowMs" ('' parts: none)
--   {P}fr  hash <handler> -> tasks of that handler processing now; a field exists exactly
--          while the handler has a limit (queues count processing in c:<queue> already)
--   {P}ft  hash <tenant> -> tasks of that tenant (hash field 'tn') processing now; a field
--          exists exactly while the tenant has a limit
--   {P}fw  hash <limit key> -> "windowNo:used", the starts in the current rate window
-- Scripts that take tasks out of processing check {P}fr and {P}ft once (EXISTS) and
-- adjust them only when one exists, so without handler or tenant limits they pay one
-- cheap call.

local function flow_split(v)
  local c, r, w = string.match(v, '^([^:]*):([^:]*):([^:]*)$')
  return tonumber(c), tonumber(r), tonumber(w)
end

-- starts already counted in the current window of a rate limit
local function flow_used(P, key, window, now)
  local win = math.floor(now / window)
  local stored = redis.call('HGET', P .. 'fw', key)
  if not stored then return 0, win end
  local sw, su = string.match(stored, '^(%d+):(%d+)$')
  sw = tonumber(sw)
  if sw and sw > win then win = sw end
  if sw == win then return tonumber(su), win end
  return 0, win
end

-- how many more tasks of the scope may start now (nil: unbounded)
local function flow_left(P, key, spec, running, now)
  local conc, rate, window = flow_split(spec)
  local left = nil
  if conc then left = math.max(0, conc - running) end
  if rate then
    local used = flow_used(P, key, window, now)
    local r = math.max(0, rate - used)
    if left == nil or r < left then left = r end
  end
  return left
end

-- the running count a scope's concurrency is compared with
local function flow_running(P, kind, name)
  if kind == 'queue' then return tonumber(redis.call('HGET', P .. 'c:' .. name, 'p') or '0') end
  if kind == 'tenant' then return tonumber(redis.call('HGET', P .. 'ft', name) or '0') end
  return tonumber(redis.call('HGET', P .. 'fr', name) or '0')
end

-- counts n starts of the scope in its rate window (no-op without a rate)
local function flow_count_starts(P, key, spec, n, now)
  local _, rate, window = flow_split(spec)
  if not rate or n <= 0 then return end
  local used, win = flow_used(P, key, window, now)
  redis.call('HSET', P .. 'fw', key, string.format('%.0f', win) .. ':' .. (used + n))
end

-- n tasks of handler h left processing
local function flow_done(P, h, n)
  if h and redis.call('HEXISTS', P .. 'fr', h) == 1 then redis.call('HINCRBY', P .. 'fr', h, -n) end
end

-- true when running counts are kept (a handler or tenant limit exists)
local function flow_counting(P)
  return redis.call('EXISTS', P .. 'fr', P .. 'ft') > 0
end

-- one task (hash key tk, handler h or nil to read it) left processing: the running
-- counts of its handler and of its tenant, where they have a limit
local function flow_task_done(P, tk, h)
  flow_done(P, h or redis.call('HGET', tk, 'h'), 1)
  if redis.call('EXISTS', P .. 'ft') == 1 then
    local tn = redis.call('HGET', tk, 'tn')
    if tn and redis.call('HEXISTS', P .. 'ft', tn) == 1 then redis.call('HINCRBY', P .. 'ft', tn, -1) end
  end
end
