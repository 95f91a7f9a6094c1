-- pause_global: sets or clears the cluster-wide dequeue pause; resuming wakes every queue's workers.
-- KEYS[1] global pause flag   KEYS[2] queue registry hash
-- ARGV[1] work channel   ARGV[2] 1 pause | 0 resume
if ARGV[2] == '1' then
  redis.call('SET', KEYS[1], '1')
elseif redis.call('DEL', KEYS[1]) == 1 then
  for _, q in ipairs(redis.call('HKEYS', KEYS[2])) do redis.call('PUBLISH', ARGV[1], q) end
end
return 1
