-- Migration 022, two changes of the hot path: the lease and the ack count their own
-- transitions, and tasks_created leaves out processing tasks (at the end).
--
-- The lease and the ack count their own transitions (issue 14): the per-statement
-- count trigger cost about 5.5 µs per task on each of them (bench/README.md "Postgres
-- hot path"), most of it three statements over the transition tables (queue_counts,
-- dead_counts, the wake-up check) that a lease or an ack does not need: a lease moves
-- tasks from a waiting state to processing and an ack from processing to succeeded,
-- neither makes a task dead or runnable, and the statement already holds the rows it
-- changed. So these two statements add their deltas to queue_counts in the same
-- statement (one aggregate over the rows they returned, counters in (queue, state)
-- order as the trigger takes them) and mark the session so that the trigger of that
-- one statement does nothing. Every other update of tasks is counted by the trigger as
-- before.
--
-- The mark: 'switchyard.counted' = 'on' for the length of the statement, set and
-- cleared by the function around it (transaction-local, so an error that aborts the
-- statement takes it back too). The trigger obeys it only at trigger depth 1, so an
-- update made inside a trigger of that statement (settle_children() readying or
-- cancelling the children of an acked task) is still counted by its own trigger.

CREATE OR REPLACE FUNCTION {{schema}}.count_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  woken text[];
BEGIN
  IF pg_trigger_depth() = 1 AND current_setting('switchyard.counted', true) = 'on' THEN RETURN NULL; END IF;

  INSERT INTO {{schema}}.queue_counts AS c (queue, state, shard, n)
  SELECT queue, state, pg_backend_pid() % 16, sum(d) FROM (
    SELECT queue, state, 1 AS d FROM new_rows
    UNION ALL
    SELECT queue, state, -1 AS d FROM old_rows
  ) AS changes
  GROUP BY queue, state HAVING sum(d) <> 0
  ORDER BY queue, state
  ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n;

  INSERT INTO {{schema}}.dead_counts AS c (queue, handler, shard, n)
  SELECT queue, handler, pg_backend_pid() % 16, sum(d) FROM (
    SELECT queue, handler, 1 AS d FROM new_rows WHERE state = 'dead'
    UNION ALL
    SELECT queue, handler, -1 AS d FROM old_rows WHERE state = 'dead'
  ) AS changes
  GROUP BY queue, handler HAVING sum(d) <> 0
  ORDER BY queue, handler
  ON CONFLICT (queue, handler, shard) DO UPDATE SET n = c.n + excluded.n;

  SELECT array_agg(DISTINCT n.queue) INTO woken FROM new_rows n
  WHERE n.state IN ('ready', 'retrying') AND n.run_at <= now();
  PERFORM {{schema}}.notify_ready(woken);
  RETURN NULL;
END $$;

-- the plain lease of 020, counting its transitions: each leased row's state before
-- the lease comes from the locked row (FOR UPDATE reads the version it locked)
CREATE OR REPLACE FUNCTION {{schema}}.lease_plain(p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean,
  p_within_limits boolean)
RETURNS TABLE (ord bigint, id text, queue text, handler text, payload jsonb, attempts integer, max_attempts integer,
  priority integer, timeout_ms integer, created_at float8, run_at float8, lease_token text, lease_expires_at float8)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
  IF p_async THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  PERFORM set_config('switchyard.counted', 'on', true);
  IF p_handlers IS NULL THEN
    -- each queue's head from tasks_lease, queues in the given order
    RETURN QUERY
    WITH picked AS MATERIALIZED (
      SELECT c.id, c.state, q.ord
      FROM unnest(p_queues) WITH ORDINALITY AS q(name, ord)
      CROSS JOIN LATERAL (
        SELECT t.id, t.state FROM {{schema}}.tasks t
        WHERE t.queue = q.name AND t.state IN ('ready', 'scheduled', 'retrying') AND t.run_at <= now()
          AND NOT EXISTS (SELECT 1 FROM {{schema}}.queues p WHERE p.name = q.name AND p.paused)
        ORDER BY t.priority DESC, t.run_at, t.id
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
      ) AS c
      WHERE NOT (SELECT s.global_paused OR (s.flow_limited AND NOT p_within_limits) FROM {{schema}}.settings s WHERE s.id = 1)
        -- a cordoned worker leases nothing (worker-ops.ts): one primary-key probe per statement
        AND NOT EXISTS (SELECT 1 FROM {{schema}}.workers w WHERE w.id = p_worker AND w.cordoned)
      LIMIT p_limit
    ), leased AS (
      UPDATE {{schema}}.tasks t SET
        state = 'processing', attempts = t.attempts + 1, lease_token = nextval('{{schema}}.lease_tokens'),
        lease_expires_at = now() + p_ms * interval '1 millisecond', worker_id = p_worker, started_at = now(), updated_at = now()
      FROM picked WHERE t.id = picked.id
      RETURNING picked.ord, picked.state AS was, t.*
    ), counted AS (
      INSERT INTO {{schema}}.queue_counts AS c (queue, state, shard, n)
      SELECT d.queue, d.state, pg_backend_pid() % 16, sum(d.n) FROM (
        SELECT l.queue, l.was AS state, -count(*) AS n FROM leased l GROUP BY l.queue, l.was
        UNION ALL
        SELECT l.queue, 'processing', count(*) FROM leased l GROUP BY l.queue
      ) AS d
      GROUP BY d.queue, d.state ORDER BY d.queue, d.state
      ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n
    )
    SELECT row_number() OVER (ORDER BY l.ord, l.priority DESC, l.run_at, l.id), l.id::text, l.queue, l.handler, l.payload,
      l.attempts, l.max_attempts, l.priority, l.timeout_ms, {{schema}}.ms(l.created_at), {{schema}}.ms(l.run_at),
      l.lease_token::text, {{schema}}.ms(l.lease_expires_at)
    FROM leased l;
  ELSE
    -- one tasks_lease_handler range per (queue, handler), merged back into run order
    RETURN QUERY
    WITH picked AS MATERIALIZED (
      SELECT c.id, c.state, q.ord
      FROM unnest(p_queues) WITH ORDINALITY AS q(name, ord)
      CROSS JOIN LATERAL (
        SELECT r.id, r.state FROM unnest(p_handlers) AS h(name)
        CROSS JOIN LATERAL (
          SELECT t.id, t.state, t.priority, t.run_at FROM {{schema}}.tasks t
          WHERE t.queue = q.name AND t.handler = h.name AND t.state IN ('ready', 'scheduled', 'retrying') AND t.run_at <= now()
          ORDER BY t.priority DESC, t.run_at, t.id
          LIMIT p_limit
          FOR UPDATE SKIP LOCKED
        ) AS r
        WHERE NOT EXISTS (SELECT 1 FROM {{schema}}.queues p WHERE p.name = q.name AND p.paused)
        ORDER BY r.priority DESC, r.run_at, r.id
        LIMIT p_limit
      ) AS c
      WHERE NOT (SELECT s.global_paused OR (s.flow_limited AND NOT p_within_limits) FROM {{schema}}.settings s WHERE s.id = 1)
        -- a cordoned worker leases nothing (worker-ops.ts): one primary-key probe per statement
        AND NOT EXISTS (SELECT 1 FROM {{schema}}.workers w WHERE w.id = p_worker AND w.cordoned)
      LIMIT p_limit
    ), leased AS (
      UPDATE {{schema}}.tasks t SET
        state = 'processing', attempts = t.attempts + 1, lease_token = nextval('{{schema}}.lease_tokens'),
        lease_expires_at = now() + p_ms * interval '1 millisecond', worker_id = p_worker, started_at = now(), updated_at = now()
      FROM picked WHERE t.id = picked.id
      RETURNING picked.ord, picked.state AS was, t.*
    ), counted AS (
      INSERT INTO {{schema}}.queue_counts AS c (queue, state, shard, n)
      SELECT d.queue, d.state, pg_backend_pid() % 16, sum(d.n) FROM (
        SELECT l.queue, l.was AS state, -count(*) AS n FROM leased l GROUP BY l.queue, l.was
        UNION ALL
        SELECT l.queue, 'processing', count(*) FROM leased l GROUP BY l.queue
      ) AS d
      GROUP BY d.queue, d.state ORDER BY d.queue, d.state
      ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n
    )
    SELECT row_number() OVER (ORDER BY l.ord, l.priority DESC, l.run_at, l.id), l.id::text, l.queue, l.handler, l.payload,
      l.attempts, l.max_attempts, l.priority, l.timeout_ms, {{schema}}.ms(l.created_at), {{schema}}.ms(l.run_at),
      l.lease_token::text, {{schema}}.ms(l.lease_expires_at)
    FROM leased l;
  END IF;
  PERFORM set_config('switchyard.counted', 'off', true);
END $$;

-- Acks (completeTasks, and the first half of complete_and_lease()): processing to
-- succeeded, counted here. A success clears last_error (the error history stays); the
-- result is JSON text, NULL for none. Answers the ids acked.
CREATE FUNCTION {{schema}}.complete_tasks(p_ids bigint[], p_tokens bigint[], p_results text[], p_async boolean)
RETURNS TABLE (id text)
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
  PERFORM set_config('switchyard.counted', 'on', true);
  RETURN QUERY
  WITH acked AS (
    UPDATE {{schema}}.tasks t SET state = 'succeeded', finished_at = now(), updated_at = now(), lease_token = NULL, lease_expires_at = NULL,
      last_error = NULL, result = u.result::jsonb
    FROM unnest(p_ids, p_tokens, p_results) AS u(id, token, result)
    WHERE t.id = u.id AND t.lease_token = u.token AND t.state = 'processing'
    RETURNING t.id, t.queue
  ), counted AS (
    INSERT INTO {{schema}}.queue_counts AS c (queue, state, shard, n)
    SELECT d.queue, d.state, pg_backend_pid() % 16, d.n FROM (
      SELECT a.queue, 'processing' AS state, -count(*) AS n FROM acked a GROUP BY a.queue
      UNION ALL
      SELECT a.queue, 'succeeded', count(*) FROM acked a GROUP BY a.queue
    ) AS d
    ORDER BY d.queue, d.state
    ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n
  )
  SELECT a.id::text FROM acked a;
  PERFORM set_config('switchyard.counted', 'off', true);
END $$;

-- complete_and_lease() of 020 with its acks through complete_tasks()
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
  keys text[];
BEGIN
  IF p_async THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  SELECT s.flow_limited, s.global_paused INTO limited, paused FROM {{schema}}.settings s WHERE s.id = 1;
  IF limited AND NOT paused
    -- a cordoned worker leases nothing (worker-ops.ts): it neither waits for nor locks limit rows
    AND NOT EXISTS (SELECT 1 FROM {{schema}}.workers w WHERE w.id = p_worker AND w.cordoned) THEN
    SELECT coalesce(array_agg(k), '{}') INTO keys FROM (
      SELECT f.kind || ':' || f.name AS k FROM {{schema}}.flow_limits f
      WHERE (f.kind = 'queue' AND f.name = ANY(p_queues))
       OR (f.kind = 'handler' AND (p_handlers IS NULL OR f.name = ANY(p_handlers)))
       OR f.kind = 'tenant'
      ORDER BY f.kind, f.name
      FOR UPDATE
    ) AS locked;
  END IF;
  RETURN QUERY SELECT NULL::bigint, a.id, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
    NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8
  FROM {{schema}}.complete_tasks(p_ids, p_tokens, p_results, p_async) AS a;
  IF keys IS NOT NULL THEN
    RETURN QUERY SELECT * FROM {{schema}}.lease_within({{schema}}.flow_allowance(p_queues, p_handlers, keys, p_limit),
      p_queues, p_limit, p_worker, p_ms, p_handlers, p_async);
    RETURN;
  END IF;
  IF limited THEN RETURN; END IF;
  RETURN QUERY SELECT * FROM {{schema}}.lease_plain(p_queues, p_limit, p_worker, p_ms, p_handlers, p_async, false);
  IF FOUND OR NOT (SELECT s.flow_limited FROM {{schema}}.settings s WHERE s.id = 1) THEN RETURN; END IF;
  RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
    NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8;
END $$;

-- tasks_created leaves out processing tasks. A lease and an ack are not heap-only
-- updates (both change `state`, which the partial indexes read), so each adds an entry
-- for the new row version to every index whose predicate it meets: to tasks_created
-- three times per task (insert, lease, ack), about 65 bytes of WAL each. A processing
-- task is in tasks_processing, and those are few (one per running lease), so a window
-- on the creation time reads this index for every other state and tasks_processing for
-- the running ones (task-admin.ts says so to the planner when no state is filtered).
DROP INDEX {{schema}}.tasks_created;
CREATE INDEX tasks_created ON {{schema}}.tasks (created_at) WHERE state <> 'processing';
