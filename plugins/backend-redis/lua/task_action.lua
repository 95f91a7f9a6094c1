-- task_action: one operator action over chosen tasks, each re-checked and changed here
-- (cancel, run_now, reschedule, move; retry and delete are requeue.lua and delete.lua).
-- KEYS[1] queue registry hash   KEYS[2] canceled index
-- ARGV[1] key prefix  ARGV[2] work channel  ARGV[3] action  ARGV[4] from states (comma separated)
-- ARGV[5] dry run (1|0)  ARGV[6] runAt ms ('' keep)  ARGV[7] priority ('' keep)
-- ARGV[8] maxAttempts ('' keep)  ARGV[9] target queue (move)  ARGV[10..] ids
-- A canceled task's blocked children follow by their policy, as with cancel.lua.
-- Returns { {changed ids}, {skipped: id, reason, state ('' none)...}, {cascaded triples (common.lua)} }
--!include common
local P, action = ARGV[1], ARGV[3]
local from = set_of(ARGV[4])
local dry = ARGV[5] == '1'
local run_at_arg, priority_arg, max_arg, target = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local now = now_ms()
local changed, skipped, woken, seen = {}, {}, {}, {}

-- the score a waiting task has in its state's index
local function score_for(state, priority, run_at)
  if state == 'ready' then return ready_score(priority, run_at) end
  return int_str(run_at)
end

for i = 10, #ARGV do
  local id = ARGV[i]
  if not seen[id] then
    seen[id] = true
    local tk = P .. 't:' .. id
    local f = redis.call('HMGET', tk, 's', 'q', 'h', 'pr', 'ra', 'kc')
    local state, q, h = f[1], f[2], f[3]
    if not state then
      skipped[#skipped + 1] = id; skipped[#skipped + 1] = 'not_found'; skipped[#skipped + 1] = ''
    elseif not from[state] then
      skipped[#skipped + 1] = id; skipped[#skipped + 1] = 'wrong_state'; skipped[#skipped + 1] = state
    else
      changed[#changed + 1] = id
      if not dry then
        leave_state(P, id, state, q, h)
        if action == 'cancel' then
          redis.call('HSET', tk, 's', 'canceled', 'fa', now, 'ua', now)
          enter_state(P, id, 'canceled', q, h, now)
          if f[6] == '1' then settle_children(P, id, 'canceled') end
        elseif action == 'run_now' then
          redis.call('HSET', tk, 's', 'ready', 'ra', now, 'ua', now)
          enter_state(P, id, 'ready', q, h, ready_score(f[4], now))
          woken[q] = true
        elseif action == 'reschedule' then
          local priority, run_at, next_state = f[4], tonumber(f[5]), state
          if priority_arg ~= '' then priority = priority_arg end
          if run_at_arg ~= '' then
            run_at = tonumber(run_at_arg)
            if state ~= 'retrying' then
              if run_at > now then next_state = 'scheduled' else next_state = 'ready' end
            end
          end
          local fields = { 's', next_state, 'pr', priority, 'ra', int_str(run_at), 'ua', now }
          if max_arg ~= '' then fields[#fields + 1] = 'm'; fields[#fields + 1] = max_arg end
          redis.call('HSET', tk, unpack(fields))
          enter_state(P, id, next_state, q, h, score_for(next_state, priority, run_at))
          if next_state == 'ready' then woken[q] = true end
        elseif action == 'move' then
          redis.call('HSET', tk, 'q', target, 'ua', now)
          enter_state(P, id, state, target, h, score_for(state, f[4], f[5]))
          redis.call('HSETNX', KEYS[1], target, now)
          if state == 'ready' then woken[target] = true end
        end
      end
    end
  end
end
for q in pairs(woken) do redis.call('PUBLISH', ARGV[2], q) end
return { changed, skipped, cascaded }
