-- rate_set: stores the cluster-wide start rate limit and refills its bucket, or removes it.
-- KEYS[1] rate limit hash
-- ARGV[1] limit ('' removes)   ARGV[2] window ms
--!include common
if ARGV[1] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'limit', ARGV[1], 'window', ARGV[2], 'tokens', ARGV[1], 'ts', now_ms())
end
return 1
