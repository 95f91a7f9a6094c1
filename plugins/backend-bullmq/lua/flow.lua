-- Flow control state, in Switchyard's own keys (<own> = "<prefix>::sy:"):
--   <own>fl  hash 'queue:<name>' | 'handler:<name>' | 'tenant:<name>' -> "concurrency:rateLimit:windowMs" ('' parts: none)
--   <own>fw  hash <limit key> -> "windowNo:used", the starts in the current rate window
-- Running counts are not stored: a queue's is the length of its BullMQ active list, a
-- handler's the active jobs of that name over every registered queue (O(in flight),
-- read only while handler limits exist), so completing, failing, releasing,
-- recovering or canceling a job keeps them exact with no bookkeeping of ours. A
-- tenant's is the active jobs whose options carry that tenant (opts.sy.tn), read the
-- same way while tenant limits exist.

-- the limit arithmetic (flow_split, flow_used, flow_left, flow_count_starts), with
-- own as its key prefix: the Redis backend's, loaded from @switchyard/backend-redis
--!include backend-redis:flow_window

-- active jobs per job name over every registered queue, for the names in `wanted`
local function flowHandlerRunning(prefix, own, wanted)
  local counts = {}
  for name in pairs(wanted) do counts[name] = 0 end
  for _, q in ipairs(redis.call('SMEMBERS', own .. 'queues')) do
    local base = prefix .. q .. ':'
    for _, id in ipairs(redis.call('LRANGE', base .. 'active', 0, -1)) do
      local name = redis.call('HGET', base .. id, 'name')
      if name and counts[name] then counts[name] = counts[name] + 1 end
    end
  end
  return counts
end

-- the tenant of a job (its opts.sy.tn), or nil; jobs without one are not decoded
local function flowJobTenant(base, jobId)
  local raw = redis.call('HGET', base .. jobId, 'opts')
  if not raw or not string.find(raw, '"tn"', 1, true) then return nil end
  local ok, opts = pcall(cjson.decode, raw)
  if not ok or type(opts) ~= 'table' or type(opts.sy) ~= 'table' or type(opts.sy.tn) ~= 'string' then return nil end
  return opts.sy.tn
end

-- active jobs per tenant over every registered queue, for the tenants in `wanted`
local function flowTenantRunning(prefix, own, wanted)
  local counts = {}
  for name in pairs(wanted) do counts[name] = 0 end
  for _, q in ipairs(redis.call('SMEMBERS', own .. 'queues')) do
    local base = prefix .. q .. ':'
    for _, id in ipairs(redis.call('LRANGE', base .. 'active', 0, -1)) do
      local tn = flowJobTenant(base, id)
      if tn and counts[tn] then counts[tn] = counts[tn] + 1 end
    end
  end
  return counts
end

local function flowNow()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The limits and what is left of each for one lease call; nil without limits.
local function flowOpen(prefix, own)
  if redis.call('EXISTS', own .. 'fl') == 0 then return nil end
  local flat = redis.call('HGETALL', own .. 'fl')
  local fl = { own = own, specs = {}, hLeft = {}, hTaken = {}, qTaken = {}, tLeft = {}, tTaken = {}, anyTenant = false, now = flowNow() }
  local handlers, tenants = {}, {}
  local any = false
  for i = 1, #flat, 2 do
    fl.specs[flat[i]] = flat[i + 1]
    local kind, name = string.match(flat[i], '^(%a+):(.*)$')
    if kind == 'handler' then handlers[name] = true; any = true end
    if kind == 'tenant' then tenants[name] = true; fl.anyTenant = true end
  end
  if fl.anyTenant then
    local running = flowTenantRunning(prefix, own, tenants)
    for name in pairs(tenants) do
      fl.tLeft[name] = flow_left(own, 'tenant:' .. name, fl.specs['tenant:' .. name], running[name], fl.now)
    end
  end
  if any then
    local running = flowHandlerRunning(prefix, own, handlers)
    for name in pairs(handlers) do
      fl.hLeft[name] = flow_left(own, 'handler:' .. name, fl.specs['handler:' .. name], running[name], fl.now)
    end
  end
  return fl
end

-- may a job of handler `name` start now?
local function flowHandlerOk(fl, name)
  local left = fl.hLeft[name]
  return left == nil or left > 0
end

-- may job `jobId` (of the queue at `base`) start now as far as its tenant goes?
local function flowJobOk(fl, base, jobId)
  if not fl.anyTenant then return true end
  local tn = flowJobTenant(base, jobId)
  if tn == nil then return true end
  local left = fl.tLeft[tn]
  return left == nil or left > 0
end

-- what a queue may still start in this call (nil: unbounded)
local function flowQueueLeft(fl, prefix, queue)
  local spec = fl.specs['queue:' .. queue]
  if spec == nil then return nil end
  return flow_left(fl.own, 'queue:' .. queue, spec, redis.call('LLEN', prefix .. queue .. ':active'), fl.now)
end

local function flowTook(fl, queue, name, tn)
  if fl.hLeft[name] ~= nil then
    fl.hLeft[name] = fl.hLeft[name] - 1
    fl.hTaken[name] = (fl.hTaken[name] or 0) + 1
  end
  if tn ~= nil and fl.tLeft[tn] ~= nil then
    fl.tLeft[tn] = fl.tLeft[tn] - 1
    fl.tTaken[tn] = (fl.tTaken[tn] or 0) + 1
  end
  fl.qTaken[queue] = (fl.qTaken[queue] or 0) + 1
end

-- counts this call's starts in the rate windows
local function flowClose(fl)
  for queue, n in pairs(fl.qTaken) do
    local spec = fl.specs['queue:' .. queue]
    if spec then flow_count_starts(fl.own, 'queue:' .. queue, spec, n, fl.now) end
  end
  for name, n in pairs(fl.hTaken) do
    flow_count_starts(fl.own, 'handler:' .. name, fl.specs['handler:' .. name], n, fl.now)
  end
  for name, n in pairs(fl.tTaken) do
    flow_count_starts(fl.own, 'tenant:' .. name, fl.specs['tenant:' .. name], n, fl.now)
  end
end
