-- KEYS[1] event stream, KEYS[2] number of events it holds. ARGV[1] events kept (at
-- least this many, at most this many plus one batch), ARGV[2] channel told "events",
-- ARGV[3] number of events in the batch, ARGV[4] the batch as a JSON array.
-- A batch is ONE stream entry (fields n, b): a worker appends task events by the
-- hundred, and one XADD per batch instead of per event is what keeps that cheap.
-- Event k (from 0) of entry E is read back with id "E:k". Returns E.
local keep, count = tonumber(ARGV[1]), tonumber(ARGV[3])
local id = redis.call('XADD', KEYS[1], '*', 'n', count, 'b', ARGV[4])
local total = redis.call('INCRBY', KEYS[2], count)
-- Drop the oldest batches while the rest still holds `keep` events (never this one).
local dropped, firstKept, cursor = 0, nil, '-'
while total - dropped > keep and firstKept == nil do
  local page = redis.call('XRANGE', KEYS[1], cursor, '+', 'COUNT', 16)
  if #page == 0 then break end
  for _, entry in ipairs(page) do
    local n = tonumber(entry[2][2]) or 1
    if entry[1] == id or total - dropped - n < keep then
      firstKept = entry[1]
      break
    end
    dropped = dropped + n
  end
  cursor = '(' .. page[#page][1]
end
if dropped > 0 then
  redis.call('XTRIM', KEYS[1], 'MINID', firstKept or id)
  redis.call('DECRBY', KEYS[2], dropped)
end
redis.call('PUBLISH', ARGV[2], 'events')
return id
