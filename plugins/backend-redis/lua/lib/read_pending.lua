-- read_pending(KEYS, ARGV): the body of pending_handlers.lua, a function so that overview.lua runs it too.
-- pending_handlers: distinct (queue, handler) pairs among pending tasks (ready, scheduled,
-- retrying) of the given queues, read from the per-queue pending counts every transition
-- keeps (ph:<queue>, see common.lua): one HKEYS per queue, O(queues + pairs), no task read.
-- KEYS[1] queue registry hash
-- ARGV[1] key prefix   ARGV[2] limit (pairs)
-- ARGV[3..] queue names (none: every known queue, as the overview reads them)
-- Returns flat: queue, handler per pair.
local function read_pending(KEYS, ARGV)
  local P = ARGV[1]
  local limit = tonumber(ARGV[2])
  local out = {}
  local pairs_n = 0
  local done = {}
  local queues = {}
  for i = 3, #ARGV do queues[#queues + 1] = ARGV[i] end
  if #queues == 0 then queues = redis.call('HKEYS', KEYS[1]) end
  for _, q in ipairs(queues) do
    if pairs_n >= limit then break end
    if not done[q] and redis.call('HEXISTS', KEYS[1], q) == 1 then
      done[q] = true
      for _, h in ipairs(redis.call('HKEYS', P .. 'ph:' .. q)) do
        if pairs_n >= limit then break end
        pairs_n = pairs_n + 1
        out[#out + 1] = q
        out[#out + 1] = h
      end
    end
  end
  return out
end
