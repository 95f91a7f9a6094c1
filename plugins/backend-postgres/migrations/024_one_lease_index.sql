-- One lease index instead of two (the performance issue: fewer index entries per task).
--
-- A pending task had an entry in tasks_lease (queue, priority DESC, run_at, id) and one
-- in tasks_lease_handler (queue, handler, priority DESC, run_at, id), both over the
-- pending states. Workers lease by handler and read only tasks_lease_handler (005);
-- tasks_lease served the lease without a handler set, the flow-limited lease one row at
-- a time, and the waiting-state task lists. Each of those now reads a queue in run order
-- as a merge of one tasks_lease_handler range per handler of the queue: the handlers by
-- a skip scan of the same index (one descent per distinct handler with pending tasks,
-- read in the lease's own snapshot, so a task is never missed for a stale handler list),
-- each handler's first rows in run order, and the first of their merge. An enqueue
-- writes one lease index entry fewer, and so does a promotion or a retry.
--
-- The merge costs a lease without a handler set one descent per handler of each queue,
-- and with several handlers it locks up to p_limit rows per handler for the length of
-- the statement (the handler-set lease of 005 already does); only the first p_limit of
-- the merge are leased. One handler per queue (the common case) reads what it read.
DROP INDEX {{schema}}.tasks_lease;

-- the plain lease of 020; only the branch without a handler set changed
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
      WHERE NOT (SELECT s.global_paused OR (s.flow_limited AND NOT p_within_limits) FROM {{schema}}.settings s WHERE s.id = 1)
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
      WHERE NOT (SELECT s.global_paused OR (s.flow_limited AND NOT p_within_limits) FROM {{schema}}.settings s WHERE s.id = 1)
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

-- lease_within() of 020; only the row-at-a-time path's read changed: a queue in run
-- order is the merge of its handlers' ranges of tasks_lease_handler (those asked for,
-- or all of the queue's), a handler saturated meanwhile left out of the merge
CREATE OR REPLACE FUNCTION {{schema}}.lease_within(p_allow jsonb, p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean)
RETURNS TABLE (ord bigint, id text, queue text, handler text, payload jsonb, attempts integer, max_attempts integer,
  priority integer, timeout_ms integer, created_at float8, run_at float8, lease_token text, lease_expires_at float8)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  now_ms float8 := {{schema}}.ms(clock_timestamp());
  r record;
  allow jsonb := p_allow;
  key text;
  q text;
  q_ord bigint;
  remaining integer := p_limit;
  want integer;
  q_left bigint;
  h_left bigint;
  t_left bigint;
  t_key text;
  blocked_t text[];
  blocked text[];
  pass_rows integer;
  pass_taken integer;
  ids bigint[] := '{}';
  ords bigint[] := '{}';
  seen text[] := '{}';
  hs text[];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM jsonb_each_text(p_allow) AS a(k, v) WHERE v::bigint < p_limit) THEN
    -- room for the whole batch under every limit: the plain lease, and its starts
    -- counted in each rate window (a tenant's only when tenant limits exist)
    RETURN QUERY
    WITH leased AS MATERIALIZED (
      SELECT * FROM {{schema}}.lease_plain(p_queues, p_limit, p_worker, p_ms, p_handlers, p_async, true)
    ), started AS (
      SELECT 'queue' AS kind, l.queue AS name, count(*)::integer AS n FROM leased l GROUP BY l.queue
      UNION ALL
      SELECT 'handler', l.handler, count(*)::integer FROM leased l GROUP BY l.handler
      UNION ALL
      SELECT 'tenant', t.tenant, count(*)::integer FROM leased l JOIN {{schema}}.tasks t ON t.id = l.id::bigint
      WHERE t.tenant IS NOT NULL AND EXISTS (SELECT 1 FROM jsonb_object_keys(p_allow) AS k WHERE k LIKE 'tenant:%')
      GROUP BY t.tenant
    ), counted AS (
      UPDATE {{schema}}.flow_limits f SET
        rate_window_no = {{schema}}.flow_window(f.rate_window_ms, f.rate_window_no, now_ms),
        rate_used = CASE WHEN {{schema}}.flow_window(f.rate_window_ms, f.rate_window_no, now_ms) = f.rate_window_no THEN f.rate_used ELSE 0 END
          + c.n
      FROM started c
      WHERE f.kind = c.kind AND f.name = c.name AND f.rate_limit IS NOT NULL
    )
    SELECT * FROM leased;
    RETURN;
  END IF;

  -- some limit has less room than the batch: candidates one by one (migration 014)
  SELECT coalesce(array_agg(substr(k, 9)), '{}') INTO blocked
  FROM jsonb_each_text(allow) AS a(k, v) WHERE k LIKE 'handler:%' AND v::bigint <= 0;
  SELECT coalesce(array_agg(substr(k, 8)), '{}') INTO blocked_t
  FROM jsonb_each_text(allow) AS a(k, v) WHERE k LIKE 'tenant:%' AND v::bigint <= 0;

  q_ord := 0;
  FOREACH q IN ARRAY p_queues LOOP
    q_ord := q_ord + 1;
    EXIT WHEN remaining <= 0;
    CONTINUE WHEN q = ANY(seen);
    seen := seen || q;
    CONTINUE WHEN EXISTS (SELECT 1 FROM {{schema}}.queues p WHERE p.name = q AND p.paused);
    q_left := (allow ->> ('queue:' || q))::bigint;
    -- the handlers to merge: those asked for, or every handler with pending tasks in
    -- the queue (a skip scan of tasks_lease_handler)
    IF p_handlers IS NULL THEN
      hs := ARRAY(
        WITH RECURSIVE h(name) AS (
          (SELECT t.handler FROM {{schema}}.tasks t
           WHERE t.queue = q AND t.state IN ('ready', 'scheduled', 'retrying') ORDER BY t.handler LIMIT 1)
          UNION ALL
          SELECT (SELECT t.handler FROM {{schema}}.tasks t
                  WHERE t.queue = q AND t.state IN ('ready', 'scheduled', 'retrying') AND t.handler > h.name
                  ORDER BY t.handler LIMIT 1)
          FROM h WHERE h.name IS NOT NULL
        )
        SELECT h.name FROM h WHERE h.name IS NOT NULL);
    ELSE
      hs := ARRAY(SELECT DISTINCT x.name FROM unnest(p_handlers) AS x(name) WHERE x.name IS NOT NULL);
    END IF;
    LOOP
      want := least(remaining, coalesce(q_left, remaining));
      EXIT WHEN want <= 0;
      pass_rows := 0;
      pass_taken := 0;
      -- the queue in run order: each handler's first rows, merged
      FOR r IN
        SELECT c.id, c.handler, c.tenant FROM unnest(hs) AS h(name)
        CROSS JOIN LATERAL (
          SELECT t.id, t.handler, t.tenant, t.priority, t.run_at FROM {{schema}}.tasks t
          WHERE t.queue = q AND t.handler = h.name AND t.state IN ('ready', 'scheduled', 'retrying') AND t.run_at <= now()
            AND (t.tenant IS NULL OR t.tenant <> ALL(blocked_t))
            AND t.id <> ALL(ids)
          ORDER BY t.priority DESC, t.run_at, t.id
          LIMIT want
          FOR UPDATE SKIP LOCKED
        ) AS c
        WHERE h.name <> ALL(blocked)
        ORDER BY c.priority DESC, c.run_at, c.id
        LIMIT want
      LOOP
        pass_rows := pass_rows + 1;
        key := 'handler:' || r.handler;
        h_left := (allow ->> key)::bigint;
        IF h_left IS NOT NULL AND h_left <= 0 THEN
          IF NOT r.handler = ANY(blocked) THEN blocked := blocked || r.handler; END IF;
          CONTINUE;
        END IF;
        t_left := NULL;
        IF r.tenant IS NOT NULL THEN
          t_key := 'tenant:' || r.tenant;
          t_left := (allow ->> t_key)::bigint;
          IF t_left IS NOT NULL AND t_left <= 0 THEN
            IF NOT r.tenant = ANY(blocked_t) THEN blocked_t := blocked_t || r.tenant; END IF;
            CONTINUE;
          END IF;
        END IF;
        IF h_left IS NOT NULL THEN allow := allow || jsonb_build_object(key, h_left - 1); END IF;
        IF t_left IS NOT NULL THEN allow := allow || jsonb_build_object(t_key, t_left - 1); END IF;
        IF q_left IS NOT NULL THEN q_left := q_left - 1; END IF;
        ids := ids || r.id;
        ords := ords || q_ord;
        pass_taken := pass_taken + 1;
        remaining := remaining - 1;
      END LOOP;
      -- the queue ran out of candidates, or a pass took all it asked for and the loop
      -- asks again only while there is room; a pass that skipped rows of a handler that
      -- became saturated asks again without them
      EXIT WHEN pass_rows < want OR pass_taken = 0 AND pass_rows = 0;
    END LOOP;
    IF q_left IS NOT NULL THEN allow := allow || jsonb_build_object('queue:' || q, q_left); END IF;
  END LOOP;

  IF cardinality(ids) = 0 THEN RETURN; END IF;

  -- starts count against each rate window; the window never moves backwards
  UPDATE {{schema}}.flow_limits f SET
    rate_window_no = {{schema}}.flow_window(f.rate_window_ms, f.rate_window_no, now_ms),
    rate_used = CASE WHEN {{schema}}.flow_window(f.rate_window_ms, f.rate_window_no, now_ms) = f.rate_window_no THEN f.rate_used ELSE 0 END
      + c.n
  FROM (
    SELECT 'queue' AS kind, t.queue AS name, count(*)::integer AS n FROM {{schema}}.tasks t WHERE t.id = ANY(ids) GROUP BY t.queue
    UNION ALL
    SELECT 'handler', t.handler, count(*)::integer FROM {{schema}}.tasks t WHERE t.id = ANY(ids) GROUP BY t.handler
    UNION ALL
    SELECT 'tenant', t.tenant, count(*)::integer FROM {{schema}}.tasks t WHERE t.id = ANY(ids) AND t.tenant IS NOT NULL GROUP BY t.tenant
  ) AS c
  WHERE f.kind = c.kind AND f.name = c.name AND f.rate_limit IS NOT NULL;

  RETURN QUERY
  UPDATE {{schema}}.tasks t SET
    state = 'processing', attempts = t.attempts + 1, lease_token = nextval('{{schema}}.lease_tokens'),
    lease_expires_at = now() + p_ms * interval '1 millisecond', worker_id = p_worker, started_at = now(), updated_at = now()
  FROM unnest(ids, ords) WITH ORDINALITY AS u(id, ord, pos)
  WHERE t.id = u.id
  RETURNING u.ord * 1000000 + u.pos, t.id::text, t.queue, t.handler, t.payload, t.attempts, t.max_attempts, t.priority, t.timeout_ms,
    {{schema}}.ms(t.created_at), {{schema}}.ms(t.run_at), t.lease_token::text, {{schema}}.ms(t.lease_expires_at);
END $$;
