-- overview: the four reads of the admin overview (stats, worker_list, coordination,
-- pending_handlers) in one script, so one command and one reply instead of four: each
-- read by the same code as its own script, in the order readOverview sent them.
-- KEYS[1] queue registry hash   KEYS[2] weights hash   KEYS[3] paused hash
-- KEYS[4] worker registry zset   KEYS[5] global pause flag   KEYS[6] rate limit hash
-- KEYS[7] leader lock names set
-- ARGV[1] key prefix   ARGV[2] workers listed at most   ARGV[3] worker retention ms
-- ARGV[4] pending (queue, handler) pairs at most (0: none read)
-- Returns { stats reply, worker_list reply, coordination reply, pending_handlers reply }.
--!include read_stats
--!include read_workers
--!include read_coordination
--!include read_pending
local P = ARGV[1]
local pending = {}
if tonumber(ARGV[4]) > 0 then pending = read_pending({ KEYS[1] }, { P, ARGV[4] }) end
return {
  read_stats({ KEYS[1], KEYS[2], KEYS[3] }, { P }),
  read_workers({ KEYS[4] }, { P, ARGV[2], '0', ARGV[3] }),
  read_coordination({ KEYS[5], KEYS[6], KEYS[7] }, { P }),
  pending
}
