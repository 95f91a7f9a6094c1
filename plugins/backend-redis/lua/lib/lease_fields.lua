-- The task fields a lease writes, shared by lease.lua and a push in enqueue.lua (lib/push.lua),
-- so a pushed task is leased exactly as a leased one: processing, its attempt, a lease token
-- and expiry, its start and its worker. Every argument is a string (see int_str); one HSET,
-- no table, since lease.lua runs it per task.
local function lease_mark(tk, attempt_s, token_s, deadline_s, now_s, worker)
  redis.call('HSET', tk, 's', 'processing', 'a', attempt_s, 'lt', token_s, 'lx', deadline_s, 'sa', now_s, 'ua', now_s, 'w', worker)
end

-- The same fields appended to `fields`, a new task's HSET list whose state field is set
-- to processing by the caller: a task pushed as it is created (enqueue.lua) is written
-- leased in one HSET. Keep it equal to lease_mark.
local function lease_fields_into(fields, attempt_s, token_s, deadline_s, now_s, worker)
  local n = #fields
  fields[n + 1] = 'a'; fields[n + 2] = attempt_s; fields[n + 3] = 'lt'; fields[n + 4] = token_s
  fields[n + 5] = 'lx'; fields[n + 6] = deadline_s; fields[n + 7] = 'sa'; fields[n + 8] = now_s
  fields[n + 9] = 'ua'; fields[n + 10] = now_s; fields[n + 11] = 'w'; fields[n + 12] = worker
end
