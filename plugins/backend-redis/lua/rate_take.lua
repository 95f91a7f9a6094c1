-- rate_take: takes up to n start permits from a token bucket that holds at most `limit`
-- permits and refills at limit per window.
-- KEYS[1] rate limit hash
-- ARGV[1] n
-- Returns the number of permits granted (n when no limit is set).
--!include common
local n = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'limit', 'window', 'tokens', 'ts')
if not c[1] then return n end
local limit, window = tonumber(c[1]), tonumber(c[2])
local now = now_ms()
local tokens = math.min(limit, tonumber(c[3]) + math.max(now - tonumber(c[4]), 0) * limit / window)
local granted = math.min(n, math.floor(tokens))
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - granted), 'ts', now)
return granted
