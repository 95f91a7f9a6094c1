-- Flow limits that are configured but not saturated cost a lease about what the plain
-- lease costs (issue 13), and a busy worker acks and leases in one call under limits too.
--
-- lease_flow() of 012/014 picked candidates one row at a time in plpgsql and kept the
-- allowance of every scope in a jsonb value it rebuilt per row. Now the limit rows are
-- still locked and read first (flow_allowance(), as before: in (kind, name) order, the
-- running count read under the lock), and when every one of them has room for the
-- whole batch (p_limit more starts) no pick can overrun any of them: the batch is
-- taken by the plain lease's statement (lease_plain() with p_within_limits) and the
-- starts are added to the rate windows in the same statement. Only when some limit has
-- less room than the batch does the lease take the row-by-row path of 014, unchanged
-- (lease_within()).
--
-- complete_and_lease() under limits used to ack only, and the caller leased in a
-- second call and transaction, so that no transaction held acked rows (and counter
-- rows) while waiting for limit rows another lease held: that wait, the other way
-- round, could deadlock. It now locks the limit rows first, before the acks, so it
-- waits for them holding nothing, as lease_flow() does; then acks, then reads those
-- same rows (a finished task frees its place first) and leases within them.

-- the plain lease; p_within_limits: the caller holds the limit rows and leases within
-- them, so flow_limited does not stop it
DROP FUNCTION {{schema}}.lease_plain(text[], integer, text, float8, text[], boolean);
CREATE FUNCTION {{schema}}.lease_plain(p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean,
  p_within_limits boolean)
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

-- Locks and reads the limits a lease of these queues and handlers falls under and
-- answers what each allows now ('<kind>:<name>' -> starts left). p_keys NULL: every
-- limit that can apply, locked here in (kind, name) order; otherwise exactly those
-- limits, which the caller locked already (so this waits for nothing). A handler's or
-- tenant's running tasks are counted only when the lease might need the exact number:
-- all processing tasks together (from queue_counts, O(queues)) bound every such count,
-- so a limit whose concurrency leaves room for p_need more above that bound is given
-- that lower bound instead (enough to take the whole batch, and never more than is left).
CREATE FUNCTION {{schema}}.flow_allowance(p_queues text[], p_handlers text[], p_keys text[], p_need integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  l record;
  now_ms float8 := {{schema}}.ms(clock_timestamp());
  win bigint;
  left_n bigint;
  running bigint;
  all_running bigint;
  allow jsonb := '{}'::jsonb;
BEGIN
  FOR l IN
    SELECT f.kind, f.name, f.concurrency, f.rate_limit, f.rate_window_ms, f.rate_window_no, f.rate_used
    FROM {{schema}}.flow_limits f
    WHERE CASE WHEN p_keys IS NULL
      THEN (f.kind = 'queue' AND f.name = ANY(p_queues))
        OR (f.kind = 'handler' AND (p_handlers IS NULL OR f.name = ANY(p_handlers)))
        OR f.kind = 'tenant'
      ELSE f.kind || ':' || f.name = ANY(p_keys) END
    ORDER BY f.kind, f.name
    FOR UPDATE
  LOOP
    left_n := NULL;
    IF l.concurrency IS NOT NULL THEN
      -- the counts of flow_running(), as statements of their own: a SQL function whose
      -- body has subqueries is not inlined, and Postgres plans its body on every call
      IF l.kind = 'queue' THEN
        SELECT coalesce(sum(c.n), 0)::bigint INTO running FROM {{schema}}.queue_counts c WHERE c.queue = l.name AND c.state = 'processing';
      ELSE
        IF all_running IS NULL THEN
          SELECT coalesce(sum(c.n), 0)::bigint INTO all_running FROM {{schema}}.queue_counts c WHERE c.state = 'processing';
        END IF;
        IF l.concurrency - all_running >= p_need THEN
          running := all_running;
        ELSIF l.kind = 'tenant' THEN
          SELECT count(*) INTO running FROM {{schema}}.tasks t WHERE t.state = 'processing' AND t.tenant = l.name;
        ELSE
          SELECT count(*) INTO running FROM {{schema}}.tasks t WHERE t.state = 'processing' AND t.handler = l.name;
        END IF;
      END IF;
      left_n := greatest(0, l.concurrency - running);
    END IF;
    IF l.rate_limit IS NOT NULL THEN
      win := {{schema}}.flow_window(l.rate_window_ms, l.rate_window_no, now_ms);
      left_n := least(coalesce(left_n, 2147483647), greatest(0, l.rate_limit - CASE WHEN win = l.rate_window_no THEN l.rate_used ELSE 0 END));
    END IF;
    allow := allow || jsonb_build_object(l.kind || ':' || l.name, left_n);
  END LOOP;
  RETURN allow;
END $$;

-- Leases within an allowance from flow_allowance() (the caller holds its limit rows).
CREATE FUNCTION {{schema}}.lease_within(p_allow jsonb, p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean)
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
    LOOP
      want := least(remaining, coalesce(q_left, remaining));
      EXIT WHEN want <= 0;
      pass_rows := 0;
      pass_taken := 0;
      FOR r IN
        SELECT t.id, t.handler, t.tenant FROM {{schema}}.tasks t
        WHERE t.queue = q AND t.state IN ('ready', 'scheduled', 'retrying') AND t.run_at <= now()
          AND (p_handlers IS NULL OR t.handler = ANY(p_handlers))
          AND t.handler <> ALL(blocked)
          AND (t.tenant IS NULL OR t.tenant <> ALL(blocked_t))
          AND t.id <> ALL(ids)
        ORDER BY t.priority DESC, t.run_at, t.id
        LIMIT want
        FOR UPDATE SKIP LOCKED
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

CREATE OR REPLACE FUNCTION {{schema}}.lease_flow(p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean)
RETURNS TABLE (ord bigint, id text, queue text, handler text, payload jsonb, attempts integer, max_attempts integer,
  priority integer, timeout_ms integer, created_at float8, run_at float8, lease_token text, lease_expires_at float8)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  allow jsonb;
BEGIN
  IF p_async THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  IF (SELECT s.global_paused FROM {{schema}}.settings s WHERE s.id = 1) THEN RETURN; END IF;
  allow := {{schema}}.flow_allowance(p_queues, p_handlers, NULL, p_limit);
  RETURN QUERY SELECT * FROM {{schema}}.lease_within(allow, p_queues, p_limit, p_worker, p_ms, p_handlers, p_async);
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.lease_tasks(p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean)
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
  RETURN QUERY SELECT * FROM {{schema}}.lease_plain(p_queues, p_limit, p_worker, p_ms, p_handlers, p_async, false);
  IF FOUND THEN RETURN; END IF;
  -- nothing leased: because limits exist (a new snapshot, so one set since counts too)?
  IF (SELECT s.flow_limited AND NOT s.global_paused FROM {{schema}}.settings s WHERE s.id = 1)
    -- a cordoned worker leases nothing (worker-ops.ts), so lease_flow() is not even run
    AND NOT EXISTS (SELECT 1 FROM {{schema}}.workers w WHERE w.id = p_worker AND w.cordoned) THEN
    RETURN QUERY SELECT * FROM {{schema}}.lease_flow(p_queues, p_limit, p_worker, p_ms, p_handlers, p_async);
  END IF;
END $$;

-- Acks, then the next lease, in one call: the acks come first (ord and handler NULL).
-- Under limits the limit rows are locked before the acks (see above). Only when limits
-- appeared between the flag's read and the plain lease does it answer one row with id
-- NULL after the acks: the caller then leases through lease_tasks().
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
  -- a success clears last_error (the error history stays); the result is JSON text, NULL for none
  RETURN QUERY
  UPDATE {{schema}}.tasks t SET state = 'succeeded', finished_at = now(), updated_at = now(), lease_token = NULL, lease_expires_at = NULL,
    last_error = NULL, result = u.result::jsonb
  FROM unnest(p_ids, p_tokens, p_results) AS u(id, token, result)
  WHERE t.id = u.id AND t.lease_token = u.token AND t.state = 'processing'
  RETURNING NULL::bigint, t.id::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
    NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8;
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
