-- coordination: global pause, rate limit and live leader locks in one read.
-- KEYS[1] global pause flag   KEYS[2] rate limit hash   KEYS[3] leader lock names set
-- ARGV[1] key prefix
-- Returns { paused (1|0), limit ('' none), windowMs, { name, holder, token, expiresAt... } }
--!include read_coordination
return read_coordination(KEYS, ARGV)
