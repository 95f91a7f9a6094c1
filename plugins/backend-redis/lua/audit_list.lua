-- audit_list: newest-first audit events matching action/target, bounded by limit and scan cap.
-- KEYS[1] audit stream
-- ARGV[1] limit   ARGV[2] action ('' any)   ARGV[3] target ('' any)   ARGV[4] since ms ('' none)
-- ARGV[5] before id ('' = newest)   ARGV[6] scan cap
-- Returns { {id, {field, value...}}... } as XREVRANGE does.
local limit, scan_cap = tonumber(ARGV[1]), tonumber(ARGV[6])
local action, target = ARGV[2], ARGV[3]
local since = tonumber(ARGV[4])
local upper = '+'
if ARGV[5] ~= '' then upper = '(' .. ARGV[5] end
local out = {}
local examined = 0
local CHUNK = 200
while #out < limit and examined < scan_cap do
  local batch = redis.call('XREVRANGE', KEYS[1], upper, '-', 'COUNT', CHUNK)
  if #batch == 0 then break end
  for _, entry in ipairs(batch) do
    local id = entry[1]
    examined = examined + 1
    if since and tonumber(string.match(id, '^(%d+)')) < since then return out end
    local f = entry[2]
    local a, tg = nil, nil
    for j = 1, #f, 2 do
      if f[j] == 'a' then a = f[j + 1] elseif f[j] == 'tg' then tg = f[j + 1] end
    end
    if (action == '' or a == action) and (target == '' or tg == target) then
      out[#out + 1] = entry
      if #out >= limit then return out end
    end
    upper = '(' .. id
  end
  if #batch < CHUNK then break end
end
return out
