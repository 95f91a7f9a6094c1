-- Creates or replaces one flow limit (flow.lua); a changed window restarts its rate count.
-- ARGV[1] own key base, ARGV[2] limit key ('queue:<name>' | 'handler:<name>'), ARGV[3] spec
local own, key, spec = ARGV[1], ARGV[2], ARGV[3]
local old = redis.call('HGET', own .. 'fl', key)
if old then
  local _, _, ow = flow_split(old)
  local _, _, nw = flow_split(spec)
  if ow ~= nw then redis.call('HDEL', own .. 'fw', key) end
end
redis.call('HSET', own .. 'fl', key, spec)
return 1
