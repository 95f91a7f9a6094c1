-- delete: removes tasks in one of the given states, with every index entry and counter.
-- KEYS[1] all-tasks index
-- ARGV[1] key prefix  ARGV[2] from states (comma separated)  ARGV[3] dry run (1|0)  ARGV[4..] ids
-- Returns { {deleted ids}, {skipped: id, reason, state ('' none)...}, {cascaded triples (common.lua)} }
--!include common
local P = ARGV[1]
local from = set_of(ARGV[2])
local dry = ARGV[3] == '1'
local deleted, skipped = {}, {}
local seen = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  if not seen[id] then
    seen[id] = true
    local f = redis.call('HMGET', P .. 't:' .. id, 's', 'q', 'h', 'ik')
    if not f[1] then
      skipped[#skipped + 1] = id; skipped[#skipped + 1] = 'not_found'; skipped[#skipped + 1] = ''
    elseif not from[f[1]] then
      skipped[#skipped + 1] = id; skipped[#skipped + 1] = 'wrong_state'; skipped[#skipped + 1] = f[1]
    else
      deleted[#deleted + 1] = id
      if not dry then erase_task(P, id, f[1], f[2], f[3], f[4]) end
    end
  end
end
return { deleted, skipped, cascaded }
