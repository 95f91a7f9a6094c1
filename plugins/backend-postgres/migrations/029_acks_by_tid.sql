-- Acks that find the acked rows by the tuple id the lease returned (the performance issue:
-- server CPU per processed task).
--
-- An ack found each acked row by its id: a descent of tasks_pkey and a heap fetch per row,
-- as the lease did before migration 028. The lease's UPDATE now also returns the ctid of
-- the version it wrote (RETURNING sees the new version), and the lease token a worker gets
-- carries it after the token's number: '<token>(<block>,<offset>)'. The token is opaque to
-- every caller; work.ts splits it, compares the number as before and hands the tuple id to
-- complete_tasks() below, which updates the row at that tuple id (a TID scan, one buffer
-- per row) when it is still the version with that id, that token and state 'processing'.
--
-- A tuple id is only a hint. The row moves whenever it is updated after the lease (an
-- extended lease, progress, a concurrent admin action), and after vacuum the slot can hold
-- another row; so the same id, token and state are compared as before, and every ack the
-- TID scan did not apply (fewer rows than acks) runs again by id, in the same call, as the
-- ack always did: rows acked by the first statement are no longer 'processing' and are not
-- touched twice. An ack is applied if and only if it was before; only the way to the row
-- changes. A concurrent update of the row found at the tuple id is followed as any UPDATE
-- follows it (EvalPlanQual re-checks id, token and state on the newest version). Tokens
-- without a tuple id (the flow-limited and rate-limited leases' own UPDATEs, PGlite's push
-- on enqueue) are acked by id.
--
-- completeTasks (work.ts) used to be a plain prepared statement, planned as a hash join
-- over the whole table for some batches (about 6 % of the acks in pg-throughput at 20k
-- tasks): complete_tasks() carries the lease functions' planner settings, and
-- complete_and_lease() acks through it.

CREATE OR REPLACE FUNCTION {{schema}}.lease_plain(p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean,
  p_within_limits boolean)
RETURNS TABLE (ord bigint, id text, queue text, handler text, payload jsonb, attempts integer, max_attempts integer,
  priority integer, timeout_ms integer, created_at float8, run_at float8, lease_token text, lease_expires_at float8)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
  IF p_async THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  IF p_handlers IS NULL THEN
    -- every handler of each queue: the distinct handlers with pending tasks by a skip
    -- scan of tasks_lease_handler, then one range per (queue, handler) as below
    RETURN QUERY
    WITH picked AS MATERIALIZED (
      SELECT c.id, c.tid, q.ord
      FROM unnest(p_queues) WITH ORDINALITY AS q(name, ord)
      CROSS JOIN LATERAL (
        SELECT r.id, r.tid FROM (
          WITH RECURSIVE h(name) AS (
            (SELECT t.handler FROM {{schema}}.tasks t
             WHERE t.queue = q.name AND t.state IN ('ready', 'scheduled', 'retrying') ORDER BY t.handler LIMIT 1)
            UNION ALL
            SELECT (SELECT t.handler FROM {{schema}}.tasks t
                    WHERE t.queue = q.name AND t.state IN ('ready', 'scheduled', 'retrying') AND t.handler > h.name
                    ORDER BY t.handler LIMIT 1)
            FROM h WHERE h.name IS NOT NULL
          )
          SELECT h.name FROM h WHERE h.name IS NOT NULL
        ) AS h
        CROSS JOIN LATERAL (
          SELECT t.id, t.ctid AS tid, t.priority, t.run_at FROM {{schema}}.tasks t
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
      FROM picked WHERE t.ctid = picked.tid
      RETURNING picked.ord, t.id, t.queue, t.handler, t.payload, t.attempts, t.max_attempts, t.priority, t.timeout_ms,
        t.created_at, t.run_at, t.lease_token, t.lease_expires_at, t.ctid AS tid
    )
    SELECT row_number() OVER (ORDER BY l.ord, l.priority DESC, l.run_at, l.id), l.id::text, l.queue, l.handler, l.payload,
      l.attempts, l.max_attempts, l.priority, l.timeout_ms, {{schema}}.ms(l.created_at), {{schema}}.ms(l.run_at),
      l.lease_token::text || l.tid::text, {{schema}}.ms(l.lease_expires_at)
    FROM leased l;
  ELSE
    -- one tasks_lease_handler range per (queue, handler), merged back into run order
    RETURN QUERY
    WITH picked AS MATERIALIZED (
      SELECT c.id, c.tid, q.ord
      FROM unnest(p_queues) WITH ORDINALITY AS q(name, ord)
      CROSS JOIN LATERAL (
        SELECT r.id, r.tid FROM unnest(p_handlers) AS h(name)
        CROSS JOIN LATERAL (
          SELECT t.id, t.ctid AS tid, t.priority, t.run_at FROM {{schema}}.tasks t
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
      FROM picked WHERE t.ctid = picked.tid
      RETURNING picked.ord, t.id, t.queue, t.handler, t.payload, t.attempts, t.max_attempts, t.priority, t.timeout_ms,
        t.created_at, t.run_at, t.lease_token, t.lease_expires_at, t.ctid AS tid
    )
    SELECT row_number() OVER (ORDER BY l.ord, l.priority DESC, l.run_at, l.id), l.id::text, l.queue, l.handler, l.payload,
      l.attempts, l.max_attempts, l.priority, l.timeout_ms, {{schema}}.ms(l.created_at), {{schema}}.ms(l.run_at),
      l.lease_token::text || l.tid::text, {{schema}}.ms(l.lease_expires_at)
    FROM leased l;
  END IF;
END $$;

-- The acks: by tuple id first, then by id for any the first statement did not apply.
CREATE OR REPLACE FUNCTION {{schema}}.complete_tasks(p_ids bigint[], p_tokens bigint[], p_tids tid[], p_results text[], p_async boolean)
RETURNS TABLE (id text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
  applied bigint := 0;
BEGIN
  IF p_async THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  -- a success clears last_error (the error history stays); the result is JSON text, NULL for none
  IF p_tids IS NOT NULL THEN
    RETURN QUERY
    UPDATE {{schema}}.tasks t SET state = 'succeeded', finished_at = now(), updated_at = now(), lease_token = NULL, lease_expires_at = NULL,
      last_error = NULL, result = u.result::jsonb
    FROM unnest(p_ids, p_tokens, p_tids, p_results) AS u(id, token, tid, result)
    -- the state as a value the planner does not see (migration 027), and the id as an
    -- expression tasks_pkey cannot serve: the planner prices a TID scan at a random page
    -- read and a primary-key probe below that, so with `t.id = u.id` it probed the index
    -- and tested the tuple id as a filter; the id is compared all the same
    WHERE t.ctid = u.tid AND t.id + 0 = u.id AND t.lease_token = u.token AND t.state = (SELECT 'processing')
    RETURNING t.id::text;
    GET DIAGNOSTICS applied = ROW_COUNT;
  END IF;
  IF applied < cardinality(p_ids) THEN
    RETURN QUERY
    UPDATE {{schema}}.tasks t SET state = 'succeeded', finished_at = now(), updated_at = now(), lease_token = NULL, lease_expires_at = NULL,
      last_error = NULL, result = u.result::jsonb
    FROM unnest(p_ids, p_tokens, p_results) AS u(id, token, result)
    WHERE t.id = u.id AND t.lease_token = u.token AND t.state = (SELECT 'processing')
    RETURNING t.id::text;
  END IF;
END $$;

-- complete_and_lease() with the acks' tuple ids (work.ts calls this one on a server), acking
-- as complete_tasks() does; the nine-argument one stays for PGlite's complete_and_lease_one_update() under flow limits.
CREATE OR REPLACE FUNCTION {{schema}}.complete_and_lease(p_ids bigint[], p_tokens bigint[], p_tids tid[], p_results text[],
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
  applied bigint := 0;
BEGIN
  IF p_async THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  SELECT s.flow_limited, s.global_paused INTO limited, paused FROM {{schema}}.settings s WHERE s.id = 1;
  IF limited AND NOT paused
    -- a cordoned worker leases nothing (worker-ops.ts): it neither waits for nor locks limit rows
    AND NOT EXISTS (SELECT 1 FROM {{schema}}.workers w WHERE w.id = p_worker AND w.cordoned) THEN
    lims := {{schema}}.flow_lock(p_queues, p_handlers);
  END IF;
  -- the acks as complete_tasks() runs them, written out here: a call of that function per
  -- ack batch (its own tuplestore copied into this one) cost what the tuple ids saved
  IF p_tids IS NOT NULL THEN
    RETURN QUERY
    UPDATE {{schema}}.tasks t SET state = 'succeeded', finished_at = now(), updated_at = now(), lease_token = NULL, lease_expires_at = NULL,
      last_error = NULL, result = u.result::jsonb
    FROM unnest(p_ids, p_tokens, p_tids, p_results) AS u(id, token, tid, result)
    WHERE t.ctid = u.tid AND t.id + 0 = u.id AND t.lease_token = u.token AND t.state = (SELECT 'processing')
    RETURNING NULL::bigint, t.id::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
      NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8;
    GET DIAGNOSTICS applied = ROW_COUNT;
  END IF;
  IF applied < cardinality(p_ids) THEN
    RETURN QUERY
    UPDATE {{schema}}.tasks t SET state = 'succeeded', finished_at = now(), updated_at = now(), lease_token = NULL, lease_expires_at = NULL,
      last_error = NULL, result = u.result::jsonb
    FROM unnest(p_ids, p_tokens, p_results) AS u(id, token, result)
    WHERE t.id = u.id AND t.lease_token = u.token AND t.state = (SELECT 'processing')
    RETURNING NULL::bigint, t.id::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
      NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8;
  END IF;
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
