-- rate_set: stores the cluster-wide start rate limit with a fresh window count, or removes it.
-- KEYS[1] rate limit hash
-- ARGV[1] limit ('' removes)   ARGV[2] window ms
--!include common
if ARGV[1] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'limit', ARGV[1], 'window', ARGV[2], 'win', '-1', 'used', '0')
end
return 1
