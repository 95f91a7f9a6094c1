-- queue_set: stores a queue's weight override or pause flag (registering the queue);
-- resuming a queue wakes idle workers.
-- KEYS[1] queue registry hash   KEYS[2] setting hash (weights or paused)
-- ARGV[1] work channel   ARGV[2] queue name   ARGV[3] value ('' clears)   ARGV[4] 1 to wake workers on clear
--!include common
redis.call('HSETNX', KEYS[1], ARGV[2], now_ms())
if ARGV[3] == '' then
  local removed = redis.call('HDEL', KEYS[2], ARGV[2])
  if removed == 1 and ARGV[4] == '1' then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
else
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
end
return 1
