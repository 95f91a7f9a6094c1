-- records-list: one page of a collection in key (byte) order.
-- KEYS[1] record hash of the collection   KEYS[2] key index zset
-- ARGV[1] list after this key ('' = from the start)   ARGV[2] limit
-- Returns { key, "version:updatedAt:json", ... }
local start = '-'
if ARGV[1] ~= '' then start = '(' .. ARGV[1] end
local keys = redis.call('ZRANGEBYLEX', KEYS[2], start, '+', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
if #keys == 0 then return out end
local values = redis.call('HMGET', KEYS[1], unpack(keys))
for i, key in ipairs(keys) do
  if values[i] then
    out[#out + 1] = key
    out[#out + 1] = values[i]
  end
end
return out
