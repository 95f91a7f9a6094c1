-- A lease under flow limits that are stored but not saturated reads its limit rows once
-- (issue 13, performance note: "limits must cost the lease path as little as possible").
--
-- Until now complete_and_lease() locked the limit rows and kept their keys, then
-- flow_allowance() read the same rows again by key (a '<kind>:<name>' string match),
-- built a jsonb of what each allows, and lease_within() unpacked that jsonb, ran the
-- plain lease as a materialized CTE and counted its starts per queue, handler and
-- tenant in a data-modifying CTE to add them to the rate windows.
--
-- Now the locking statement takes the rows themselves (a flow_limits[] value: they
-- cannot change while locked) and flow_lease() decides from them, after the acks, with
-- the running counts read as flow_allowance() reads them. When every limit leaves room
-- for the whole batch and each rate limit's starts are simply the batch's rows (a queue
-- limit of a one-queue lease, a handler limit of a one-handler lease: every leased row
-- is of that queue and handler), the plain lease's rows are returned as they come and
-- the rate windows get the row count (GET DIAGNOSTICS) in one statement. Anything else
-- (a limit with less room than the batch, a rate limit on a tenant, or on a queue or a
-- handler of a lease over several) takes the path of 020 unchanged: flow_allowance()
-- over the keys it already holds, then lease_within(). The lock order ((kind, name), all
-- limits a lease can fall under, before the acks) is that of 020.

-- the limit rows a lease of these queues and handlers falls under, locked in (kind, name) order
CREATE FUNCTION {{schema}}.flow_lock(p_queues text[], p_handlers text[]) RETURNS {{schema}}.flow_limits[]
LANGUAGE plpgsql AS $$
DECLARE
  lims {{schema}}.flow_limits[];
BEGIN
  -- plpgsql, not sql: its statement keeps one plan per connection
  SELECT coalesce(array_agg(l ORDER BY l.kind, l.name), '{}') INTO lims FROM (
    SELECT f.* FROM {{schema}}.flow_limits f
    WHERE (f.kind = 'queue' AND f.name = ANY(p_queues))
      OR (f.kind = 'handler' AND (p_handlers IS NULL OR f.name = ANY(p_handlers)))
      OR f.kind = 'tenant'
    ORDER BY f.kind, f.name
    FOR UPDATE
  ) AS l;
  RETURN lims;
END $$;

-- Leases within the limits p_lims (locked by the caller through flow_lock()).
CREATE FUNCTION {{schema}}.flow_lease(p_lims {{schema}}.flow_limits[], p_queues text[], p_limit integer, p_worker text, p_ms float8,
  p_handlers text[], p_async boolean)
RETURNS TABLE (ord bigint, id text, queue text, handler text, payload jsonb, attempts integer, max_attempts integer,
  priority integer, timeout_ms integer, created_at float8, run_at float8, lease_token text, lease_expires_at float8)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  l {{schema}}.flow_limits;
  now_ms float8 := {{schema}}.ms(clock_timestamp());
  one_queue boolean := coalesce(cardinality(p_queues) > 0 AND p_queues[1] = ALL(p_queues), false);
  -- NULL handlers: every handler
  one_handler boolean := coalesce(cardinality(p_handlers) > 0 AND p_handlers[1] = ALL(p_handlers), false);
  fast boolean := true;
  rated boolean := false;
  used bigint;
  running bigint;
  all_running bigint;
  n integer;
BEGIN
  FOREACH l IN ARRAY p_lims LOOP
    IF l.rate_limit IS NOT NULL THEN
      rated := true;
      used := CASE WHEN {{schema}}.flow_window(l.rate_window_ms, l.rate_window_no, now_ms) = l.rate_window_no THEN l.rate_used ELSE 0 END;
      IF NOT ((l.kind = 'queue' AND one_queue) OR (l.kind = 'handler' AND one_handler)) OR l.rate_limit - used < p_limit THEN
        fast := false;
        EXIT;
      END IF;
    END IF;
    IF l.concurrency IS NOT NULL THEN
      -- the running counts of flow_allowance(): a handler's or tenant's bounded by all running tasks
      IF l.kind = 'queue' THEN
        SELECT coalesce(sum(c.n), 0)::bigint INTO running FROM {{schema}}.queue_counts c WHERE c.queue = l.name AND c.state = 'processing';
      ELSE
        IF all_running IS NULL THEN
          SELECT coalesce(sum(c.n), 0)::bigint INTO all_running FROM {{schema}}.queue_counts c WHERE c.state = 'processing';
        END IF;
        running := all_running;
      END IF;
      IF l.concurrency - running < p_limit THEN
        fast := false;
        EXIT;
      END IF;
    END IF;
  END LOOP;

  IF NOT fast THEN
    RETURN QUERY SELECT * FROM {{schema}}.lease_within(
      {{schema}}.flow_allowance(p_queues, p_handlers, (SELECT array_agg(x.kind || ':' || x.name) FROM unnest(p_lims) AS x), p_limit),
      p_queues, p_limit, p_worker, p_ms, p_handlers, p_async);
    RETURN;
  END IF;

  RETURN QUERY SELECT * FROM {{schema}}.lease_plain(p_queues, p_limit, p_worker, p_ms, p_handlers, p_async, true);
  GET DIAGNOSTICS n = ROW_COUNT;
  IF rated AND n > 0 THEN
    -- every leased row is of the one queue and the one handler: n starts for each rate limit
    UPDATE {{schema}}.flow_limits f SET
      rate_window_no = {{schema}}.flow_window(f.rate_window_ms, f.rate_window_no, now_ms),
      rate_used = CASE WHEN {{schema}}.flow_window(f.rate_window_ms, f.rate_window_no, now_ms) = f.rate_window_no THEN f.rate_used ELSE 0 END + n
    FROM unnest(p_lims) AS x
    WHERE f.kind = x.kind AND f.name = x.name AND x.rate_limit IS NOT NULL;
  END IF;
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.lease_flow(p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean)
RETURNS TABLE (ord bigint, id text, queue text, handler text, payload jsonb, attempts integer, max_attempts integer,
  priority integer, timeout_ms integer, created_at float8, run_at float8, lease_token text, lease_expires_at float8)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  IF p_async THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  IF (SELECT s.global_paused FROM {{schema}}.settings s WHERE s.id = 1) THEN RETURN; END IF;
  RETURN QUERY SELECT * FROM {{schema}}.flow_lease({{schema}}.flow_lock(p_queues, p_handlers), p_queues, p_limit, p_worker, p_ms, p_handlers, p_async);
END $$;

-- Acks, then the next lease, in one call, as in 020; under limits the limit rows are
-- locked (and kept) before the acks.
CREATE OR REPLACE FUNCTION {{schema}}.complete_and_lease(p_ids bigint[], p_tokens bigint[], p_results text[],
  p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean)
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
  limited boolean;
  paused boolean;
  lims {{schema}}.flow_limits[];
BEGIN
  IF p_async THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  SELECT s.flow_limited, s.global_paused INTO limited, paused FROM {{schema}}.settings s WHERE s.id = 1;
  IF limited AND NOT paused
    -- a cordoned worker leases nothing (worker-ops.ts): it neither waits for nor locks limit rows
    AND NOT EXISTS (SELECT 1 FROM {{schema}}.workers w WHERE w.id = p_worker AND w.cordoned) THEN
    lims := {{schema}}.flow_lock(p_queues, p_handlers);
  END IF;
  -- a success clears last_error (the error history stays); the result is JSON text, NULL for none
  RETURN QUERY
  UPDATE {{schema}}.tasks t SET state = 'succeeded', finished_at = now(), updated_at = now(), lease_token = NULL, lease_expires_at = NULL,
    last_error = NULL, result = u.result::jsonb
  FROM unnest(p_ids, p_tokens, p_results) AS u(id, token, result)
  WHERE t.id = u.id AND t.lease_token = u.token AND t.state = 'processing'
  RETURNING NULL::bigint, t.id::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
    NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8;
  IF lims IS NOT NULL THEN
    RETURN QUERY SELECT * FROM {{schema}}.flow_lease(lims, p_queues, p_limit, p_worker, p_ms, p_handlers, p_async);
    RETURN;
  END IF;
  IF limited THEN RETURN; END IF;
  RETURN QUERY SELECT * FROM {{schema}}.lease_plain(p_queues, p_limit, p_worker, p_ms, p_handlers, p_async, false);
  IF FOUND OR NOT (SELECT s.flow_limited FROM {{schema}}.settings s WHERE s.id = 1) THEN RETURN; END IF;
  RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
    NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8;
END $$;
