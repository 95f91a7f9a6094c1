-- The event log: a stream with one entry per append (fields n: how many events, b: a
-- JSON array of [type, data] pairs), so an append of hundreds of task events is one
-- XADD. Event k (from 0) of entry E is read back with id "E:k" (events-log.ts). Entries
-- of the older layout hold one event each (fields t, d) and keep the id E.
-- The index list holds "E n" per entry, oldest first, and the count key the events they
-- hold, so the log is trimmed to its newest `keep` events (plus at most this append)
-- without reading entries; older-layout entries go with the first trim.

local EVENT_TRIM_MAX_ENTRIES = 1000

-- Appends one entry of `n` (a number) events, `body` their JSON array; returns its id.
local function events_log(stream, index, count, keep, n, body)
  local id = redis.call('XADD', stream, '*', 'n', tostring(n), 'b', body)
  redis.call('RPUSH', index, id .. ' ' .. n)
  local total = redis.call('INCRBY', count, n)
  local dropped, popped = 0, 0
  while total - dropped > keep and popped < EVENT_TRIM_MAX_ENTRIES do
    local head = redis.call('LINDEX', index, 0)
    if not head then break end
    local sp = string.find(head, ' ', 1, true)
    local head_n = tonumber(string.sub(head, sp + 1))
    if string.sub(head, 1, sp - 1) == id or total - dropped - head_n < keep then break end
    redis.call('LPOP', index)
    dropped = dropped + head_n
    popped = popped + 1
  end
  if popped > 0 then
    local head = redis.call('LINDEX', index, 0)
    redis.call('XTRIM', stream, 'MINID', string.sub(head, 1, string.find(head, ' ', 1, true) - 1))
    redis.call('DECRBY', count, dropped)
  end
  return id
end
