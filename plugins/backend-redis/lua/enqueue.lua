-- enqueue: creates tasks, or returns the existing id when the idempotency key is known.
-- KEYS[1] idempotency hash (key -> id)   KEYS[2] all-tasks index (zset by sequence)
-- KEYS[3] task id sequence               KEYS[4] queue registry hash
-- KEYS[5] event stream   KEYS[6] its entry index   KEYS[7] its event count (lib/events.lua)
-- ARGV[1] key prefix   ARGV[2] work channel
-- ARGV[3] event type ('' = append no events)   ARGV[4] events channel   ARGV[5] approximate max events
-- ARGV[6] fields per task: 13, or 15 when some task names parents
-- ARGV[7..] per task: queue, handler, payload (JSON), maxAttempts, priority,
--   timeoutMs, runAt ('' = now + delayMs), delayMs, idempotencyKey ('' = none),
--   event data (a JSON object without the id), idempotency mode ('' reject, 'replace',
--   'preserve_run_at'), tenant ('' = none), correlation id ('' = none), and with 15
--   fields: parent ids (comma separated, '' = none), policy for a parent that dies
--   ('cancel' | 'dead')
-- A parent that is not stored refuses the whole call before anything is written:
-- the reply is then { '!missing', parent id }. A created task with parents is blocked
-- until they all succeeded (see settle_children in common.lua); one whose parent is
-- already dead or canceled takes its policy at once; the reply then ends with one more
-- element after the pairs: the cascaded triples (common.lua) of those tasks.
-- With an event type, each created task's event { id, ...data } goes to the event log
-- in this script (the call's events as one entry), so the event is in the log before
-- any worker can lease the task.
-- With a replace mode, a key whose task has not started (scheduled or ready, attempts 0)
-- updates it in place: payload, priority, maxAttempts, timeoutMs and (unless
-- preserve_run_at) runAt, moving it between the ready and scheduled indexes.
-- Returns { id1, outcome1, id2, outcome2, ... } in request order: 1 created, 0 the
-- key's task left as is, 2 replaced, or (replace mode) the state that kept it as is.
-- Push delivery (lib/push.lua): a created task ready at once, of a queue not paused,
-- while nothing is paused globally and no flow or rate limit is stored, goes to an idle
-- registered worker that runs its handler and is not cordoned, when there is one: it is
-- leased to that worker here (lib/lease_fields.lua, the processing index and count, as
-- lease.lua does) and appended to the worker's inbox; its queue is then not woken. The
-- call takes at most the worker's registered slots and then unregisters it.
-- Hot path: a created task's hash holds only what differs from the defaults readers
-- assume (codec.ts): no attempts (0), replays (0), payload size (the payload's length)
-- or updatedAt (createdAt) until a transition writes them. Numbers go to redis.call as
-- strings made once per call: Redis formats a Lua number argument with printf, which
-- costs more than the command it is an argument of.
--!include common
--!include events
--!include lease_fields
--!include push
local P = ARGV[1]
local EVENT_TYPE = ARGV[3]
local HEAD = 6
local FIELDS = tonumber(ARGV[6])
local n = (#ARGV - HEAD) / FIELDS
if FIELDS > 13 then
  for i = 0, n - 1 do
    local parents = ARGV[HEAD + i * FIELDS + 14]
    if parents ~= '' then
      for pid in string.gmatch(parents, '[^,]+') do
        if redis.call('EXISTS', P .. 't:' .. pid) == 0 then return { '!missing', pid } end
      end
    end
  end
end
-- the created tasks' events, each a JSON [type, data] pair
local events = {}
local event_type_json = EVENT_TYPE ~= '' and cjson.encode(EVENT_TYPE) or nil
local now = now_ms()
local now_s = int_str(now)
local last = redis.call('INCRBY', KEYS[3], n)
local seq = last - n
local out = {}
local registered = {}
local woken = {}
-- Created tasks go into the all-tasks index and their queue's ready index with one
-- ZADD per index at the end (score, id pairs gathered here); a replace flushes them
-- first, since it may move a task created earlier in this call.
local all_new = {}
local ready_new = {}
local function flush_indexes()
  if #all_new > 0 then redis.call('ZADD', KEYS[2], unpack(all_new)) end
  all_new = {}
  for key, pairs_of in pairs(ready_new) do redis.call('ZADD', key, unpack(pairs_of)) end
  ready_new = {}
end
local pending = {}
local last_priority, last_run_at, last_score = nil, nil, nil

-- Push delivery. push_on: nil until checked in this call, then whether pushing is allowed
-- at all; idle[q]: the queue's registered idle workers (ids, false once found unusable),
-- or false when it has none or is paused.
local push_on = nil
local idle = {}
local lease_seq = P .. 'lseq'
-- workers pushed to in this call: their slots left, and their queue lists (push_unregister)
local push_left = {}
local push_qs = {}
-- An idle worker that takes a task of queue q and handler h now, and its registration
-- fields (n, ms, u, a, h:<h>, qs, f); nil when there is none.
local function push_target(q, h)
  local workers = idle[q]
  if workers == nil then
    -- the common case, no idle worker for the queue, costs one SMEMBERS (of no key) per queue and call
    workers = redis.call('SMEMBERS', push_idle(P, q))
    if #workers == 0 then
      workers = false
    else
      if push_on == nil then
        -- global pause, flow limits, rate limit: any of them stored means no push at all
        push_on = redis.call('EXISTS', P .. 'gpause', P .. 'fl', P .. 'rl') == 0
      end
      if not push_on or redis.call('HEXISTS', P .. 'qp', q) == 1 then workers = false end
    end
    idle[q] = workers
  end
  if not workers then return nil end
  for i = 1, #workers do
    local w = workers[i]
    if w then
      local f = redis.call('HMGET', push_hash(P, w), 'n', 'ms', 'u', 'a', 'h:' .. h, 'qs', 'f')
      if not f[1] then
        redis.call('SREM', push_idle(P, q), w)
        workers[i] = false
      elseif tonumber(f[3]) < now or redis.call('HGET', P .. 'w:' .. w, 'c') == '1' then
        -- a registration past its lifetime (its worker is gone or late) or a cordoned worker
        push_unregister(P, w, f[6])
        workers[i] = false
      elseif push_left[w] == 0 then
        workers[i] = false
      elseif f[4] == '1' or f[5] then
        return w, f
      end
    end
  end
  return nil
end

-- Leases task id to idle worker w (registration f): its hash, written from `fields`, is
-- written leased already (lease_fields_into, with the lease's token and deadline); this
-- indexes the lease and appends it to the worker's inbox in the format the worker reads
-- (push_entry).
local function push_task(w, f, id, q, h, fields, run_at_s, token, deadline_s)
  redis.call('ZADD', P .. 'proc', deadline_s, id)
  redis.call('HINCRBY', P .. 'c:' .. q, 'p', 1)
  -- fields[6] payload, [10] maxAttempts, [12] priority, [16] timeoutMs (see where fields is made)
  local inbox = push_inbox(P, w)
  redis.call('RPUSH', inbox, push_entry(f[7], deadline_s, id, q, h, fields[6], '1', fields[10], fields[12], fields[16], now_s, run_at_s, token))
  -- an inbox nobody drains (its worker died) holds only leases that expire and are recovered
  redis.call('PEXPIRE', inbox, tonumber(f[2]) * 2)
  -- counted here; the registration itself ends with this call (see the end of the script)
  push_left[w] = (push_left[w] or tonumber(f[1])) - 1
  push_qs[w] = f[6]
end
for i = 0, n - 1 do
  local b = HEAD + i * FIELDS
  local q, ikey = ARGV[b + 1], ARGV[b + 9]
  local existing = false
  if ikey ~= '' then existing = redis.call('HGET', KEYS[1], ikey) end
  local mode = ARGV[b + 11]
  if existing and mode ~= '' then
    flush_indexes()
    local tk = P .. 't:' .. existing
    local f = redis.call('HMGET', tk, 's', 'a', 'q', 'h', 'ra')
    if not f[1] then
      out[#out + 1] = existing
      out[#out + 1] = 0
    elseif (f[1] == 'ready' or f[1] == 'scheduled') and tonumber(f[2] or '0') == 0 then
      local payload, priority = ARGV[b + 3], ARGV[b + 5]
      local run_at = tonumber(f[5])
      if mode ~= 'preserve_run_at' then
        run_at = now + tonumber(ARGV[b + 8])
        if ARGV[b + 7] ~= '' then run_at = tonumber(ARGV[b + 7]) end
      end
      local state = 'ready'
      if run_at > now then state = 'scheduled' end
      leave_state(P, existing, f[1], f[3], f[4])
      redis.call('HSET', tk, 'p', payload, 'ps', #payload, 'pr', priority, 'm', ARGV[b + 4], 'to', ARGV[b + 6],
        'ra', int_str(run_at), 's', state, 'ua', now)
      if state == 'ready' then
        enter_state(P, existing, 'ready', f[3], f[4], ready_score(priority, run_at))
        woken[f[3]] = true
      else
        enter_state(P, existing, 'scheduled', f[3], f[4], int_str(run_at))
      end
      out[#out + 1] = existing
      out[#out + 1] = 2
    else
      out[#out + 1] = existing
      out[#out + 1] = f[1]
    end
  elseif existing then
    out[#out + 1] = existing
    out[#out + 1] = 0
  else
    seq = seq + 1
    local id = string.format('%012d', seq)
    local payload, priority = ARGV[b + 3], ARGV[b + 5]
    local run_at, run_at_s = now, now_s
    if ARGV[b + 7] ~= '' then
      run_at = tonumber(ARGV[b + 7])
      run_at_s = int_str(run_at)
    elseif ARGV[b + 8] ~= '0' then
      run_at = now + tonumber(ARGV[b + 8])
      run_at_s = int_str(run_at)
    end
    local state = 'ready'
    if run_at > now then state = 'scheduled' end
    local fields = { 'q', q, 'h', ARGV[b + 2], 'p', payload, 's', state, 'm', ARGV[b + 4],
      'pr', priority, 'ra', run_at_s, 'to', ARGV[b + 6], 'ca', now_s }
    if ARGV[b + 12] ~= '' then
      fields[#fields + 1] = 'tn'
      fields[#fields + 1] = ARGV[b + 12]
    end
    if ARGV[b + 13] ~= '' then
      fields[#fields + 1] = 'ci'
      fields[#fields + 1] = ARGV[b + 13]
    end
    local parents = ''
    if FIELDS > 13 then parents = ARGV[b + 14] end
    if parents ~= '' then
      local policy = ARGV[b + 15]
      local waiting, failure = 0, nil
      for pid in string.gmatch(parents, '[^,]+') do
        local pk = P .. 't:' .. pid
        local ps = redis.call('HGET', pk, 's')
        if ps == 'dead' or ps == 'canceled' then
          if not failure then failure = 'parent task ' .. pid .. ' was ' .. ps end
        elseif ps ~= 'succeeded' then
          waiting = waiting + 1
        else
          -- counted now: its next success (after a requeue) does not count again
          fields[#fields + 1] = 'pd:' .. pid
          fields[#fields + 1] = '1'
        end
        redis.call('HSET', pk, 'kc', '1')
        redis.call('SADD', P .. 'kids:' .. pid, id)
      end
      for _, v in ipairs({ 'dp', parents, 'pf', policy, 'pp', waiting }) do fields[#fields + 1] = v end
      if failure then
        state = 'canceled'
        if policy == 'dead' then
          state = 'dead'
          for _, v in ipairs({ 'er', cjson.encode({ { attempt = 0, message = failure, at = now } }) }) do fields[#fields + 1] = v end
        end
        for _, v in ipairs({ 'le', failure, 'fa', now }) do fields[#fields + 1] = v end
        note_cascaded(id, q, state)
      elseif waiting > 0 then
        state = 'blocked'
      end
      fields[8] = state
    end
    local push_w, push_f = nil, nil
    if state == 'ready' then push_w, push_f = push_target(q, ARGV[b + 2]) end
    if ikey ~= '' then
      fields[#fields + 1] = 'ik'
      fields[#fields + 1] = ikey
      redis.call('HSET', KEYS[1], ikey, id)
    end
    local push_token, push_deadline_s = nil, nil
    if push_w then
      push_deadline_s = int_str(now + tonumber(push_f[2]))
      push_token = string.format('%d', redis.call('INCR', lease_seq))
      fields[8] = 'processing'
      lease_fields_into(fields, '1', push_token, push_deadline_s, now_s, push_w)
    end
    redis.call('HSET', P .. 't:' .. id, unpack(fields))
    if push_w then push_task(push_w, push_f, id, q, ARGV[b + 2], fields, run_at_s, push_token, push_deadline_s) end
    -- the id is the sequence, zero-padded: ZADD reads it as the same score
    all_new[#all_new + 1] = id; all_new[#all_new + 1] = id
    if push_w then
      -- leased already: neither ready nor pending
    elseif state == 'ready' then
      local rk = P .. 'r:' .. q
      local list = ready_new[rk]
      if not list then list = {}; ready_new[rk] = list end
      -- a batch mostly shares priority and runAt: its score is formatted once
      if priority ~= last_priority or run_at ~= last_run_at then
        last_priority, last_run_at, last_score = priority, run_at, ready_score(priority, run_at)
      end
      list[#list + 1] = last_score; list[#list + 1] = id
      pending_tally(P, pending, id, q, ARGV[b + 2], 1)
      woken[q] = true
    elseif state == 'scheduled' then
      redis.call('ZADD', P .. 's:' .. q, run_at_s, id)
      pending_tally(P, pending, id, q, ARGV[b + 2], 1)
    else
      enter_state(P, id, state, q, ARGV[b + 2], now)
    end
    if not registered[q] then
      redis.call('HSETNX', KEYS[4], q, now)
      registered[q] = true
    end
    if EVENT_TYPE ~= '' then
      local data = ARGV[b + 10]
      local with_id = '{"id":"' .. id .. '"}'
      if data ~= '{}' then with_id = '{"id":"' .. id .. '",' .. string.sub(data, 2) end
      events[#events + 1] = '[' .. event_type_json .. ',' .. with_id .. ']'
    end
    out[#out + 1] = id
    out[#out + 1] = 1
  end
end
flush_indexes()
pending_flush(P, pending)
-- A push ends the worker's registration: it is unregistered here, in the call that pushed
-- to it, so no later enqueue pushes to it and a worker that took format 2 entries from its
-- inbox has nothing left to unregister or drain (lib/push.lua).
for w, qs in pairs(push_qs) do push_unregister(P, w, qs) end
for q in pairs(woken) do redis.call('PUBLISH', ARGV[2], q) end
if #events > 0 then
  local entry = events_log(KEYS[5], KEYS[6], KEYS[7], tonumber(ARGV[5]), #events, '[' .. table.concat(events, ',') .. ']')
  redis.call('PUBLISH', ARGV[4], entry)
end
if #cascaded > 0 then out[#out + 1] = cascaded end
return out
