-- worker_heartbeat: records a live worker; it drops out of the registry ttl ms after its last beat.
-- KEYS[1] worker registry zset (by liveness deadline)   KEYS[2] this worker's info hash
-- ARGV[1] worker id   ARGV[2] info JSON   ARGV[3] ttl ms
-- Returns the heartbeat time.
--!include common
local now = now_ms()
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[2], 'info', ARGV[2], 'hb', now)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
return now
