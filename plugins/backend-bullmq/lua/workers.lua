-- KEYS[1] worker hash (id -> JSON), KEYS[2] expiry zset (id -> liveness deadline),
-- KEYS[3] heartbeat hash (id -> last beat, Redis clock), KEYS[4] cordon hash (id -> "1").
-- ARGV[1] 'beat' | 'list' | 'cordon' | 'sweep' | 'remove'; ARGV[2] retention ms.
--   beat:   ARGV[3] id, ARGV[4] JSON, ARGV[5] ttl ms. Returns cordoned (0|1).
--   list:   ARGV[3] include stale (0|1). Returns flat JSON, beat, cordoned, stale per worker.
--   cordon: ARGV[3] id, ARGV[4] cordoned (0|1). Returns 1, or 0 without such an entry.
--   sweep:  ARGV[3] older than ms, ARGV[4] limit, ARGV[5] dry run (0|1). Returns flat
--           JSON, beat, cordoned per removed (or removable) stale worker.
--   remove: ARGV[3] id.
-- A worker whose deadline passed is stale for the retention, then dropped on any call,
-- so the registry never grows unbounded.
local rcall = redis.call
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local forget = now - tonumber(ARGV[2])

local function drop(ids)
  if #ids == 0 then return end
  rcall('ZREM', KEYS[2], unpack(ids))
  rcall('HDEL', KEYS[1], unpack(ids))
  rcall('HDEL', KEYS[3], unpack(ids))
  rcall('HDEL', KEYS[4], unpack(ids))
end

drop(rcall('ZRANGEBYSCORE', KEYS[2], '-inf', forget, 'LIMIT', 0, 1000))

local op = ARGV[1]
if op == 'beat' then
  rcall('HSET', KEYS[1], ARGV[3], ARGV[4])
  rcall('HSET', KEYS[3], ARGV[3], now)
  rcall('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[3])
  return rcall('HGET', KEYS[4], ARGV[3]) == '1' and 1 or 0
end
if op == 'remove' then
  drop({ ARGV[3] })
  return 1
end
if op == 'cordon' then
  if not rcall('ZSCORE', KEYS[2], ARGV[3]) or rcall('HEXISTS', KEYS[1], ARGV[3]) == 0 then return 0 end
  if ARGV[4] == '1' then rcall('HSET', KEYS[4], ARGV[3], '1') else rcall('HDEL', KEYS[4], ARGV[3]) end
  return 1
end

local function row(out, id)
  local json = rcall('HGET', KEYS[1], id)
  if not json then return false end
  out[#out + 1] = json
  out[#out + 1] = rcall('HGET', KEYS[3], id) or '0'
  out[#out + 1] = rcall('HGET', KEYS[4], id) == '1' and 1 or 0
  return true
end

if op == 'list' then
  local from = ARGV[3] == '1' and '(' .. forget or '(' .. now
  local entries = rcall('ZRANGEBYSCORE', KEYS[2], from, '+inf', 'WITHSCORES', 'LIMIT', 0, 10000)
  local out = {}
  for i = 1, #entries, 2 do
    if row(out, entries[i]) then out[#out + 1] = tonumber(entries[i + 1]) <= now and 1 or 0 end
  end
  return out
end

-- sweep
local cutoff = now - tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local out, swept = {}, {}
for _, id in ipairs(rcall('ZRANGEBYSCORE', KEYS[2], '(' .. forget, now, 'LIMIT', 0, 10000)) do
  if #swept >= limit then break end
  local beat = tonumber(rcall('HGET', KEYS[3], id) or '0')
  if beat <= cutoff and row(out, id) then swept[#swept + 1] = id end
end
if ARGV[5] ~= '1' then drop(swept) end
return out
