-- worker_list: live workers (bounded), or with ARGV[3] = 1 also the stale ones (their
-- deadline passed less than the retention ago), after dropping entries past it.
-- KEYS[1] worker registry zset
-- ARGV[1] key prefix   ARGV[2] limit   ARGV[3] include stale (0|1)   ARGV[4] retention ms
-- Returns flat: info JSON, heartbeat time, cordoned (0|1), stale (0|1) per worker.
--!include read_workers
return read_workers(KEYS, ARGV)
