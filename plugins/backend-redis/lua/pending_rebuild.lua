-- pending_rebuild: one page of the one-time rebuild of the pending counts (ph:<queue>, see
-- common.lua) for data written before the scripts kept them. The first call forgets the
-- counts of every known queue and sets the cursor P phc to 0; each call then counts the
-- pending tasks among the next `page` tasks in creation order (the all-tasks index, score
-- = sequence) and moves the cursor past them. Transitions meanwhile change the counts
-- only for tasks behind the cursor (common.lua), so no task is counted twice or missed.
-- The call that finds the end drops the cursor and sets P phv = 1: done, for good.
-- Processes opening the same data at once share the walk (each call takes the next page).
-- KEYS[1] all-tasks index
-- ARGV[1] key prefix   ARGV[2] page (tasks per call)
-- Returns the tasks examined by this call, or -1 when the counts are complete.
--!include common
local P, page = ARGV[1], tonumber(ARGV[2])
if redis.call('GET', P .. 'phv') == '1' then return -1 end
local cursor = redis.call('GET', P .. 'phc')
if not cursor then
  for _, q in ipairs(redis.call('HKEYS', P .. 'queues')) do redis.call('DEL', P .. 'ph:' .. q) end
  cursor = '0'
end
local rows = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. cursor, '+inf', 'WITHSCORES', 'LIMIT', 0, page)
local tally = {}
for i = 1, #rows, 2 do
  local f = redis.call('HMGET', P .. 't:' .. rows[i], 's', 'q', 'h')
  if f[1] and PENDING_STATE[f[1]] then
    local per = tally[f[2]]
    if per == nil then per = {}; tally[f[2]] = per end
    per[f[3]] = (per[f[3]] or 0) + 1
  end
end
pending_flush(P, tally)
local examined = #rows / 2
if examined < page then
  redis.call('DEL', P .. 'phc')
  redis.call('SET', P .. 'phv', '1')
  return -1
end
redis.call('SET', P .. 'phc', rows[#rows])
return examined
