-- KEYS[1] limit config hash, KEYS[2] window counter key prefix. ARGV[1] permits wanted.
-- Fixed windows on the Redis clock, shared by every node.
local rcall = redis.call
local wanted = tonumber(ARGV[1])
local cfg = rcall('HMGET', KEYS[1], 'limit', 'windowMs')
local limit, windowMs = tonumber(cfg[1]), tonumber(cfg[2])
if not limit or not windowMs then return wanted end
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key = KEYS[2] .. ':' .. math.floor(now / windowMs)
local used = tonumber(rcall('GET', key)) or 0
local grant = math.min(wanted, limit - used)
if grant <= 0 then return 0 end
rcall('INCRBY', key, grant)
rcall('PEXPIRE', key, windowMs * 2)
return grant
