-- ARGV[5] lock token, ARGV[6] lease ms. BullMQ's extendLock plus the new expiry,
-- recorded on the job so getTask reports the lease a worker actually holds.
local jobKey = base .. id
if rcall('GET', jobKey .. ':lock') ~= ARGV[5] then return false end
rcall('SET', jobKey .. ':lock', ARGV[5], 'PX', ARGV[6])
rcall('SREM', base .. 'stalled', id)
local expires = nowMs() + tonumber(ARGV[6])
rcall('HSET', jobKey, 'syx', expires)
return expires
