-- Flow control: cluster-wide concurrency and rate limits per queue and per handler.
-- A limit row is locked FOR UPDATE by every lease that could take a task of its
-- scope (rows in (kind, name) order, so leasers never wait on each other in opposite
-- orders); under that lock the lease counts the scope's processing tasks (committed
-- state, so never fewer than are really running) and its starts in the current rate
-- window, and takes at most what is left. Running counts are derived from the tasks
-- themselves, so completing, failing, releasing, recovering or deleting a task needs
-- no bookkeeping to stay exact.
CREATE TABLE {{schema}}.flow_limits (
  kind text NOT NULL CHECK (kind IN ('queue', 'handler')),
  name text NOT NULL,
  concurrency integer CHECK (concurrency > 0),
  rate_limit integer CHECK (rate_limit > 0),
  rate_window_ms integer CHECK (rate_window_ms > 0),
  rate_window_no bigint NOT NULL DEFAULT 0,
  rate_used integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, name),
  CHECK (concurrency IS NOT NULL OR rate_limit IS NOT NULL),
  CHECK ((rate_limit IS NULL) = (rate_window_ms IS NULL))
);

-- true while any limit is stored: the plain lease statement reads it with the global
-- pause (same row) and takes nothing when set, so a process that has not yet seen a
-- new limit cannot lease past it; it then leases through lease_flow().
ALTER TABLE {{schema}}.settings ADD COLUMN flow_limited boolean NOT NULL DEFAULT false;

-- The usage of each limit now: running tasks, starts in the current window, whether
-- saturated. Read-only; the lease takes the same numbers under the row locks.
CREATE FUNCTION {{schema}}.flow_running(p_kind text, p_name text) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT CASE p_kind
    WHEN 'queue' THEN (SELECT coalesce(sum(n), 0)::bigint FROM {{schema}}.queue_counts WHERE queue = p_name AND state = 'processing')
    ELSE (SELECT count(*) FROM {{schema}}.tasks WHERE state = 'processing' AND handler = p_name)
  END
$$;

CREATE FUNCTION {{schema}}.flow_window(p_window_ms integer, p_stored bigint, p_now float8) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_window_ms IS NULL THEN 0 ELSE greatest(p_stored, floor(p_now / p_window_ms)::bigint) END
$$;

-- Leases like the plain lease statement (queues in the given order, paused queues
-- skipped, run order within a queue, only the listed handlers) within the limits of
-- every scope involved. Tasks of a saturated scope stay where they are.
CREATE FUNCTION {{schema}}.lease_flow(p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean)
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
        SELECT t.id, t.handler FROM {{schema}}.tasks t
        WHERE t.queue = q AND t.state IN ('ready', 'scheduled', 'retrying') AND t.run_at <= now()
          AND (p_handlers IS NULL OR t.handler = ANY(p_handlers))
          AND t.handler <> ALL(blocked)
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
        IF h_left IS NOT NULL THEN allow := allow || jsonb_build_object(key, h_left - 1); END IF;
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
