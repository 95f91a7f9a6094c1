-- cancel: cancels a task that no worker has started (blocked ones too); wins atomically
-- against lease. Blocked children of the task follow by their policy.
-- KEYS[1] canceled index (zset by finishedAt)
-- ARGV[1] key prefix   ARGV[2] task id
-- Returns { 'canceled', {cascaded triples (common.lua)} } | { 'not_found' } | { 'conflict', state }.
--!include common
local P, id = ARGV[1], ARGV[2]
local tk = P .. 't:' .. id
local f = redis.call('HMGET', tk, 's', 'q', 'h', 'kc')
if not f[1] then return { 'not_found' } end
local state = f[1]
if state ~= 'scheduled' and state ~= 'ready' and state ~= 'retrying' and state ~= 'blocked' then return { 'conflict', state } end
local now = now_ms()
leave_state(P, id, state, f[2], f[3])
redis.call('HSET', tk, 's', 'canceled', 'fa', now, 'ua', now)
redis.call('ZADD', KEYS[1], now, id)
count_state(P, 'canceled', f[2], f[3], 1)
if f[4] == '1' then settle_children(P, id, 'canceled') end
return { 'canceled', cascaded }
