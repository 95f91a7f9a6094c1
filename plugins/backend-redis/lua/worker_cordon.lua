-- worker_cordon: sets or clears the cordon flag of a registry entry (live or stale).
-- KEYS[1] worker registry zset   KEYS[2] the worker's info hash
-- ARGV[1] worker id   ARGV[2] cordoned (0|1)
-- Returns 1, or 0 when the registry has no such entry.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'c', ARGV[2])
return 1
