-- Every flow limit with its usage, and the throttled ready jobs per queue (flow.lua).
-- Throttled: a saturated queue's ready jobs (wait, prioritized, parked); for a saturated
-- handler, its jobs a lease parked (the lease parks the jobs of a saturated handler it
-- meets); for a saturated tenant, its jobs among the first TENANT_SCAN ready jobs of the
-- known queues (wait, prioritized and parked; no per-tenant index exists).
-- O(limits x queues + jobs in flight while handler or tenant limits exist).
-- ARGV[1] BullMQ key prefix ("<prefix>:"), ARGV[2] own key base
-- Returns { flat limits: kind, name, spec, running, started, saturated (1|0), throttled;
--           flat per queue: name, throttled (only queues with throttled jobs) }
local prefix, own = ARGV[1], ARGV[2]
local limits, perQueue = {}, {}
if redis.call('EXISTS', own .. 'fl') == 0 then return { limits, perQueue } end
local now = flowNow()
local flat = redis.call('HGETALL', own .. 'fl')
local wanted, wantedT = {}, {}
for i = 1, #flat, 2 do
  local kind, name = string.match(flat[i], '^(%a+):(.*)$')
  if kind == 'handler' then wanted[name] = true end
  if kind == 'tenant' then wantedT[name] = true end
end
local hRunning = flowHandlerRunning(prefix, own, wanted)
local tRunning = flowTenantRunning(prefix, own, wantedT)
local TENANT_SCAN = 10000
local queues = redis.call('SMEMBERS', own .. 'queues')
local throttledOf = {}
local function readyOf(q)
  local base = prefix .. q .. ':'
  local n = redis.call('LLEN', base .. 'wait') + redis.call('ZCARD', base .. 'prioritized')
  for _, name in ipairs(redis.call('SMEMBERS', own .. 'parkedh:' .. q)) do
    n = n + redis.call('ZCARD', own .. 'parked:' .. q .. ':' .. name)
  end
  return n
end
local saturatedQueue = {}
local saturatedHandlers = {}
local saturatedTenants = nil
for i = 1, #flat, 2 do
  local key, spec = flat[i], flat[i + 1]
  local kind, name = string.match(key, '^(%a+):(.*)$')
  local conc, rate, window = flow_split(spec)
  local running
  if kind == 'queue' then running = redis.call('LLEN', prefix .. name .. ':active')
  elseif kind == 'tenant' then running = tRunning[name] or 0
  else running = hRunning[name] or 0 end
  local started = 0
  if rate then started = flow_used(own, key, window, now) end
  local saturated = (conc and running >= conc) or (rate and started >= rate)
  local throttled = 0
  if saturated then
    if kind == 'queue' then
      throttled = readyOf(name)
      saturatedQueue[name] = throttled
    elseif kind == 'tenant' then
      saturatedTenants = saturatedTenants or {}
      saturatedTenants[name] = #limits + 7
    else
      saturatedHandlers[#saturatedHandlers + 1] = name
      for _, q in ipairs(queues) do throttled = throttled + redis.call('ZCARD', own .. 'parked:' .. q .. ':' .. name) end
    end
  end
  limits[#limits + 1] = kind; limits[#limits + 1] = name; limits[#limits + 1] = spec
  limits[#limits + 1] = running; limits[#limits + 1] = started; limits[#limits + 1] = saturated and 1 or 0; limits[#limits + 1] = throttled
end
-- saturated tenants: one bounded scan of the ready jobs of the queues not saturated
-- themselves (parked sets of saturated handlers are counted by their handler already)
local tenantOf = {}
if saturatedTenants ~= nil then
  local budget = TENANT_SCAN
  local sh = {}
  for _, name in ipairs(saturatedHandlers) do sh[name] = true end
  for _, q in ipairs(queues) do
    if budget <= 0 then break end
    if saturatedQueue[q] == nil then
      local base = prefix .. q .. ':'
      local ids = redis.call('LRANGE', base .. 'wait', 0, budget - 1)
      if #ids < budget then
        for _, id in ipairs(redis.call('ZRANGE', base .. 'prioritized', 0, budget - #ids - 1)) do ids[#ids + 1] = id end
      end
      for _, name in ipairs(redis.call('SMEMBERS', own .. 'parkedh:' .. q)) do
        if not sh[name] and #ids < budget then
          for _, id in ipairs(redis.call('ZRANGE', own .. 'parked:' .. q .. ':' .. name, 0, budget - #ids - 1)) do ids[#ids + 1] = id end
        end
      end
      budget = budget - #ids
      for _, id in ipairs(ids) do
        local tn = flowJobTenant(base, id)
        if tn and saturatedTenants[tn] then
          limits[saturatedTenants[tn]] = limits[saturatedTenants[tn]] + 1
          tenantOf[q] = (tenantOf[q] or 0) + 1
        end
      end
    end
  end
end
for _, q in ipairs(queues) do
  local n = saturatedQueue[q]
  if n == nil then
    n = 0
    for _, name in ipairs(saturatedHandlers) do n = n + redis.call('ZCARD', own .. 'parked:' .. q .. ':' .. name) end
    n = n + (tenantOf[q] or 0)
  end
  if n > 0 then perQueue[#perQueue + 1] = q; perQueue[#perQueue + 1] = n end
end
return { limits, perQueue }
