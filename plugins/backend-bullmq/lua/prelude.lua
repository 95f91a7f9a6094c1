-- Shared by the task scripts. BullMQ keeps a job's state implicitly (which list or
-- sorted set holds its id); this derives the Switchyard state from the same place.
-- ARGV[1] = queue key base ("<prefix>:<queue>:"), ARGV[2] = own key base ("<prefix>::sy:"),
-- ARGV[3] = queue name, ARGV[4] = job id.
local rcall = redis.call
local base = ARGV[1]
local own = ARGV[2]
local queue = ARGV[3]
local id = ARGV[4]

local function nowMs()
  local t = rcall('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A job a Switchyard lease parked (its handler was not in the lease's set, see
-- handler-filter.lua) sits in its handler's parked set of its queue: it is ready.
local function parkedKey(q, name)
  return own .. 'parked:' .. q .. ':' .. (name or '')
end

local function isParked(b, q, jid)
  local name = rcall('HGET', b .. jid, 'name')
  return name ~= false and rcall('ZSCORE', parkedKey(q, name), jid) ~= false
end

local function unpark(b, q, jid)
  local name = rcall('HGET', b .. jid, 'name')
  if not name then return false end
  local key = parkedKey(q, name)
  if rcall('ZREM', key, jid) == 0 then return false end
  if rcall('EXISTS', key) == 0 then rcall('SREM', own .. 'parkedh:' .. q, name) end
  return true
end

-- Switchyard's kept counts (lib/kept-counts.lua), changed at once here: d added to the
-- count `kind` ('hp:' pending, 'hd:' dead) of job jid's name in its queue (key base b).
local function countJob(b, jid, kind, d)
  local name = rcall('HGET', b .. jid, 'name')
  if not name then return end
  local key = own .. kind .. string.match(b, '([^:]+):$')
  if rcall('HINCRBY', key, name, d) == 0 then rcall('HDEL', key, name) end
end

local function jobState(b, q, jid)
  local jobKey = b .. jid
  if rcall('EXISTS', jobKey) == 0 then return nil end
  if rcall('ZSCORE', b .. 'completed', jid) then return 'succeeded' end
  if rcall('ZSCORE', b .. 'failed', jid) then return 'dead' end
  if rcall('ZSCORE', own .. 'canceled:' .. q, jid) then return 'canceled' end
  if rcall('ZSCORE', b .. 'delayed', jid) then
    if (tonumber(rcall('HGET', jobKey, 'ats')) or 0) > 0 then return 'retrying' end
    return 'scheduled'
  end
  if rcall('ZSCORE', b .. 'prioritized', jid) then return 'ready' end
  if rcall('LPOS', b .. 'active', jid) then return 'processing' end
  if rcall('LPOS', b .. 'wait', jid) then return 'ready' end
  if rcall('LPOS', b .. 'paused', jid) then return 'ready' end
  if rcall('ZSCORE', b .. 'waiting-children', jid) then return 'scheduled' end
  if isParked(b, q, jid) then return 'ready' end
  -- waiting for its parent tasks (deps.lua)
  if rcall('ZSCORE', own .. 'blocked:' .. q, jid) then return 'blocked' end
  return 'unknown'
end

-- Takes a job out of whatever non-active structure holds it.
local function detach(b, q, jid, state)
  if state == 'succeeded' then rcall('ZREM', b .. 'completed', jid)
  elseif state == 'dead' then
    if rcall('ZREM', b .. 'failed', jid) == 1 then countJob(b, jid, 'hd:', -1) end
  elseif state == 'canceled' then rcall('ZREM', own .. 'canceled:' .. q, jid)
  elseif state == 'blocked' then rcall('ZREM', own .. 'blocked:' .. q, jid)
  elseif state == 'scheduled' or state == 'retrying' then
    -- (a BullMQ flow parent in waiting-children is not counted pending)
    if rcall('ZREM', b .. 'delayed', jid) == 1 then countJob(b, jid, 'hp:', -1) end
    rcall('ZREM', b .. 'waiting-children', jid)
  elseif state == 'ready' then
    if rcall('ZREM', b .. 'prioritized', jid) == 1 or rcall('LREM', b .. 'wait', 1, jid) == 1
      or rcall('LREM', b .. 'paused', 1, jid) == 1 or unpark(b, q, jid) then
      countJob(b, jid, 'hp:', -1)
    end
  end
  rcall('SREM', own .. 'retry:' .. q, jid)
end

local function maxEvents(b)
  return tonumber(rcall('HGET', b .. 'meta', 'opts.maxLenEvents')) or 10000
end

local function emit(b, ...)
  rcall('XADD', b .. 'events', 'MAXLEN', '~', maxEvents(b), '*', ...)
end

-- Makes a job runnable again the way BullMQ would: prioritized jobs by score, others
-- on the wait list (or the paused list while the queue is paused), plus the marker
-- that wakes blocked BullMQ workers. front=true puts it ahead of its peers.
local function pushReady(b, jid, front)
  local paused = rcall('HEXISTS', b .. 'meta', 'paused') == 1
  local priority = tonumber(rcall('HGET', b .. jid, 'priority')) or 0
  if priority > 0 then
    local score = priority * 0x100000000
    if not front then score = score + rcall('INCR', b .. 'pc') % 0x100000000 end
    rcall('ZADD', b .. 'prioritized', score, jid)
  else
    local target = b .. 'wait'
    if paused then target = b .. 'paused' end
    if front then rcall('RPUSH', target, jid) else rcall('LPUSH', target, jid) end
  end
  if not paused then rcall('ZADD', b .. 'marker', 0, '0') end
  countJob(b, jid, 'hp:', 1)
end

local function contains(csv, value)
  for item in string.gmatch(csv, '[^,]+') do
    if item == value then return true end
  end
  return false
end

-- a job's error history ('sye', JSON, newest first) with `entry` added in front, at most 20 kept
local function withError(encoded, entry)
  local errors = { entry }
  local ok, previous = pcall(cjson.decode, encoded or '[]')
  if not ok or type(previous) ~= 'table' then previous = {} end
  for i = 1, math.min(#previous, 19) do errors[i + 1] = previous[i] end
  return cjson.encode(errors)
end
