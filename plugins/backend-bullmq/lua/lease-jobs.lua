-- Leases up to ARGV[4] jobs from the queues ARGV[8..], in that order, in one call.
-- Each job is taken by BullMQ's own moveToActive (defined above as bullmqScript()),
-- run once per job with the keys and arguments a BullMQ Worker passes, so priority
-- order, pause, rate limits, delayed promotion, markers and events stay BullMQ's.
-- Every job gets its own lock token (ARGV[5] .. n) and its lease expiry recorded.
-- ARGV[1] key prefix ("<prefix>:"), ARGV[2] own key base, ARGV[3] timestamp (the
-- caller's clock, as BullMQ's workers pass it), ARGV[6] lock duration (ms),
-- ARGV[7] worker id (BullMQ's processedBy).
-- Returns {queue, jobId, token, job hash (flat), lease expiry} per leased job.
local rcall = redis.call
local prefix, own, timestamp = ARGV[1], ARGV[2], ARGV[3]
local limit, tokenBase, lockDuration, workerId = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), ARGV[7]
local queues = {}
for i = 8, #ARGV do queues[#queues + 1] = ARGV[i] end
for i = #ARGV, 4, -1 do ARGV[i] = nil end

local out = {}
if rcall('EXISTS', own .. 'paused') == 1 then return out end
local t = rcall('TIME')
local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + lockDuration

for _, queue in ipairs(queues) do
  if #out >= limit then break end
  if rcall('SISMEMBER', own .. 'queues', queue) == 1 then
    local base = prefix .. queue .. ':'
    KEYS[1] = base .. 'wait'
    KEYS[2] = base .. 'active'
    KEYS[3] = base .. 'prioritized'
    KEYS[4] = base .. 'events'
    KEYS[5] = base .. 'stalled'
    KEYS[6] = base .. 'limiter'
    KEYS[7] = base .. 'delayed'
    KEYS[8] = base .. 'paused'
    KEYS[9] = base .. 'meta'
    KEYS[10] = base .. 'pc'
    KEYS[11] = base .. 'marker'
    ARGV[1] = base
    ARGV[2] = timestamp
    local retryKey = own .. 'retry:' .. queue
    local retries = rcall('EXISTS', retryKey) == 1
    while #out < limit do
      local token = tokenBase .. (#out + 1)
      ARGV[3] = cmsgpack.pack({ token = token, lockDuration = lockDuration, name = workerId })
      local reply = bullmqScript()
      local jobId = reply[2]
      -- {0, 0, rateLimitTtl, nextDelayed}: nothing to take from this queue now
      if type(jobId) ~= 'string' then break end
      rcall('HSET', base .. jobId, 'syx', expires)
      if retries then rcall('SREM', retryKey, jobId) end
      out[#out + 1] = { queue, jobId, token, reply[1], expires }
    end
  end
end
return out
