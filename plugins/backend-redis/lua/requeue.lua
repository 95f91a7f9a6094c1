-- requeue: moves tasks (by id, or the oldest matching a filter) back to ready with a
-- fresh attempt budget, optionally to another queue and/or with a new payload.
-- KEYS[1] queue registry hash
-- ARGV[1] key prefix  ARGV[2] work channel  ARGV[3] from states (comma separated)
-- ARGV[4] target queue ('' keep)  ARGV[5] new payload JSON ('' keep)  ARGV[6] dry run (1|0)
-- ARGV[7] mode: 'ids' then ARGV[8..] ids
--             'filter' then ARGV[8] state  ARGV[9] queue  ARGV[10] handler  ARGV[11] query  ARGV[12] limit  ARGV[13] scan cap
--               ARGV[14] time window field ('ca' | 'fa' | '' none)  ARGV[15] since ('' open)  ARGV[16] until ('' open)
--               ARGV[17] tenant ('' any)  ARGV[18] correlation id ('' any)
-- Returns { {requeued ids}, {skipped: id, reason, state ('' none)...} }
--!include common
--!include select
local P = ARGV[1]
local from = set_of(ARGV[3])
local target, payload, dry = ARGV[4], ARGV[5], ARGV[6] == '1'
local ids
if ARGV[7] == 'ids' then
  ids = {}
  for i = 8, #ARGV do ids[#ids + 1] = ARGV[i] end
else
  local state = ARGV[8]
  local only = nil
  for s in pairs(from) do if only == nil then only = s else only = false end end
  local spec = { state = state, queue = ARGV[9], handler = ARGV[10], query = ARGV[11], desc = false,
    wf = ARGV[14] or '', since = tonumber(ARGV[15] or ''), till = tonumber(ARGV[16] or ''), tenant = ARGV[17] or '', correlation = ARGV[18] or '' }
  if state == '' then
    if only then spec.state = only else spec.states = from end
  end
  ids = select_ids(P, spec, 0, tonumber(ARGV[12]), tonumber(ARGV[13]))
end
local now = now_ms()
local requeued, skipped = {}, {}
local woken = {}
local seen = {}
for _, id in ipairs(ids) do
  if not seen[id] then
    seen[id] = true
    local tk = P .. 't:' .. id
    local f = redis.call('HMGET', tk, 's', 'q', 'h', 'pr', 'rp')
    if not f[1] then
      skipped[#skipped + 1] = id; skipped[#skipped + 1] = 'not_found'; skipped[#skipped + 1] = ''
    elseif not from[f[1]] then
      skipped[#skipped + 1] = id; skipped[#skipped + 1] = 'wrong_state'; skipped[#skipped + 1] = f[1]
    else
      requeued[#requeued + 1] = id
      if not dry then
        local q = f[2]
        if target ~= '' then q = target end
        leave_state(P, id, f[1], f[2], f[3])
        local fields = { 's', 'ready', 'q', q, 'a', 0, 'rp', tonumber(f[5] or '0') + 1, 'ra', now, 'ua', now,
          'fa', '', 'lt', '', 'lx', '', 'rv', '', 'pg', '' }
        if payload ~= '' then
          fields[#fields + 1] = 'p'; fields[#fields + 1] = payload
          fields[#fields + 1] = 'ps'; fields[#fields + 1] = #payload
        end
        redis.call('HSET', tk, unpack(fields))
        enter_state(P, id, 'ready', q, f[3], ready_score(f[4], now))
        if target ~= '' then redis.call('HSETNX', KEYS[1], q, now) end
        woken[q] = true
      end
    end
  end
end
for q in pairs(woken) do redis.call('PUBLISH', ARGV[2], q) end
return { requeued, skipped }
