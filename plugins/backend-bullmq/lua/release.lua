-- ARGV[5] lock token. Hands a leased job back without consuming its attempt.
local jobKey = base .. id
if rcall('GET', jobKey .. ':lock') ~= ARGV[5] then return 0 end
if rcall('LREM', base .. 'active', 1, id) == 0 then return 0 end
rcall('DEL', jobKey .. ':lock')
rcall('SREM', base .. 'stalled', id)
if (tonumber(rcall('HGET', jobKey, 'ats')) or 0) > 0 then rcall('HINCRBY', jobKey, 'ats', -1) end
rcall('HDEL', jobKey, 'syx')
rcall('HSET', jobKey, 'syu', nowMs())
pushReady(base, id, true)
emit(base, 'event', 'waiting', 'jobId', id, 'prev', 'active')
return 1
