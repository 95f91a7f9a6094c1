-- stats: per-queue counts, weight and pause flag for every known queue (or the named
-- ones that are known). O(queues + parked handlers): counts come from index sizes and
-- counters, never tasks.
-- KEYS[1] queue registry hash   KEYS[2] weights hash   KEYS[3] paused hash
-- ARGV[1] key prefix   ARGV[2..] queue names (none = all known)
-- Returns flat: name, ready, scheduled, retrying, processing, dead, succeeded, canceled, weight ('' none), paused (1|0),
-- blocked, throttled per queue.
--!include read_stats
return read_stats(KEYS, ARGV)
