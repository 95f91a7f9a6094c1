-- events_append: appends a batch of events to the event log as one stream entry
-- (lib/events.lua) and notifies subscribers. Stream ids are monotonic, so a reader
-- resuming after an id misses nothing appended later.
-- KEYS[1] event stream   KEYS[2] its entry index   KEYS[3] its event count
-- ARGV[1] events channel   ARGV[2] events kept   ARGV[3] number of events
-- ARGV[4] the events as a JSON array of [type, data] pairs
-- Returns the entry's stream id.
--!include events
local id = events_log(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4])
redis.call('PUBLISH', ARGV[1], id)
return id
