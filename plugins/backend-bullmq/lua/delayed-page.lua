-- BullMQ's delayed set holds both scheduled jobs and jobs waiting out a retry backoff,
-- ordered by run time. This walks it in that order from a position and keeps the jobs
-- of one of the two states, so a page of either is found however the two interleave.
-- Each call examines at most ARGV[6] entries, so Redis is never blocked for long;
-- the caller continues from the returned position.
-- ARGV[1] delayed set key, ARGV[2] queue key base ("<prefix>:<queue>:"),
-- ARGV[3] 'retrying' or 'scheduled', ARGV[4] start position, ARGV[5] matches wanted,
-- ARGV[6] entries examined at most.
-- Returns { next position (-1 once the set is exhausted), id, score, id, score, ... }.
-- A job is retrying when it has been attempted (its "ats" field), as the task view reads it.
local key, base, want = ARGV[1], ARGV[2], ARGV[3]
local pos, wanted, budget = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local CHUNK = 200
local out = { -1 }
local found = 0
while budget > 0 and found < wanted do
  local n = math.min(CHUNK, budget)
  local flat = redis.call('ZRANGE', key, pos, pos + n - 1, 'WITHSCORES')
  for i = 1, #flat, 2 do
    local id = flat[i]
    pos = pos + 1
    budget = budget - 1
    if string.sub(id, 1, 2) ~= '0:' then
      local retrying = (tonumber(redis.call('HGET', base .. id, 'ats')) or 0) > 0
      if retrying == (want == 'retrying') then
        out[#out + 1] = id
        out[#out + 1] = flat[i + 1]
        found = found + 1
        if found >= wanted then break end
      end
    end
  end
  -- a short read: the set ends here
  if #flat < n * 2 and found < wanted then return out end
end
out[1] = pos
return out
