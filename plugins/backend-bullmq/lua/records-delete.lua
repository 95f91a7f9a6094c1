-- records-delete: remove one record, optionally only a given version.
-- KEYS[1] record hash of the collection   KEYS[2] key index zset
-- ARGV[1] key   ARGV[2] expected version, or '' for any
-- Returns 1 when it was removed, 0 otherwise
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
if ARGV[2] ~= '' and tonumber(string.match(cur, '^(%d+):')) ~= tonumber(ARGV[2]) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
