-- Leasing as functions whose statements keep one plan per connection.
-- The lease and complete-and-lease statements used to be sent as prepared statements,
-- but Postgres planned them afresh on every call: their generic plan looks dearer than
-- a custom one (a LIMIT parameter is costed as 10 % of the candidate rows), so a busy
-- worker paid the planner (about a quarter of the statement) on every batch. Inside
-- these functions each statement is planned once per connection (force_generic_plan)
-- and again whenever the table's statistics change. A generic plan is costed on guesses
-- (a LIMIT parameter as 10 % of the candidates, an array parameter as 10 elements), so
-- the planner is held to the plan shape every statement here is built around: index
-- scans, and nested loops from the few rows named or picked into an index lookup each.
-- Without that it may pick a sequential scan (planned on a nearly empty table) or walk
-- the whole primary key in a merge join (planned for thousands of picked rows), and
-- keep that plan. Its guessed cost would also pass jit_above_cost, and compiling the
-- plan's expressions costs far more than running them (100-300 ms a call measured).
-- These settings last only while the function runs.
--
-- The plain lease (lease_plain) refuses to lease while flow limits exist
-- (settings.flow_limited, read in the same statement). lease_tasks() then reads the
-- flag again and, when set, leases through lease_flow() within the limits. So a limit
-- set by any process applies to the next lease everywhere, and without limits the
-- flow check costs one column of a row the lease reads anyway.

-- Called only by lease_tasks() and complete_and_lease() below, whose settings its
-- statements are planned and run under.
CREATE FUNCTION {{schema}}.lease_plain(p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean)
RETURNS TABLE (ord bigint, id text, queue text, handler text, payload jsonb, attempts integer, max_attempts integer,
  priority integer, timeout_ms integer, created_at float8, run_at float8, lease_token text, lease_expires_at float8)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
  IF p_async THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  IF p_handlers IS NULL THEN
    -- each queue's head from tasks_lease, queues in the given order
    RETURN QUERY
    WITH picked AS MATERIALIZED (
      SELECT c.id, q.ord
      FROM unnest(p_queues) WITH ORDINALITY AS q(name, ord)
      CROSS JOIN LATERAL (
        SELECT t.id FROM {{schema}}.tasks t
        WHERE t.queue = q.name AND t.state IN ('ready', 'scheduled', 'retrying') AND t.run_at <= now()
          AND NOT EXISTS (SELECT 1 FROM {{schema}}.queues p WHERE p.name = q.name AND p.paused)
        ORDER BY t.priority DESC, t.run_at, t.id
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
      ) AS c
      WHERE NOT (SELECT s.global_paused OR s.flow_limited FROM {{schema}}.settings s WHERE s.id = 1)
        -- a cordoned worker leases nothing (worker-ops.ts): one primary-key probe per statement
        AND NOT EXISTS (SELECT 1 FROM {{schema}}.workers w WHERE w.id = p_worker AND w.cordoned)
      LIMIT p_limit
    ), leased AS (
      UPDATE {{schema}}.tasks t SET
        state = 'processing', attempts = t.attempts + 1, lease_token = nextval('{{schema}}.lease_tokens'),
        lease_expires_at = now() + p_ms * interval '1 millisecond', worker_id = p_worker, started_at = now(), updated_at = now()
      FROM picked WHERE t.id = picked.id
      RETURNING picked.ord, t.*
    )
    SELECT row_number() OVER (ORDER BY l.ord, l.priority DESC, l.run_at, l.id), l.id::text, l.queue, l.handler, l.payload,
      l.attempts, l.max_attempts, l.priority, l.timeout_ms, {{schema}}.ms(l.created_at), {{schema}}.ms(l.run_at),
      l.lease_token::text, {{schema}}.ms(l.lease_expires_at)
    FROM leased l;
  ELSE
    -- one tasks_lease_handler range per (queue, handler), merged back into run order
    RETURN QUERY
    WITH picked AS MATERIALIZED (
      SELECT c.id, q.ord
      FROM unnest(p_queues) WITH ORDINALITY AS q(name, ord)
      CROSS JOIN LATERAL (
        SELECT r.id FROM unnest(p_handlers) AS h(name)
        CROSS JOIN LATERAL (
          SELECT t.id, t.priority, t.run_at FROM {{schema}}.tasks t
          WHERE t.queue = q.name AND t.handler = h.name AND t.state IN ('ready', 'scheduled', 'retrying') AND t.run_at <= now()
          ORDER BY t.priority DESC, t.run_at, t.id
          LIMIT p_limit
          FOR UPDATE SKIP LOCKED
        ) AS r
        WHERE NOT EXISTS (SELECT 1 FROM {{schema}}.queues p WHERE p.name = q.name AND p.paused)
        ORDER BY r.priority DESC, r.run_at, r.id
        LIMIT p_limit
      ) AS c
      WHERE NOT (SELECT s.global_paused OR s.flow_limited FROM {{schema}}.settings s WHERE s.id = 1)
        -- a cordoned worker leases nothing (worker-ops.ts): one primary-key probe per statement
        AND NOT EXISTS (SELECT 1 FROM {{schema}}.workers w WHERE w.id = p_worker AND w.cordoned)
      LIMIT p_limit
    ), leased AS (
      UPDATE {{schema}}.tasks t SET
        state = 'processing', attempts = t.attempts + 1, lease_token = nextval('{{schema}}.lease_tokens'),
        lease_expires_at = now() + p_ms * interval '1 millisecond', worker_id = p_worker, started_at = now(), updated_at = now()
      FROM picked WHERE t.id = picked.id
      RETURNING picked.ord, t.*
    )
    SELECT row_number() OVER (ORDER BY l.ord, l.priority DESC, l.run_at, l.id), l.id::text, l.queue, l.handler, l.payload,
      l.attempts, l.max_attempts, l.priority, l.timeout_ms, {{schema}}.ms(l.created_at), {{schema}}.ms(l.run_at),
      l.lease_token::text, {{schema}}.ms(l.lease_expires_at)
    FROM leased l;
  END IF;
END $$;

CREATE FUNCTION {{schema}}.lease_tasks(p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean)
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
BEGIN
  RETURN QUERY SELECT * FROM {{schema}}.lease_plain(p_queues, p_limit, p_worker, p_ms, p_handlers, p_async);
  IF FOUND THEN RETURN; END IF;
  -- nothing leased: because limits exist (a new snapshot, so one set since counts too)?
  IF (SELECT s.flow_limited AND NOT s.global_paused FROM {{schema}}.settings s WHERE s.id = 1)
    -- a cordoned worker leases nothing (worker-ops.ts), so lease_flow() is not even run
    AND NOT EXISTS (SELECT 1 FROM {{schema}}.workers w WHERE w.id = p_worker AND w.cordoned) THEN
    RETURN QUERY SELECT * FROM {{schema}}.lease_flow(p_queues, p_limit, p_worker, p_ms, p_handlers, p_async);
  END IF;
END $$;

-- Acks, then the next plain lease, in one call: the acks come first (ord and handler
-- NULL). While flow limits exist it only acks and answers one row with id NULL: the
-- caller then leases through lease_tasks() in a transaction of its own, so a finished
-- task frees its place before lease_flow() counts the running ones, and no
-- transaction holds acked rows (and their counter rows) while it waits for the limit
-- rows another lease holds (that wait, the other way round, could deadlock).
CREATE FUNCTION {{schema}}.complete_and_lease(p_ids bigint[], p_tokens bigint[], p_results text[],
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
BEGIN
  IF p_async THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  -- a success clears last_error (the error history stays); the result is JSON text, NULL for none
  RETURN QUERY
  UPDATE {{schema}}.tasks t SET state = 'succeeded', finished_at = now(), updated_at = now(), lease_token = NULL, lease_expires_at = NULL,
    last_error = NULL, result = u.result::jsonb
  FROM unnest(p_ids, p_tokens, p_results) AS u(id, token, result)
  WHERE t.id = u.id AND t.lease_token = u.token AND t.state = 'processing'
  RETURNING NULL::bigint, t.id::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
    NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8;
  IF NOT (SELECT s.flow_limited FROM {{schema}}.settings s WHERE s.id = 1) THEN
    RETURN QUERY SELECT * FROM {{schema}}.lease_plain(p_queues, p_limit, p_worker, p_ms, p_handlers, p_async);
    IF FOUND OR NOT (SELECT s.flow_limited FROM {{schema}}.settings s WHERE s.id = 1) THEN RETURN; END IF;
  END IF;
  RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
    NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8;
END $$;
