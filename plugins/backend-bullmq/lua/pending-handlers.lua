-- Distinct (queue, handler) pairs among pending jobs (ready, scheduled, retrying) of
-- the given registered queues. Read from Switchyard's kept counts (own..'hp:<queue>',
-- lib/kept-counts.lua: pending jobs by name, changed by every Switchyard script in the
-- same run as the move): O(queues x handlers), exact. The counts are exact only for
-- moves Switchyard made; a queue where other BullMQ code (plain producers or workers)
-- moved jobs has counts that do not add up to BullMQ's own sizes (wait, paused,
-- prioritized, delayed, plus Switchyard's parked sets), and is answered as before the
-- counts existed: parked names exactly, plus the names of `scan` jobs at the head of
-- each of wait, paused, prioritized and delayed (at most `budget` jobs in all per call).
-- ARGV[1] BullMQ key prefix ("<prefix>:"), ARGV[2] own key base, ARGV[3] limit (pairs),
-- ARGV[4] scan per structure, ARGV[5] budget, ARGV[6..] queue names (none: every
-- registered queue, as the overview reads them).
-- Returns flat: queue, handler per pair.
local prefix, own = ARGV[1], ARGV[2]
local limit, scan, budget = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
local found = 0
local done = {}
local queues = {}
for i = 6, #ARGV do queues[#queues + 1] = ARGV[i] end
if #queues == 0 then queues = redis.call('SMEMBERS', own .. 'queues') end
table.sort(queues)
for _, q in ipairs(queues) do
  if found >= limit then break end
  if not done[q] and redis.call('SISMEMBER', own .. 'queues', q) == 1 then
    done[q] = true
    local base = prefix .. q .. ':'
    local seen = {}
    local function add(name)
      if name and not seen[name] and found < limit then
        seen[name] = true
        found = found + 1
        out[#out + 1] = q
        out[#out + 1] = name
      end
    end
    local parkedNames = redis.call('SMEMBERS', own .. 'parkedh:' .. q)
    local size = redis.call('LLEN', base .. 'wait') + redis.call('LLEN', base .. 'paused')
      + redis.call('ZCARD', base .. 'prioritized') + redis.call('ZCARD', base .. 'delayed')
    for _, name in ipairs(parkedNames) do size = size + redis.call('ZCARD', own .. 'parked:' .. q .. ':' .. name) end
    local flat = redis.call('HGETALL', own .. 'hp:' .. q)
    local counted, names = 0, {}
    for i = 1, #flat, 2 do
      local n = tonumber(flat[i + 1])
      counted = counted + n
      if n > 0 then names[#names + 1] = flat[i] end
    end
    if counted == size then
      table.sort(names)
      for _, name in ipairs(names) do add(name) end
    else
      for _, name in ipairs(parkedNames) do add(name) end
      local reads = {
        function (n) return redis.call('LRANGE', base .. 'wait', -n, -1) end,
        function (n) return redis.call('LRANGE', base .. 'paused', -n, -1) end,
        function (n) return redis.call('ZRANGE', base .. 'prioritized', 0, n - 1) end,
        function (n) return redis.call('ZRANGE', base .. 'delayed', 0, n - 1) end
      }
      for _, read in ipairs(reads) do
        local n = math.min(scan, budget)
        if n > 0 then
          for _, jobId in ipairs(read(n)) do
            budget = budget - 1
            if string.sub(jobId, 1, 2) ~= '0:' then add(redis.call('HGET', base .. jobId, 'name')) end
          end
        end
      end
    end
  end
end
return out
