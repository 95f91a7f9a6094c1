-- rate_take: takes up to n start permits from the current window: at most `limit`
-- permits per window, windows aligned to the epoch (as on Postgres and BullMQ), so
-- no window of `window` ms ever sees more than `limit` starts.
-- KEYS[1] rate limit hash
-- ARGV[1] n
-- Returns the number of permits granted (n when no limit is set).
--!include common
local n = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'limit', 'window', 'win', 'used')
if not c[1] then return n end
local limit, window = tonumber(c[1]), tonumber(c[2])
local win = math.floor(now_ms() / window)
local used = 0
if tonumber(c[3]) == win then used = tonumber(c[4]) end
local granted = math.max(0, math.min(n, limit - used))
redis.call('HSET', KEYS[1], 'win', int_str(win), 'used', used + granted)
return granted
