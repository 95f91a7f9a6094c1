-- audit_prune: trims the audit stream to at most maxCount events and none older than maxAgeMs.
-- KEYS[1] audit stream
-- ARGV[1] max count ('' none)   ARGV[2] max age ms ('' none)
-- Returns how many events were removed.
--!include common
local removed = 0
if ARGV[1] ~= '' then removed = removed + redis.call('XTRIM', KEYS[1], 'MAXLEN', '=', ARGV[1]) end
if ARGV[2] ~= '' then
  removed = removed + redis.call('XTRIM', KEYS[1], 'MINID', '=', int_str(now_ms() - tonumber(ARGV[2])))
end
return removed
