-- ARGV[5] lock token, ARGV[6] progress JSON. BullMQ's updateProgress (the job's
-- `progress` field and a `progress` event on the queue's stream, so BullMQ's
-- QueueEvents and dashboards see it), only while the lease holds.
local jobKey = base .. id
if rcall('GET', jobKey .. ':lock') ~= ARGV[5] then return 0 end
rcall('HSET', jobKey, 'progress', ARGV[6])
emit(base, 'event', 'progress', 'jobId', id, 'data', ARGV[6])
return 1
