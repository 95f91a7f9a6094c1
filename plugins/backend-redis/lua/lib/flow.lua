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

--!include flow_window

-- the running count a scope's concurrency is compared with
local function flow_running(P, kind, name)
  if kind == 'queue' then return tonumber(redis.call('HGET', P .. 'c:' .. name, 'p') or '0') end
  if kind == 'tenant' then return tonumber(redis.call('HGET', P .. 'ft', name) or '0') end
  return tonumber(redis.call('HGET', P .. 'fr', name) or '0')
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
