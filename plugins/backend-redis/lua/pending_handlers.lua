-- pending_handlers: distinct (queue, handler) pairs among pending tasks (ready, scheduled,
-- retrying) of the given queues. Parked handlers are known exactly from each queue's
-- parked-handler set; the ready, scheduled and retrying indexes are sampled at their head
-- (`scan` tasks each, at most `budget` tasks in all per call), so the cost is
-- O(queues × parked handlers + budget), never O(tasks).
-- A handler whose only pending tasks sit deeper than that in a never-leased queue is not
-- reported until they come up; a lease parks every ready task it cannot run, so in a
-- queue that workers lease, unrunnable ready handlers are exact.
-- KEYS[1] queue registry hash
-- ARGV[1] key prefix   ARGV[2] limit (pairs)   ARGV[3] scan per index   ARGV[4] budget
-- ARGV[5..] queue names (none: every known queue, as the overview reads them)
-- Returns flat: queue, handler per pair.
--!include common
local P = ARGV[1]
local limit, scan, budget = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
local pairs_n = 0
local done = {}
local queues = {}
for i = 5, #ARGV do queues[#queues + 1] = ARGV[i] end
if #queues == 0 then queues = redis.call('HKEYS', KEYS[1]) end
for _, q in ipairs(queues) do
  if pairs_n >= limit then break end
  if not done[q] and redis.call('HEXISTS', KEYS[1], q) == 1 then
    done[q] = true
    local seen = {}
    local function add(h)
      if h and not seen[h] and pairs_n < limit then
        seen[h] = true
        pairs_n = pairs_n + 1
        out[#out + 1] = q
        out[#out + 1] = h
      end
    end
    for _, h in ipairs(parked_handlers(P, q)) do add(h) end
    for _, key in ipairs({ P .. 'r:' .. q, P .. 's:' .. q, P .. 'y:' .. q }) do
      local n = math.min(scan, budget)
      if n > 0 then
        for _, id in ipairs(redis.call('ZRANGE', key, 0, n - 1)) do
          budget = budget - 1
          add(redis.call('HGET', P .. 't:' .. id, 'h'))
        end
      end
    end
  end
end
return out
