-- ARGV[4..] job ids just moved to active by BullMQ. Records each lease's expiry
-- (backend time + the lock's remaining TTL) and drops them from the retry index.
local now = nowMs()
local out = {}
for i = 4, #ARGV do
  local jid = ARGV[i]
  local ttl = rcall('PTTL', base .. jid .. ':lock')
  if ttl > 0 then
    rcall('HSET', base .. jid, 'syx', now + ttl)
    out[#out + 1] = now + ttl
  else
    out[#out + 1] = false
  end
  rcall('SREM', own .. 'retry:' .. queue, jid)
end
return out
