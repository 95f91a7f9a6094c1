-- Flow limits per tenant (FlowScope kind 'tenant'): a tenant limit bounds the tasks
-- enqueued with that tenant across every queue and handler; tasks without a tenant are
-- never held back by one. Like handler limits, the running count is derived from the
-- tasks themselves (processing tasks of the tenant, read under the limit's row lock),
-- so completing, failing, releasing, recovering, canceling or deleting a task needs no
-- bookkeeping. The partial index holds only processing tasks that carry a tenant, so a
-- task without one pays nothing for it.
ALTER TABLE {{schema}}.flow_limits DROP CONSTRAINT IF EXISTS flow_limits_kind_check;
ALTER TABLE {{schema}}.flow_limits ADD CONSTRAINT flow_limits_kind_check CHECK (kind IN ('queue', 'handler', 'tenant'));

CREATE INDEX tasks_tenant_processing ON {{schema}}.tasks (tenant) WHERE state = 'processing' AND tenant IS NOT NULL;

CREATE OR REPLACE FUNCTION {{schema}}.flow_running(p_kind text, p_name text) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT CASE p_kind
    WHEN 'queue' THEN (SELECT coalesce(sum(n), 0)::bigint FROM {{schema}}.queue_counts WHERE queue = p_name AND state = 'processing')
    WHEN 'tenant' THEN (SELECT count(*) FROM {{schema}}.tasks WHERE state = 'processing' AND tenant = p_name)
    ELSE (SELECT count(*) FROM {{schema}}.tasks WHERE state = 'processing' AND handler = p_name)
  END
$$;

-- lease_flow as in 012, plus every tenant limit: a task of a tenant whose limit is used
-- up stays where it is, and the starts of each tenant count against its rate window.
CREATE OR REPLACE FUNCTION {{schema}}.lease_flow(p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean)
RETURNS TABLE (ord bigint, id text, queue text, handler text, payload jsonb, attempts integer, max_attempts integer,
  priority integer, timeout_ms integer, created_at float8, run_at float8, lease_token text, lease_expires_at float8)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  l record;
  r record;
  now_ms float8;
  win bigint;
  left_n bigint;
  allow jsonb := '{}'::jsonb;
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
  IF p_async THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  IF (SELECT s.global_paused FROM {{schema}}.settings s WHERE s.id = 1) THEN RETURN; END IF;
  now_ms := {{schema}}.ms(clock_timestamp());

  FOR l IN
    SELECT f.kind, f.name, f.concurrency, f.rate_limit, f.rate_window_ms, f.rate_window_no, f.rate_used
    FROM {{schema}}.flow_limits f
    WHERE (f.kind = 'queue' AND f.name = ANY(p_queues))
       OR (f.kind = 'handler' AND (p_handlers IS NULL OR f.name = ANY(p_handlers)))
       OR f.kind = 'tenant'
    ORDER BY f.kind, f.name
    FOR UPDATE
  LOOP
    left_n := NULL;
    IF l.concurrency IS NOT NULL THEN
      left_n := greatest(0, l.concurrency - {{schema}}.flow_running(l.kind, l.name));
    END IF;
    IF l.rate_limit IS NOT NULL THEN
      win := {{schema}}.flow_window(l.rate_window_ms, l.rate_window_no, now_ms);
      left_n := least(coalesce(left_n, 2147483647), greatest(0, l.rate_limit - CASE WHEN win = l.rate_window_no THEN l.rate_used ELSE 0 END));
    END IF;
    allow := allow || jsonb_build_object(l.kind || ':' || l.name, left_n);
  END LOOP;

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
