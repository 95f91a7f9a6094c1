-- Task selection over the state indexes, shared by listing and bulk requeue.
-- Candidates come from the index of the requested state (merged across queues by
-- score when no queue is given) or from the all-tasks index; handler, queue (on
-- global indexes) and text filters are checked per candidate, and at most
-- `scan_cap` candidates are examined per call so a selective filter can never
-- block Redis for long.

local CHUNK = 200

-- Score bounds of a by-score read ('-inf'/'+inf' when open).
local function score_bounds(spec)
  local lo, hi = '-inf', '+inf'
  if spec.since then lo = int_str(spec.since) end
  if spec.till then hi = int_str(spec.till) end
  return lo, hi
end

-- One chunk of a zset in index order; with `bounds`, only members scored within them.
local function read_chunk(key, desc, start, count, bounds)
  if bounds then
    if desc then return redis.call('ZREVRANGEBYSCORE', key, bounds[2], bounds[1], 'WITHSCORES', 'LIMIT', start, count) end
    return redis.call('ZRANGEBYSCORE', key, bounds[1], bounds[2], 'WITHSCORES', 'LIMIT', start, count)
  end
  return redis.call(desc and 'ZREVRANGE' or 'ZRANGE', key, start, start + count - 1, 'WITHSCORES')
end

-- Yields ids in index order, k-way merging several zsets by (score, id).
-- `starts` (optional): per key, how many members of its range to pass over first.
local function index_stream(keys, desc, bounds, starts)
  local cur = {}
  for i = 1, #keys do cur[i] = { key = keys[i], buf = {}, pos = 1, start = starts and starts[i] or 0, exhausted = false } end
  local function head(c)
    if c.pos > #c.buf then
      if c.exhausted then return nil end
      c.buf = read_chunk(c.key, desc, c.start, CHUNK, bounds)
      c.start = c.start + CHUNK
      c.pos = 1
      if #c.buf < CHUNK * 2 then c.exhausted = true end
      if #c.buf == 0 then return nil end
    end
    return c.buf[c.pos], tonumber(c.buf[c.pos + 1])
  end
  return function()
    local best, best_score, best_id = nil, nil, nil
    for i = 1, #cur do
      local id, score = head(cur[i])
      if id then
        local better = best == nil
        if not better then
          if desc then better = score > best_score or (score == best_score and id > best_id)
          else better = score < best_score or (score == best_score and id < best_id) end
        end
        if better then best, best_score, best_id = i, score, id end
      end
    end
    if not best then return nil end
    cur[best].pos = cur[best].pos + 2
    return best_id, best_score
  end
end

local PER_QUEUE_STATES = { ready = true, scheduled = true, retrying = true }

-- Final states live in one global index each, scored by the finish time.
local FINAL_STATES = { dead = true, succeeded = true, canceled = true }

-- Whether the spec's time window is a score range of its candidate index: a window on
-- the finish time of one final state. Other windows are checked per candidate.
local function window_by_score(spec)
  return spec.wf == 'fa' and FINAL_STATES[spec.state] == true
end

-- The indexes a selection reads its candidates from, and whether they hold only the spec's queue.
local function candidate_keys(P, spec)
  if spec.state == '' then return { P .. 'all' }, false end
  if not PER_QUEUE_STATES[spec.state] then return { state_index(P, spec.state, '') }, false end
  local keys = {}
  -- ready tasks of a queue may also sit in parked indexes (see common.lua)
  local function add_queue(q)
    if spec.state == 'ready' then
      for _, key in ipairs(ready_keys(P, q)) do keys[#keys + 1] = key end
    else
      keys[#keys + 1] = state_index(P, spec.state, q)
    end
  end
  if spec.queue ~= '' then
    add_queue(spec.queue)
    return keys, true
  end
  for _, q in ipairs(redis.call('HKEYS', P .. 'queues')) do add_queue(q) end
  return keys, false
end

-- Keyset paging: a position is the (score, id) of the last task of a page, in the
-- merged (score, id) order of the candidate indexes. Reading after it is a by-score
-- range starting at its score (O(log n) however deep), skipping the members of that
-- score up to and including its id.
local function after_bounds(spec, bounds)
  local lo, hi = '-inf', '+inf'
  if bounds then lo, hi = bounds[1], bounds[2] end
  local at = int_str(spec.after_score)
  if spec.desc then
    if hi == '+inf' or tonumber(hi) > spec.after_score then hi = at end
  else
    if lo == '-inf' or tonumber(lo) < spec.after_score then lo = at end
  end
  return { lo, hi }
end

-- Per key, the members of the position's score that sort at or before it: the range
-- after_bounds gives starts at that score, so passing over them starts right after the
-- position, O(log n) by ZRANK. When the position's task has left the key (it ran or
-- finished since), 0: its score's members are then skipped one by one (not_after).
local function after_starts(keys, spec)
  local starts = {}
  local at = int_str(spec.after_score)
  for i, key in ipairs(keys) do
    starts[i] = 0
    local score = redis.call('ZSCORE', key, spec.after_id)
    if score and tonumber(score) == spec.after_score then
      if spec.desc then
        starts[i] = redis.call('ZREVRANK', key, spec.after_id) - redis.call('ZCOUNT', key, '(' .. at, '+inf') + 1
      else
        starts[i] = redis.call('ZRANK', key, spec.after_id) - redis.call('ZCOUNT', key, '-inf', '(' .. at) + 1
      end
    end
  end
  return starts
end

-- whether (score, id) sorts at or before the position (already listed)
local function not_after(spec, score, id)
  if score ~= spec.after_score then return false end
  if spec.desc then return id >= spec.after_id end
  return id <= spec.after_id
end

-- spec: { state, queue, handler, query (lowercase), states (set, optional), desc,
--         wf (time window field: 'ca' created, 'fa' finished, '' no window), since, till (numbers or nil),
--         tenant ('' or nil: any), correlation ('' or nil: any),
--         after_score, after_id (a position: only candidates after it; nil: from the start) }
-- Returns ids (after skipping `offset` matches, at most `limit`), whether the scan cap
-- stopped it, with count_all the number of matches among every candidate examined
-- (the scan then goes on past the page, still within the cap), the scores of the ids,
-- and the (score, id) of the last candidate examined.
local function select_ids(P, spec, offset, limit, scan_cap, count_all)
  local keys, queue_exact = candidate_keys(P, spec)
  local check_queue = spec.queue ~= '' and not queue_exact
  local check_state = spec.state == '' and spec.states ~= nil
  local bounds = nil
  if (spec.wf or '') ~= '' and window_by_score(spec) then bounds = { score_bounds(spec) } end
  local keyset = spec.after_id ~= nil
  if keyset then bounds = after_bounds(spec, bounds) end
  local check_window = (spec.wf or '') ~= '' and bounds == nil
  local tenant, correlation = spec.tenant or '', spec.correlation or ''
  local filtered = check_queue or check_state or check_window or spec.handler ~= '' or spec.query ~= '' or tenant ~= '' or correlation ~= ''
  local ids, scores = {}, {}
  local last_score, last_id = nil, nil
  if not filtered and #keys == 1 and not count_all and not keyset then
    if limit <= 0 then return ids, false, 0, scores end
    local flat = read_chunk(keys[1], spec.desc, offset, limit, bounds)
    for i = 1, #flat, 2 do
      ids[#ids + 1] = flat[i]
      scores[#scores + 1] = tonumber(flat[i + 1])
    end
    return ids, false, 0, scores
  end
  local next_id = index_stream(keys, spec.desc, bounds, keyset and after_starts(keys, spec) or nil)
  local examined, matched = 0, 0
  while count_all or #ids < limit do
    if examined >= scan_cap then return ids, true, matched, scores, last_score, last_id end
    local id, score = next_id()
    if not id then break end
    examined = examined + 1
    last_score, last_id = score, id
    local ok = not (keyset and not_after(spec, score, id))
    if ok and filtered then
      local f = redis.call('HMGET', P .. 't:' .. id, 'q', 'h', 's', 'p', 'le', spec.wf ~= '' and spec.wf or 'ca', 'tn', 'ci')
      local at = tonumber(f[6] or '')
      if not f[1] then ok = false
      elseif check_window and (at == nil or (spec.since and at < spec.since) or (spec.till and at > spec.till)) then ok = false
      elseif tenant ~= '' and f[7] ~= tenant then ok = false
      elseif correlation ~= '' and f[8] ~= correlation then ok = false
      elseif check_queue and f[1] ~= spec.queue then ok = false
      elseif spec.handler ~= '' and f[2] ~= spec.handler then ok = false
      elseif check_state and not spec.states[f[3]] then ok = false
      elseif spec.query ~= '' then
        local q = spec.query
        ok = string.find(string.lower(id), q, 1, true) ~= nil
          or string.find(string.lower(f[2]), q, 1, true) ~= nil
          or string.find(string.lower(f[4] or ''), q, 1, true) ~= nil
          or string.find(string.lower(f[5] or ''), q, 1, true) ~= nil
      end
    end
    if ok then
      matched = matched + 1
      if matched > offset and #ids < limit then
        ids[#ids + 1] = id
        scores[#scores + 1] = score
      end
    end
  end
  return ids, false, matched, scores, last_score, last_id
end
