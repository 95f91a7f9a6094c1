-- list: one page of tasks matching a filter, in the order the contract asks for
-- (ready/scheduled/retrying: run order; dead/succeeded/canceled: latest finished first;
-- processing: latest lease deadline first; no state: newest first).
-- KEYS[1] all-tasks index
-- ARGV[1] key prefix  ARGV[2] state ('' any)  ARGV[3] queue ('' any)  ARGV[4] handler ('' any)
-- ARGV[5] lowercase text query ('' none)   ARGV[6] offset   ARGV[7] limit   ARGV[8] scan cap
-- ARGV[9] time window field ('ca' created, 'fa' finished, '' none)  ARGV[10] since ('' open)  ARGV[11] until ('' open)
-- ARGV[12] tenant ('' any)   ARGV[13] correlation id ('' any)
-- ARGV[14] position score, ARGV[15] position id (both '': from the start; see select.lua)
-- Returns { total (-1 when handler/text/window/tenant/correlation filters have more candidates than the scan cap), capped (1|0),
--   next position score, next position id ('' '' on the last page), { id, { hash fields... } }... }
--!include common
--!include select
local P, state, queue, handler, query = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local offset, limit, scan_cap = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local wf = ARGV[9] or ''
local desc = not (state == 'ready' or state == 'scheduled' or state == 'retrying')
local tenant, correlation = ARGV[12] or '', ARGV[13] or ''
local spec = { state = state, queue = queue, handler = handler, query = query, desc = desc,
  wf = wf, since = tonumber(ARGV[10] or ''), till = tonumber(ARGV[11] or ''), tenant = tenant, correlation = correlation }
if (ARGV[15] or '') ~= '' then
  spec.after_score, spec.after_id = tonumber(ARGV[14]), ARGV[15]
  offset = 0
end
local window = wf ~= ''
-- a window on one final state's finish time over every queue is a ZCOUNT of its index
local window_counted = window and window_by_score(spec) and queue == ''
-- tenant and correlation filters are examined per candidate, like handler and text
local examined = handler ~= '' or query ~= '' or tenant ~= '' or correlation ~= ''

local function queue_count(q, s)
  if s == 'ready' then return ready_count(P, q) end
  if s == 'scheduled' or s == 'retrying' then return redis.call('ZCARD', state_index(P, s, q)) end
  return tonumber(redis.call('HGET', P .. 'c:' .. q, COUNTER_FIELD[s]) or '0')
end

-- Handler and text filters have no counters: their total is counted by examining every
-- candidate, which is done only when the candidates fit in the scan cap.
local count_all = false
if examined or (window and not window_counted) then
  local candidates = 0
  for _, key in ipairs((candidate_keys(P, spec))) do
    if window and window_by_score(spec) then
      local lo, hi = score_bounds(spec)
      candidates = candidates + redis.call('ZCOUNT', key, lo, hi)
    else
      candidates = candidates + redis.call('ZCARD', key)
    end
  end
  count_all = candidates <= scan_cap
end
-- one match past the page tells whether another page follows
local ids, capped, matched, scores, last_score, last_id = select_ids(P, spec, offset, limit + 1, scan_cap, count_all)
local next_score, next_id = '', ''
if #ids > limit then
  ids[#ids] = nil
  if limit > 0 then next_score, next_id = int_str(scores[limit]), ids[limit] end
elseif capped and last_id then
  -- the scan bound cut the page short: the next page goes on from the last candidate examined
  next_score, next_id = int_str(last_score), last_id
end

local total = -1
if count_all then
  total = matched
elseif window_counted and not examined then
  local lo, hi = score_bounds(spec)
  total = redis.call('ZCOUNT', state_index(P, state, ''), lo, hi)
elseif not examined and not window then
  if state ~= '' and queue ~= '' then
    total = queue_count(queue, state)
  elseif state ~= '' then
    if state == 'ready' or state == 'scheduled' or state == 'retrying' then
      total = 0
      for _, q in ipairs(redis.call('HKEYS', P .. 'queues')) do total = total + queue_count(q, state) end
    else
      total = redis.call('ZCARD', state_index(P, state, ''))
    end
  elseif queue ~= '' then
    total = 0
    for _, s in ipairs({ 'ready', 'scheduled', 'retrying', 'processing', 'dead', 'succeeded', 'canceled', 'blocked' }) do
      total = total + queue_count(queue, s)
    end
  else
    total = redis.call('ZCARD', KEYS[1])
  end
end

local out = { total, capped and 1 or 0, next_score, next_id }
for _, id in ipairs(ids) do
  out[#out + 1] = { id, redis.call('HGETALL', P .. 't:' .. id) }
end
return out
