-- KEYS[1] event stream. ARGV[1] entries kept (approximate trim), ARGV[2] channel told
-- "events", ARGV[3..] (type, data) pairs. Appends every event in one call (one script
-- call instead of one command per event); returns their ids in order.
local ids = {}
for i = 3, #ARGV, 2 do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 't', ARGV[i], 'd', ARGV[i + 1])
end
redis.call('PUBLISH', ARGV[2], 'events')
return ids
