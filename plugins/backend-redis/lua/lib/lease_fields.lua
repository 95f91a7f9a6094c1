-- The task fields a lease writes, shared by lease.lua and a push in enqueue.lua (lib/push.lua),
-- so a pushed task is leased exactly as a leased one: processing, its attempt, a lease token
-- and expiry, its start and its worker. Every argument is a string (see int_str); one HSET,
-- no table, since lease.lua runs it per task.
local function lease_mark(tk, attempt_s, token_s, deadline_s, now_s, worker)
  redis.call('HSET', tk, 's', 'processing', 'a', attempt_s, 'lt', token_s, 'lx', deadline_s, 'sa', now_s, 'ua', now_s, 'w', worker)
end
