-- read_stats(KEYS, ARGV): the body of stats.lua, a function so that overview.lua runs it too.
-- stats: per-queue counts, weight and pause flag for every known queue (or the named
-- ones that are known). O(queues + parked handlers): counts come from index sizes and
-- counters, never tasks.
-- KEYS[1] queue registry hash   KEYS[2] weights hash   KEYS[3] paused hash
-- ARGV[1] key prefix   ARGV[2..] queue names (none = all known)
-- Returns flat: name, ready, scheduled, retrying, processing, dead, succeeded, canceled, weight ('' none), paused (1|0),
-- blocked, throttled per queue.
--!include common
--!include flow
local function read_stats(KEYS, ARGV)
  local P = ARGV[1]
  -- saturated flow limits, read once: throttled = ready tasks held back by them
  local sat_queue, sat_handlers = {}, {}
  -- saturated tenants (nil: none); their ready tasks are found among the first
  -- TENANT_SCAN of each queue's ready index (no per-tenant index exists)
  local sat_tenants = nil
  local TENANT_SCAN = 1000
  if redis.call('EXISTS', P .. 'fl') == 1 then
    local now = now_ms()
    local flat = redis.call('HGETALL', P .. 'fl')
    for i = 1, #flat, 2 do
      local kind, name = string.match(flat[i], '^(%a+):(.*)$')
      if flow_left(P, flat[i], flat[i + 1], flow_running(P, kind, name), now) == 0 then
        if kind == 'queue' then sat_queue[name] = true
        elseif kind == 'handler' then sat_handlers[#sat_handlers + 1] = name
        elseif kind == 'tenant' then sat_tenants = sat_tenants or {}; sat_tenants[name] = true end
      end
    end
  end
  local names = {}
  if #ARGV > 1 then
    for i = 2, #ARGV do
      if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then names[#names + 1] = ARGV[i] end
    end
  else
    names = redis.call('HKEYS', KEYS[1])
  end
  local out = {}
  for _, q in ipairs(names) do
    local c = redis.call('HMGET', P .. 'c:' .. q, 'p', 'd', 'ok', 'x', 'b')
    out[#out + 1] = q
    out[#out + 1] = ready_count(P, q)
    out[#out + 1] = redis.call('ZCARD', P .. 's:' .. q)
    out[#out + 1] = redis.call('ZCARD', P .. 'y:' .. q)
    out[#out + 1] = c[1] or '0'
    out[#out + 1] = c[2] or '0'
    out[#out + 1] = c[3] or '0'
    out[#out + 1] = c[4] or '0'
    out[#out + 1] = redis.call('HGET', KEYS[2], q) or ''
    out[#out + 1] = redis.call('HEXISTS', KEYS[3], q)
    out[#out + 1] = c[5] or '0'
    local throttled = 0
    if sat_queue[q] then throttled = ready_count(P, q)
    else
      for _, h in ipairs(sat_handlers) do throttled = throttled + redis.call('ZCARD', parked_key(P, q, h)) end
      if sat_tenants ~= nil then
        for _, id in ipairs(redis.call('ZRANGE', P .. 'r:' .. q, 0, TENANT_SCAN - 1)) do
          local tn = redis.call('HGET', P .. 't:' .. id, 'tn')
          if tn and sat_tenants[tn] then throttled = throttled + 1 end
        end
      end
    end
    out[#out + 1] = throttled
  end
  return out
end
