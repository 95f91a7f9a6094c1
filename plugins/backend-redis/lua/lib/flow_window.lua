-- Flow-limit arithmetic shared by the Redis backend (lib/flow.lua) and the BullMQ
-- backend (its lua/flow.lua loads this file through luaLibSource): a limit is stored as
-- "concurrency:rateLimit:windowMs" ('' parts: none) in the hash <P>fl, and the starts
-- of the current rate window as "windowNo:used" in the hash <P>fw, under the key
-- prefix P each backend passes. Windows are fixed: window number = floor(now / windowMs).

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

-- counts n starts of the scope in its rate window (no-op without a rate)
local function flow_count_starts(P, key, spec, n, now)
  local _, rate, window = flow_split(spec)
  if not rate or n <= 0 then return end
  local used, win = flow_used(P, key, window, now)
  redis.call('HSET', P .. 'fw', key, string.format('%.0f', win) .. ':' .. (used + n))
end
