-- The acks and the next lease in one UPDATE, for PGlite only (the performance issue,
-- item 4: on PGlite, complete_and_lease() was about half of the embedded default's CPU
-- per task). work.ts calls it on a PGlite client; a server keeps complete_and_lease().
--
-- complete_and_lease() without flow limits runs the acks' UPDATE, then lease_plain() (a
-- second plpgsql function whose rows are copied into its own result and then into the
-- caller's) with a second UPDATE, and each UPDATE of tasks fires count_updated(). Here
-- the picked rows and the acks are one relation that one UPDATE applies (a row acked or
-- leased by its own branch of each CASE): the counters move once per call, with no
-- nested function. Measured on PGlite in bench/README.md ("one UPDATE for acks and
-- lease, packed answers on PGlite").
--
-- Why not on a server: there another connection can update an acked row between this
-- statement's snapshot and its update (a lease extension), and the re-check of the new
-- row version (EvalPlanQual) finds no join row in a UNION ALL of unnest() and a CTE
-- scan, so the ack is silently dropped (lease_lost, the task runs twice), and it gave no
-- CPU gain there (bench/README.md, "2026-12-07 (04:25–05:20 UTC): Postgres, one UPDATE
-- for the acks and the lease — measured and dropped"). PGlite is one connection running
-- one statement at a time: no other statement updates a row while this one runs.
--
-- What stays as in complete_and_lease(): while flow limits are stored the call is
-- complete_and_lease() itself (limit rows locked before the acks, 023); otherwise the
-- picked rows, their order, locks and the checks of pause, cordon and flow_limited are
-- lease_plain()'s (024) with p_within_limits false, and an ack matches only its own lease
-- (token, `processing`). Differences: the lease reads the snapshot the acks read (never a
-- row the acks change: acked rows are `processing`, leased rows pending), so children an
-- ack makes ready (settle_children) are leased by the next call, woken by their
-- notification, not by this one; and the marker row (id NULL) that sends the caller to
-- lease_tasks() is answered when flow_limited is set in the statement's own snapshot,
-- which is exactly when the lease was held back by it.
CREATE FUNCTION {{schema}}.complete_and_lease_one_update(p_ids bigint[], p_tokens bigint[], p_results text[],
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
  IF (SELECT s.flow_limited FROM {{schema}}.settings s WHERE s.id = 1) THEN
    RETURN QUERY SELECT * FROM {{schema}}.complete_and_lease(p_ids, p_tokens, p_results, p_queues, p_limit, p_worker, p_ms, p_handlers, p_async);
    RETURN;
  END IF;
  IF p_async THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;

  IF p_handlers IS NULL THEN
    -- every handler of each queue: lease_plain()'s skip scan of tasks_lease_handler
    RETURN QUERY
    WITH picked AS MATERIALIZED (
      SELECT c.id, q.ord
      FROM unnest(p_queues) WITH ORDINALITY AS q(name, ord)
      CROSS JOIN LATERAL (
        SELECT r.id FROM (
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
        AND NOT EXISTS (SELECT 1 FROM {{schema}}.workers w WHERE w.id = p_worker AND w.cordoned)
      LIMIT p_limit
    ), changed AS (
      UPDATE {{schema}}.tasks t SET
        state = CASE WHEN x.ord IS NULL THEN 'succeeded' ELSE 'processing' END,
        attempts = CASE WHEN x.ord IS NULL THEN t.attempts ELSE t.attempts + 1 END,
        lease_token = CASE WHEN x.ord IS NULL THEN NULL ELSE nextval('{{schema}}.lease_tokens') END,
        lease_expires_at = CASE WHEN x.ord IS NULL THEN NULL ELSE now() + p_ms * interval '1 millisecond' END,
        worker_id = CASE WHEN x.ord IS NULL THEN t.worker_id ELSE p_worker END,
        started_at = CASE WHEN x.ord IS NULL THEN t.started_at ELSE now() END,
        finished_at = CASE WHEN x.ord IS NULL THEN now() ELSE t.finished_at END,
        last_error = CASE WHEN x.ord IS NULL THEN NULL ELSE t.last_error END,
        result = CASE WHEN x.ord IS NULL THEN x.result::jsonb ELSE t.result END,
        updated_at = now()
      FROM (
        SELECT u.id, u.token, u.result, NULL::bigint AS ord FROM unnest(p_ids, p_tokens, p_results) AS u(id, token, result)
        UNION ALL
        SELECT p.id, NULL::bigint, NULL::text, p.ord FROM picked p
      ) AS x
      WHERE t.id = x.id AND (x.ord IS NOT NULL OR (t.lease_token = x.token AND t.state = 'processing'))
      RETURNING x.ord, t.*
    )
    SELECT NULL::bigint, a.id::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
      NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8
    FROM changed a WHERE a.ord IS NULL
    UNION ALL
    SELECT row_number() OVER (ORDER BY l.ord, l.priority DESC, l.run_at, l.id), l.id::text, l.queue, l.handler, l.payload,
      l.attempts, l.max_attempts, l.priority, l.timeout_ms, {{schema}}.ms(l.created_at), {{schema}}.ms(l.run_at),
      l.lease_token::text, {{schema}}.ms(l.lease_expires_at)
    FROM changed l WHERE l.ord IS NOT NULL
    UNION ALL
    -- limits appeared since the flag was read: the caller leases through lease_tasks()
    SELECT NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
      NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8
    FROM {{schema}}.settings s WHERE s.id = 1 AND s.flow_limited;
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
        AND NOT EXISTS (SELECT 1 FROM {{schema}}.workers w WHERE w.id = p_worker AND w.cordoned)
      LIMIT p_limit
    ), changed AS (
      UPDATE {{schema}}.tasks t SET
        state = CASE WHEN x.ord IS NULL THEN 'succeeded' ELSE 'processing' END,
        attempts = CASE WHEN x.ord IS NULL THEN t.attempts ELSE t.attempts + 1 END,
        lease_token = CASE WHEN x.ord IS NULL THEN NULL ELSE nextval('{{schema}}.lease_tokens') END,
        lease_expires_at = CASE WHEN x.ord IS NULL THEN NULL ELSE now() + p_ms * interval '1 millisecond' END,
        worker_id = CASE WHEN x.ord IS NULL THEN t.worker_id ELSE p_worker END,
        started_at = CASE WHEN x.ord IS NULL THEN t.started_at ELSE now() END,
        finished_at = CASE WHEN x.ord IS NULL THEN now() ELSE t.finished_at END,
        last_error = CASE WHEN x.ord IS NULL THEN NULL ELSE t.last_error END,
        result = CASE WHEN x.ord IS NULL THEN x.result::jsonb ELSE t.result END,
        updated_at = now()
      FROM (
        SELECT u.id, u.token, u.result, NULL::bigint AS ord FROM unnest(p_ids, p_tokens, p_results) AS u(id, token, result)
        UNION ALL
        SELECT p.id, NULL::bigint, NULL::text, p.ord FROM picked p
      ) AS x
      WHERE t.id = x.id AND (x.ord IS NOT NULL OR (t.lease_token = x.token AND t.state = 'processing'))
      RETURNING x.ord, t.*
    )
    SELECT NULL::bigint, a.id::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
      NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8
    FROM changed a WHERE a.ord IS NULL
    UNION ALL
    SELECT row_number() OVER (ORDER BY l.ord, l.priority DESC, l.run_at, l.id), l.id::text, l.queue, l.handler, l.payload,
      l.attempts, l.max_attempts, l.priority, l.timeout_ms, {{schema}}.ms(l.created_at), {{schema}}.ms(l.run_at),
      l.lease_token::text, {{schema}}.ms(l.lease_expires_at)
    FROM changed l WHERE l.ord IS NOT NULL
    UNION ALL
    -- limits appeared since the flag was read: the caller leases through lease_tasks()
    SELECT NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
      NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8
    FROM {{schema}}.settings s WHERE s.id = 1 AND s.flow_limited;
  END IF;
END $$;
