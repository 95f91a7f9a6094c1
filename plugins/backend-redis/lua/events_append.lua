-- events_append: appends events to the capped event stream and notifies subscribers.
-- Stream ids are monotonic, so a reader resuming after an id misses nothing appended later.
-- The stream is trimmed (MAXLEN ~) once per call rather than per entry: the cap is
-- approximate either way, and a call holds at most SCRIPT_BATCH events.
-- KEYS[1] event stream
-- ARGV[1] events channel   ARGV[2] approximate max length   ARGV[3..] pairs: type, data JSON
-- Returns the new stream ids in order.
local ids = {}
for i = 3, #ARGV, 2 do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 't', ARGV[i], 'd', ARGV[i + 1])
end
if #ids > 0 then
  redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', ARGV[2])
  redis.call('PUBLISH', ARGV[1], ids[#ids])
end
return ids
