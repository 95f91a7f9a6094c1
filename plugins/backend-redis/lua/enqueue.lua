-- enqueue: creates tasks, or returns the existing id when the idempotency key is known.
-- KEYS[1] idempotency hash (key -> id)   KEYS[2] all-tasks index (zset by sequence)
-- KEYS[3] task id sequence               KEYS[4] queue registry hash
-- KEYS[5] event stream
-- ARGV[1] key prefix   ARGV[2] work channel
-- ARGV[3] event type ('' = append no events)   ARGV[4] events channel   ARGV[5] approximate max events
-- ARGV[6] fields per task: 10, or 12 when some task names parents
-- ARGV[7..] per task: queue, handler, payload (JSON), maxAttempts, priority,
--   timeoutMs, runAt ('' = now + delayMs), delayMs, idempotencyKey ('' = none),
--   event data (a JSON object without the id), and with 12 fields: parent ids (comma
--   separated, '' = none), policy for a parent that dies ('cancel' | 'dead')
-- A parent that is not stored refuses the whole call before anything is written:
-- the reply is then { '!missing', parent id }. A created task with parents is blocked
-- until they all succeeded (see settle_children in common.lua); one whose parent is
-- already dead or canceled takes its policy at once.
-- With an event type, each created task appends { id, ...data } to the event stream in
-- this script, so the event is in the log before any worker can lease the task.
-- Returns { id1, created1 (1|0), id2, created2, ... } in request order.
--!include common
local P = ARGV[1]
local EVENT_TYPE = ARGV[3]
local HEAD = 6
local FIELDS = tonumber(ARGV[6])
local n = (#ARGV - HEAD) / FIELDS
if FIELDS > 10 then
  for i = 0, n - 1 do
    local parents = ARGV[HEAD + i * FIELDS + 11]
    if parents ~= '' then
      for pid in string.gmatch(parents, '[^,]+') do
        if redis.call('EXISTS', P .. 't:' .. pid) == 0 then return { '!missing', pid } end
      end
    end
  end
end
local last_event = false
local now = now_ms()
local last = redis.call('INCRBY', KEYS[3], n)
local seq = last - n
local out = {}
local registered = {}
local woken = {}
for i = 0, n - 1 do
  local b = HEAD + i * FIELDS
  local q, ikey = ARGV[b + 1], ARGV[b + 9]
  local existing = false
  if ikey ~= '' then existing = redis.call('HGET', KEYS[1], ikey) end
  if existing then
    out[#out + 1] = existing
    out[#out + 1] = 0
  else
    seq = seq + 1
    local id = string.format('%012d', seq)
    local payload, priority = ARGV[b + 3], ARGV[b + 5]
    local run_at = now + tonumber(ARGV[b + 8])
    if ARGV[b + 7] ~= '' then run_at = tonumber(ARGV[b + 7]) end
    local state = 'ready'
    if run_at > now then state = 'scheduled' end
    local fields = { 'q', q, 'h', ARGV[b + 2], 'p', payload, 's', state, 'a', 0, 'm', ARGV[b + 4],
      'pr', priority, 'ra', int_str(run_at), 'to', ARGV[b + 6], 'ca', now, 'ua', now, 'rp', 0, 'ps', #payload }
    local parents = ''
    if FIELDS > 10 then parents = ARGV[b + 11] end
    if parents ~= '' then
      local policy = ARGV[b + 12]
      local waiting, failure = 0, nil
      for pid in string.gmatch(parents, '[^,]+') do
        local pk = P .. 't:' .. pid
        local ps = redis.call('HGET', pk, 's')
        if ps == 'dead' or ps == 'canceled' then
          if not failure then failure = 'parent task ' .. pid .. ' was ' .. ps end
        elseif ps ~= 'succeeded' then
          waiting = waiting + 1
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
      elseif waiting > 0 then
        state = 'blocked'
      end
      fields[8] = state
    end
    if ikey ~= '' then
      fields[#fields + 1] = 'ik'
      fields[#fields + 1] = ikey
      redis.call('HSET', KEYS[1], ikey, id)
    end
    redis.call('HSET', P .. 't:' .. id, unpack(fields))
    redis.call('ZADD', KEYS[2], seq, id)
    if state == 'ready' then
      redis.call('ZADD', P .. 'r:' .. q, ready_score(priority, run_at), id)
      woken[q] = true
    elseif state == 'scheduled' then
      redis.call('ZADD', P .. 's:' .. q, int_str(run_at), id)
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
      last_event = redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[5], '*', 't', EVENT_TYPE, 'd', with_id)
    end
    out[#out + 1] = id
    out[#out + 1] = 1
  end
end
for q in pairs(woken) do redis.call('PUBLISH', ARGV[2], q) end
if last_event then redis.call('PUBLISH', ARGV[4], last_event) end
return out
