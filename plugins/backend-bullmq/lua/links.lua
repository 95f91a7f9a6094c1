-- ARGV[5] most children reported. The task's state, handler, parents (its 'sydp',
-- a JSON array, or '') and children (deps.lua), or false when it is not stored.
local state = jobState(base, queue, id)
if state == nil or state == 'unknown' then return false end
local f = rcall('HMGET', base .. id, 'name', 'sydp')
local children = {}
local most = tonumber(ARGV[5])
if rcall('EXISTS', own .. 'dp') == 1 then
  local cursor = '0'
  repeat
    local page = rcall('SSCAN', own .. 'kids:' .. depTaskId(queue, id), cursor, 'COUNT', 1000)
    cursor = page[1]
    for _, cid in ipairs(page[2]) do
      -- a child deleted since keeps no index entry
      if #children < most and rcall('HEXISTS', own .. 'idx', cid) == 1 then children[#children + 1] = cid end
    end
  until cursor == '0' or #children >= most
end
return {state, f[1] or '', f[2] or '', children}
