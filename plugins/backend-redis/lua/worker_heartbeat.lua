-- worker_heartbeat: records a live worker; it drops out of the registry ttl ms after its
-- last beat, and its entry is kept (stale) for the retention after that.
-- KEYS[1] worker registry zset (by liveness deadline)   KEYS[2] this worker's info hash
-- ARGV[1] worker id   ARGV[2] info JSON   ARGV[3] ttl ms   ARGV[4] retention ms
-- Returns { heartbeat time, cordoned (0|1) }: the beat keeps the hash's cordon field.
--!include common
local now = now_ms()
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[2], 'info', ARGV[2], 'hb', now)
redis.call('PEXPIRE', KEYS[2], ttl + tonumber(ARGV[4]))
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
local cordoned = redis.call('HGET', KEYS[2], 'c') == '1' and 1 or 0
return { now, cordoned }
