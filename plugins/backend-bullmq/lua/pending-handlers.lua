-- Distinct (queue, handler) pairs among pending jobs (ready, scheduled, retrying) of
-- the given registered queues. Handlers of parked jobs (handler-filter.lua) are known
-- exactly from each queue's parked-name set; BullMQ keeps no index by job name, so the
-- wait list, the paused list, the prioritized set and the delayed set are sampled at
-- their head (`scan` jobs each, at most `budget` jobs in all per call):
-- O(queues × parked names + budget), never O(jobs). A name whose only pending jobs sit
-- deeper than that in a queue no Switchyard worker leases is not reported until they
-- come up; leases park every ready job they cannot run.
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
    for _, name in ipairs(redis.call('SMEMBERS', own .. 'parkedh:' .. q)) do add(name) end
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
return out
