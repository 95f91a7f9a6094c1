-- flow_list: every limit with its usage. Throttled counts the ready tasks a lease held
-- back: all ready tasks of a saturated queue; for a saturated handler, its parked ready
-- tasks in every known queue (a lease parks the tasks of a saturated handler it meets);
-- for a saturated tenant, its tasks among the first 10,000 ready tasks of the known
-- queues. O(limits x queues), plus that bounded scan per saturated tenant.
-- KEYS[1] limits hash   KEYS[2] queue registry hash
-- ARGV[1] key prefix
-- Returns flat: kind, name, spec, running, started, saturated (1|0), throttled per limit.
--!include common
--!include flow
local P = ARGV[1]
local now = now_ms()
local flat = redis.call('HGETALL', KEYS[1])
local out = {}
local queues = nil
for i = 1, #flat, 2 do
  local key, spec = flat[i], flat[i + 1]
  local kind, name = string.match(key, '^(%a+):(.*)$')
  local conc, rate, window = flow_split(spec)
  local running = flow_running(P, kind, name)
  local started = 0
  if rate then started = flow_used(P, key, window, now) end
  local saturated = (conc and running >= conc) or (rate and started >= rate)
  local throttled = 0
  if saturated then
    if kind == 'queue' then throttled = ready_count(P, name)
    elseif kind == 'tenant' then
      -- no per-tenant index: the ready indexes are examined up to a bound
      queues = queues or redis.call('HKEYS', KEYS[2])
      local budget = 10000
      for _, q in ipairs(queues) do
        if budget <= 0 then break end
        local ids = redis.call('ZRANGE', P .. 'r:' .. q, 0, budget - 1)
        budget = budget - #ids
        for _, id in ipairs(ids) do
          if redis.call('HGET', P .. 't:' .. id, 'tn') == name then throttled = throttled + 1 end
        end
      end
    else
      queues = queues or redis.call('HKEYS', KEYS[2])
      for _, q in ipairs(queues) do throttled = throttled + redis.call('ZCARD', parked_key(P, q, name)) end
    end
  end
  out[#out + 1] = kind; out[#out + 1] = name; out[#out + 1] = spec
  out[#out + 1] = running; out[#out + 1] = started; out[#out + 1] = saturated and 1 or 0; out[#out + 1] = throttled
end
return out
