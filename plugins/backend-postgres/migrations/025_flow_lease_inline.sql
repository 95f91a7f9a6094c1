-- A lease under stored but unsaturated flow limits pays two statements for its limits
-- instead of five (issue "operations parity", performance note: limits configured but
-- not saturated must keep the lease path's cost).
--
-- Since 023 complete_and_lease() and lease_flow() leased under limits through
-- flow_lease(): after flow_lock() (one statement) it read the running counts (one
-- statement per concurrency limit, two for a queue and a handler limit), returned
-- lease_plain()'s rows through its own result store (one more copy of every leased row,
-- payload included, than the path without limits) and then counted the starts in the
-- rate windows (one UPDATE). Each statement costs its executor start-up and shutdown,
-- ~20-50 µs here, per lease call. Now flow_reserve() decides in one statement, reading
-- the running counts as subqueries, and in the same statement reserves the whole batch
-- (p_limit starts) in every rate window the fast path counts; the callers return
-- lease_plain()'s rows themselves, and only a lease that came back short gives the
-- unused starts back (flow_unreserve(), one UPDATE) before it commits. The limit rows
-- stay locked from flow_lock() to the commit, so no other lease ever sees a reservation.
--
-- What is decided, from what, under which locks, is 023's: the limit rows locked by
-- flow_lock() in (kind, name) order before the acks, the running counts read after the
-- acks, the rate windows judged and rolled at the time of the decision. A lease that
-- leases nothing now writes its rate limit rows twice (reserve, give back), where 023
-- wrote nothing beyond the row locks: an idle poll under rate limits costs that.

-- After flow_lock(), under its locks: whether the lease may take the plain lease's
-- whole batch (023's test: every limit has room for p_limit more, and each rate
-- limit's starts are simply the batch's rows: a queue limit of a one-queue lease, a
-- handler limit of a one-handler lease), and if so p_limit starts reserved in each rate
-- window at once, in the same statement. NULL: lease row at a time (nothing reserved).
-- Otherwise the number of rate limit rows reserved in, for flow_unreserve().
CREATE FUNCTION {{schema}}.flow_reserve(p_lims {{schema}}.flow_limits[], p_queues text[], p_limit integer, p_handlers text[])
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  now_ms float8 := {{schema}}.ms(clock_timestamp());
  one_queue boolean := coalesce(cardinality(p_queues) > 0 AND p_queues[1] = ALL(p_queues), false);
  -- NULL handlers: every handler
  one_handler boolean := coalesce(cardinality(p_handlers) > 0 AND p_handlers[1] = ALL(p_handlers), false);
  fast boolean;
  reserved integer;
BEGIN
  -- the running counts of flow_allowance(): a queue's own, a handler's or tenant's
  -- bounded by all running tasks (read once, as an InitPlan)
  WITH decided AS MATERIALIZED (
    SELECT coalesce(bool_and(
      (x.rate_limit IS NULL OR (((x.kind = 'queue' AND one_queue) OR (x.kind = 'handler' AND one_handler))
        AND x.rate_limit - CASE WHEN {{schema}}.flow_window(x.rate_window_ms, x.rate_window_no, now_ms) = x.rate_window_no
          THEN x.rate_used ELSE 0 END >= p_limit))
      AND (x.concurrency IS NULL OR x.concurrency - CASE WHEN x.kind = 'queue'
        THEN (SELECT coalesce(sum(c.n), 0) FROM {{schema}}.queue_counts c WHERE c.queue = x.name AND c.state = 'processing')
        ELSE (SELECT coalesce(sum(c.n), 0) FROM {{schema}}.queue_counts c WHERE c.state = 'processing') END >= p_limit)
    ), true) AS fast
    FROM unnest(p_lims) AS x
  ), taken AS (
    UPDATE {{schema}}.flow_limits f SET
      rate_window_no = {{schema}}.flow_window(f.rate_window_ms, f.rate_window_no, now_ms),
      rate_used = CASE WHEN {{schema}}.flow_window(f.rate_window_ms, f.rate_window_no, now_ms) = f.rate_window_no THEN f.rate_used ELSE 0 END + p_limit
    FROM unnest(p_lims) AS x, decided d
    WHERE d.fast AND x.rate_limit IS NOT NULL AND f.kind = x.kind AND f.name = x.name
    RETURNING 1
  )
  SELECT d.fast, (SELECT count(*) FROM taken)::integer INTO fast, reserved FROM decided d;
  RETURN CASE WHEN fast THEN reserved END;
END $$;

-- Gives back the reserved starts a fast lease did not use (it leased p_unused fewer
-- than p_limit); the limit rows are still locked, so nobody saw the reservation.
CREATE FUNCTION {{schema}}.flow_unreserve(p_lims {{schema}}.flow_limits[], p_unused integer)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE {{schema}}.flow_limits f SET rate_used = f.rate_used - p_unused
  FROM unnest(p_lims) AS x
  WHERE x.rate_limit IS NOT NULL AND f.kind = x.kind AND f.name = x.name;
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.lease_flow(p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean)
RETURNS TABLE (ord bigint, id text, queue text, handler text, payload jsonb, attempts integer, max_attempts integer,
  priority integer, timeout_ms integer, created_at float8, run_at float8, lease_token text, lease_expires_at float8)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  lims {{schema}}.flow_limits[];
  reserved integer;
  n integer;
BEGIN
  IF p_async THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  IF (SELECT s.global_paused FROM {{schema}}.settings s WHERE s.id = 1) THEN RETURN; END IF;
  lims := {{schema}}.flow_lock(p_queues, p_handlers);
  reserved := {{schema}}.flow_reserve(lims, p_queues, p_limit, p_handlers);
  IF reserved IS NULL THEN
    RETURN QUERY SELECT * FROM {{schema}}.lease_within(
      {{schema}}.flow_allowance(p_queues, p_handlers, (SELECT array_agg(x.kind || ':' || x.name) FROM unnest(lims) AS x), p_limit),
      p_queues, p_limit, p_worker, p_ms, p_handlers, p_async);
    RETURN;
  END IF;
  RETURN QUERY SELECT * FROM {{schema}}.lease_plain(p_queues, p_limit, p_worker, p_ms, p_handlers, p_async, true);
  GET DIAGNOSTICS n = ROW_COUNT;
  IF reserved > 0 AND n < p_limit THEN PERFORM {{schema}}.flow_unreserve(lims, p_limit - n); END IF;
END $$;

-- complete_and_lease() of 023; only the lease under limits changed (see above)
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
  reserved integer;
  n integer;
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
    -- decided after the acks, so the tasks just finished no longer count as running
    reserved := {{schema}}.flow_reserve(lims, p_queues, p_limit, p_handlers);
    IF reserved IS NULL THEN
      RETURN QUERY SELECT * FROM {{schema}}.lease_within(
        {{schema}}.flow_allowance(p_queues, p_handlers, (SELECT array_agg(x.kind || ':' || x.name) FROM unnest(lims) AS x), p_limit),
        p_queues, p_limit, p_worker, p_ms, p_handlers, p_async);
      RETURN;
    END IF;
    RETURN QUERY SELECT * FROM {{schema}}.lease_plain(p_queues, p_limit, p_worker, p_ms, p_handlers, p_async, true);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF reserved > 0 AND n < p_limit THEN PERFORM {{schema}}.flow_unreserve(lims, p_limit - n); END IF;
    RETURN;
  END IF;
  IF limited THEN RETURN; END IF;
  RETURN QUERY SELECT * FROM {{schema}}.lease_plain(p_queues, p_limit, p_worker, p_ms, p_handlers, p_async, false);
  IF FOUND OR NOT (SELECT s.flow_limited FROM {{schema}}.settings s WHERE s.id = 1) THEN RETURN; END IF;
  RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
    NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8;
END $$;

-- no caller left
DROP FUNCTION {{schema}}.flow_lease({{schema}}.flow_limits[], text[], integer, text, float8, text[], boolean);
