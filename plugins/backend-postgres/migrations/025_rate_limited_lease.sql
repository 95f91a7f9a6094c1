-- The global rate limit taken inside the lease (Backend.leaseWithinRateLimit).
--
-- Workers used to take permits (takeRatePermits: counted in the window of
-- clock_timestamp() at that call) and then lease in a statement of their own, which
-- stamps started_at with its own now(). A permit taken just before a window turned
-- started its task in the next window, which then granted its whole quota as well: by
-- started_at up to twice the limit fell into one window.
--
-- lease_rated() takes the permits and leases in one statement, on one clock: the
-- limiter row (settings) is locked, the window is that of the statement's now() as
-- Task.startedAt reports it (ms(), rounded to whole ms), which is what every lease
-- stamps as started_at, at most the permits left are leased (through lease_tasks(),
-- so flow limits, pauses and cordons apply as ever), and only the tasks leased are
-- counted. The window never moves backwards: a statement whose now() is older than the
-- stored window (it waited for the row lock behind a lease of the next window) leases
-- nothing and reports the limit reached, so no window is counted after it was left.
--
-- A row with id NULL after the leased rows says the permits, not the queues, ended the
-- lease (fewer tasks than asked for, maybe none). With no limit stored it is
-- lease_tasks() and nothing more. The plain lease (lease_tasks(), complete_and_lease())
-- is unchanged: without a rate limit a worker never calls this.
CREATE FUNCTION {{schema}}.lease_rated(p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean)
RETURNS TABLE (ord bigint, id text, queue text, handler text, payload jsonb, attempts integer, max_attempts integer,
  priority integer, timeout_ms integer, created_at float8, run_at float8, lease_token text, lease_expires_at float8)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
  lim integer;
  win_ms integer;
  stored bigint;
  used integer;
  win bigint;
  allowed integer;
  n integer;
BEGIN
  -- leases within the limit take their turns on the limiter row
  SELECT s.rate_limit, s.rate_window_ms, s.rate_window_no, s.rate_used INTO lim, win_ms, stored, used
  FROM {{schema}}.settings s WHERE s.id = 1 FOR UPDATE;
  IF lim IS NULL OR win_ms IS NULL THEN
    RETURN QUERY SELECT * FROM {{schema}}.lease_tasks(p_queues, p_limit, p_worker, p_ms, p_handlers, p_async);
    RETURN;
  END IF;
  -- the window of the start time every task leased here gets (started_at = now())
  win := floor({{schema}}.ms(now()) / win_ms)::bigint;
  IF win < stored THEN
    allowed := 0;
  ELSE
    IF win > stored THEN used := 0; END IF;
    allowed := greatest(0, least(p_limit, lim - used));
  END IF;
  IF allowed > 0 THEN
    RETURN QUERY SELECT * FROM {{schema}}.lease_tasks(p_queues, allowed, p_worker, p_ms, p_handlers, p_async);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
      UPDATE {{schema}}.settings s SET rate_window_no = win, rate_used = used + n WHERE s.id = 1;
    END IF;
  ELSE
    n := 0;
  END IF;
  IF allowed < p_limit AND n >= allowed THEN
    RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
      NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8;
  END IF;
END $$;
