-- KEYS[1] event stream, KEYS[2] number of events it holds, KEYS[3] its entry index
-- ("<entry id> <events>" per entry, oldest first). ARGV[1] events kept (at least this
-- many, at most this many plus one batch), ARGV[2] channel told "events", ARGV[3]
-- number of events in the batch, ARGV[4] the batch as a JSON array.
-- A batch is ONE stream entry (fields n, b): a worker appends task events by the
-- hundred, and one XADD per batch instead of per event is what keeps that cheap.
-- Event k (from 0) of entry E is read back with id "E:k". Returns E.
-- Trimming drops the oldest batches while the rest still holds `keep` events. With
-- every entry in the index (as many index items as entries) it reads only the index;
-- a stream with entries from before the index (or one whose index is off) is walked
-- as before, reading the entries, until those are trimmed away.
local keep, count = tonumber(ARGV[1]), tonumber(ARGV[3])
local id = redis.call('XADD', KEYS[1], '*', 'n', ARGV[3], 'b', ARGV[4])
redis.call('RPUSH', KEYS[3], id .. ' ' .. ARGV[3])
local total = redis.call('INCRBY', KEYS[2], count)

-- an index item's entry id and event count
local function item(s)
  local sp = string.find(s, ' ', 1, true)
  return string.sub(s, 1, sp - 1), tonumber(string.sub(s, sp + 1))
end

-- whether stream id a sorts before stream id b
local function before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, bm = tonumber(am), tonumber(bm)
  return am < bm or (am == bm and tonumber(as) < tonumber(bs))
end

if total > keep then
  local dropped, firstKept = 0, nil
  if redis.call('XLEN', KEYS[1]) == redis.call('LLEN', KEYS[3]) then
    local popped = 0
    while total - dropped > keep and popped < 1000 do
      local entry, n = item(redis.call('LINDEX', KEYS[3], 0))
      if entry == id or total - dropped - n < keep then break end
      redis.call('LPOP', KEYS[3])
      dropped = dropped + n
      popped = popped + 1
    end
    if popped > 0 then firstKept = item(redis.call('LINDEX', KEYS[3], 0)) end
  else
    -- Drop the oldest batches while the rest still holds `keep` events (never this one).
    local cursor = '-'
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
    -- index items of trimmed entries go too
    if dropped > 0 then
      while true do
        local head = redis.call('LINDEX', KEYS[3], 0)
        if not head or not before(item(head), firstKept or id) then break end
        redis.call('LPOP', KEYS[3])
      end
    end
  end
  if dropped > 0 then
    redis.call('XTRIM', KEYS[1], 'MINID', firstKept or id)
    redis.call('DECRBY', KEYS[2], dropped)
  end
end
redis.call('PUBLISH', ARGV[2], 'events')
return id
