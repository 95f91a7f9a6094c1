-- records-put: write one record, optionally compare-and-set on its version.
-- KEYS[1] record hash of the collection (key -> "version:updatedAt:json")   KEYS[2] key index zset (lex order)
-- ARGV[1] key   ARGV[2] value json   ARGV[3] mode: any | absent | version   ARGV[4] expected version (mode version)
-- Returns { 1, version, updatedAt } when written, else { 0, version, updatedAt, json } of what is stored ({ 0 } when absent)
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local version, updated, body = 0, '0', nil
if cur then
  local v, u, rest = string.match(cur, '^(%d+):(%d+):(.*)$')
  version, updated, body = tonumber(v), u, rest
end
local mode = ARGV[3]
if (mode == 'absent' and cur) or (mode == 'version' and ((not cur) or version ~= tonumber(ARGV[4]))) then
  if cur then return { 0, version, updated, body } end
  return { 0 }
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local next_version = version + 1
redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f', next_version) .. ':' .. string.format('%.0f', now) .. ':' .. ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return { 1, next_version, now }
