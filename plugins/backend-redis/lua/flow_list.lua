-- flow_list: every limit with its usage. Throttled counts the ready tasks a lease held
-- back: all ready tasks of a saturated queue; for a saturated handler, its parked ready
-- tasks in every known queue (a lease parks the tasks of a saturated handler it meets).
-- O(limits x queues), never O(tasks).
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
    else
      queues = queues or redis.call('HKEYS', KEYS[2])
      for _, q in ipairs(queues) do throttled = throttled + redis.call('ZCARD', parked_key(P, q, name)) end
    end
  end
  out[#out + 1] = kind; out[#out + 1] = name; out[#out + 1] = spec
  out[#out + 1] = running; out[#out + 1] = started; out[#out + 1] = saturated and 1 or 0; out[#out + 1] = throttled
end
return out
