-- pending_handlers: distinct (queue, handler) pairs among pending tasks (ready, scheduled,
-- retrying) of the given queues, read from the per-queue pending counts every transition
-- keeps (ph:<queue>, see common.lua): one HKEYS per queue, O(queues + pairs), no task read.
-- KEYS[1] queue registry hash
-- ARGV[1] key prefix   ARGV[2] limit (pairs)
-- ARGV[3..] queue names (none: every known queue, as the overview reads them)
-- Returns flat: queue, handler per pair.
--!include read_pending
return read_pending(KEYS, ARGV)
