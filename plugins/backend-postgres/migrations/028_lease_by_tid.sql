-- Leases that update the rows they locked by their tuple id (the performance issue: server
-- CPU per processed task).
--
-- lease_plain() picks its rows with FOR UPDATE SKIP LOCKED, then updates them. The UPDATE
-- found each picked row again by its id: one descent of tasks_pkey and a heap fetch per
-- leased row (3 buffer reads of the ~13 a leased row costs). The row is locked by this
-- statement from the pick to the commit, so no other transaction can move it meanwhile,
-- and the pick's ctid (the version it locked, the newest one when the lock followed a
-- concurrent update) is where the UPDATE finds it: a TID scan, one buffer per row. Under
-- the functions' planner settings (no sequential scan, no hash or merge join; lease_tasks(),
-- complete_and_lease() and the flow paths that call this) that is a nested loop over the
-- picked rows.
--
-- One difference from the id join, only in a race: a row that a concurrent transaction
-- updated and committed after this statement's snapshot, still pending, is locked in its
-- newest version, which the TID scan (in the statement's snapshot) does not see; the row
-- is then not leased by this call (its lock ends at the commit, the task stays pending for
-- the next lease). The id join would have leased it. Nothing is leased twice either way.
--
-- The UPDATE also returns only the columns the answer reads instead of t.* (the whole row,
-- errors, result and progress included, was materialized for every leased row).

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
        t.created_at, t.run_at, t.lease_token, t.lease_expires_at
    )
    SELECT row_number() OVER (ORDER BY l.ord, l.priority DESC, l.run_at, l.id), l.id::text, l.queue, l.handler, l.payload,
      l.attempts, l.max_attempts, l.priority, l.timeout_ms, {{schema}}.ms(l.created_at), {{schema}}.ms(l.run_at),
      l.lease_token::text, {{schema}}.ms(l.lease_expires_at)
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
        t.created_at, t.run_at, t.lease_token, t.lease_expires_at
    )
    SELECT row_number() OVER (ORDER BY l.ord, l.priority DESC, l.run_at, l.id), l.id::text, l.queue, l.handler, l.payload,
      l.attempts, l.max_attempts, l.priority, l.timeout_ms, {{schema}}.ms(l.created_at), {{schema}}.ms(l.run_at),
      l.lease_token::text, {{schema}}.ms(l.lease_expires_at)
    FROM leased l;
  END IF;
END $$;
