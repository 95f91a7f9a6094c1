-- KEYS[1] lock hash. ARGV[1] holder, ARGV[2] fencing token. Only the current holder releases.
local cur = redis.call('HMGET', KEYS[1], 'holder', 'token')
if cur[1] == ARGV[1] and cur[2] == ARGV[2] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
