-- flow_clear: removes the limit of one scope and its counters.
-- KEYS[1] limits hash   KEYS[2] running-per-handler hash   KEYS[3] rate windows hash
-- ARGV[1] kind   ARGV[2] name
-- Returns 1 when a limit existed.
local key = ARGV[1] .. ':' .. ARGV[2]
local existed = redis.call('HDEL', KEYS[1], key)
redis.call('HDEL', KEYS[3], key)
if ARGV[1] == 'handler' then redis.call('HDEL', KEYS[2], ARGV[2]) end
if ARGV[1] == 'tenant' then redis.call('HDEL', (string.gsub(KEYS[2], 'fr$', 'ft')), ARGV[2]) end
return existed
