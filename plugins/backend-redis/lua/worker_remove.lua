-- worker_remove: drops a worker from the registry at once (clean shutdown).
-- KEYS[1] worker registry zset   KEYS[2] the worker's info hash
-- ARGV[1] worker id
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
