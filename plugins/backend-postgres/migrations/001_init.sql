-- Switchyard on Postgres: tasks, per-queue counters, coordination, events, audit.
-- {{schema}} is replaced by the configured schema (a quoted identifier).

-- epoch milliseconds, the unit of every time the backend contract exposes
CREATE FUNCTION {{schema}}.ms(t timestamptz) RETURNS float8
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT round(extract(epoch FROM t) * 1000)::float8 $$;

CREATE TABLE {{schema}}.queues (
  name text PRIMARY KEY,
  weight float8,
  paused boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE {{schema}}.task_ids;
-- tokens only need to be unique per lease; a cached sequence avoids contention
CREATE SEQUENCE {{schema}}.lease_tokens CACHE 100;

-- Column order keeps fixed-width columns first (no alignment padding) and the
-- variable-width ones after. Every state change is one UPDATE of one row.
CREATE TABLE {{schema}}.tasks (
  id bigint PRIMARY KEY DEFAULT nextval('{{schema}}.task_ids'),
  run_at timestamptz NOT NULL,
  lease_token bigint,
  lease_expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  priority integer NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  timeout_ms integer NOT NULL,
  replays integer NOT NULL DEFAULT 0,
  payload_size integer NOT NULL,
  queue text NOT NULL,
  state text NOT NULL CHECK (state IN ('scheduled', 'ready', 'processing', 'succeeded', 'retrying', 'dead', 'canceled')),
  handler text NOT NULL,
  worker_id text,
  idempotency_key text,
  last_error text,
  payload jsonb NOT NULL,
  -- newest first, at most 10
  errors jsonb
) WITH (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.02);

-- leasing: one index range per queue in run order; O(log n) to the first candidate
CREATE INDEX tasks_lease ON {{schema}}.tasks (queue, priority DESC, run_at, id)
  WHERE state IN ('ready', 'scheduled', 'retrying');
-- promotion of due scheduled/retrying tasks; holds only delayed tasks
CREATE INDEX tasks_due ON {{schema}}.tasks (run_at) WHERE state IN ('scheduled', 'retrying');
-- expired-lease recovery scans the in-flight tasks only; lease_expires_at stays out
-- of every index so extending a lease is a HOT update
CREATE INDEX tasks_processing ON {{schema}}.tasks (id) WHERE state = 'processing';
-- DLQ and finished listings, pruning
CREATE INDEX tasks_finished ON {{schema}}.tasks (state, finished_at) WHERE finished_at IS NOT NULL;
CREATE UNIQUE INDEX tasks_idempotency ON {{schema}}.tasks (idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Exact per-(queue, state) counts without scanning tasks. Statement triggers add
-- one delta per (queue, state) and per connection shard: concurrent writers on
-- different connections rarely share a row, so they do not queue on its lock.
-- Readers sum the shards: O(queues x states x shards).
CREATE TABLE {{schema}}.queue_counts (
  queue text NOT NULL,
  state text NOT NULL,
  shard smallint NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY (queue, state, shard)
);

-- Idle workers LISTEN on sy_work_<schema>; the payload is the queue that got work.
CREATE FUNCTION {{schema}}.notify_ready(queues text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF queues IS NULL OR current_setting('switchyard.notify', true) IS NOT DISTINCT FROM 'off' THEN RETURN; END IF;
  PERFORM pg_notify('sy_work_' || {{schema_literal}}, q) FROM unnest(queues) AS q;
END $$;

-- deltas are applied in (queue, state) order so two statements never wait on each
-- other's counter rows in opposite orders
CREATE FUNCTION {{schema}}.count_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  woken text[];
BEGIN
  INSERT INTO {{schema}}.queues (name)
  SELECT DISTINCT n.queue FROM new_rows n
  WHERE NOT EXISTS (SELECT 1 FROM {{schema}}.queues q WHERE q.name = n.queue)
  ORDER BY 1
  ON CONFLICT (name) DO NOTHING;

  INSERT INTO {{schema}}.queue_counts AS c (queue, state, shard, n)
  SELECT queue, state, pg_backend_pid() % 16, count(*) FROM new_rows GROUP BY queue, state ORDER BY queue, state
  ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n;

  SELECT array_agg(DISTINCT queue) INTO woken FROM new_rows WHERE state = 'ready';
  PERFORM {{schema}}.notify_ready(woken);
  RETURN NULL;
END $$;

CREATE FUNCTION {{schema}}.count_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  woken text[];
BEGIN
  INSERT INTO {{schema}}.queue_counts AS c (queue, state, shard, n)
  SELECT queue, state, pg_backend_pid() % 16, sum(d) FROM (
    SELECT queue, state, 1 AS d FROM new_rows
    UNION ALL
    SELECT queue, state, -1 AS d FROM old_rows
  ) AS changes
  GROUP BY queue, state HAVING sum(d) <> 0
  ORDER BY queue, state
  ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n;

  -- a task that became runnable now (requeued, released, recovered, retried at once)
  SELECT array_agg(DISTINCT n.queue) INTO woken FROM new_rows n JOIN old_rows o ON o.id = n.id
  WHERE n.state IN ('ready', 'retrying') AND n.run_at <= now()
    AND (o.state IS DISTINCT FROM n.state OR o.queue IS DISTINCT FROM n.queue OR o.run_at > now());
  PERFORM {{schema}}.notify_ready(woken);
  RETURN NULL;
END $$;

CREATE FUNCTION {{schema}}.count_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {{schema}}.queue_counts AS c (queue, state, shard, n)
  SELECT queue, state, pg_backend_pid() % 16, -count(*) FROM old_rows GROUP BY queue, state ORDER BY queue, state
  ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n;
  RETURN NULL;
END $$;

CREATE TRIGGER tasks_count_insert AFTER INSERT ON {{schema}}.tasks
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.count_inserted();
CREATE TRIGGER tasks_count_update AFTER UPDATE ON {{schema}}.tasks
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.count_updated();
CREATE TRIGGER tasks_count_delete AFTER DELETE ON {{schema}}.tasks
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.count_deleted();

-- one row: global dequeue pause and the cluster-wide fixed-window rate limiter
CREATE TABLE {{schema}}.settings (
  id integer PRIMARY KEY CHECK (id = 1),
  global_paused boolean NOT NULL DEFAULT false,
  rate_limit integer,
  rate_window_ms integer,
  rate_window_no bigint NOT NULL DEFAULT 0,
  rate_used integer NOT NULL DEFAULT 0
);
INSERT INTO {{schema}}.settings (id) VALUES (1);

-- a released lock keeps its row (holder '') so its fencing token never goes back
CREATE TABLE {{schema}}.leaders (
  name text PRIMARY KEY,
  holder text NOT NULL,
  token bigint NOT NULL,
  expires_at timestamptz NOT NULL
);

CREATE TABLE {{schema}}.workers (
  id text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  version text NOT NULL,
  queues text[] NOT NULL,
  concurrency integer NOT NULL,
  in_flight integer NOT NULL,
  started_at timestamptz NOT NULL,
  last_heartbeat_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);

-- Event ids come from this one row, updated under its row lock by each append, so
-- ids are handed out in commit order: a reader never sees id N+1 before N exists.
CREATE TABLE {{schema}}.event_counter (
  id integer PRIMARY KEY CHECK (id = 1),
  last_id bigint NOT NULL
);
INSERT INTO {{schema}}.event_counter (id, last_id) VALUES (1, 0);

CREATE TABLE {{schema}}.events (
  id bigint PRIMARY KEY,
  time timestamptz NOT NULL DEFAULT now(),
  type text NOT NULL,
  data jsonb NOT NULL
);

CREATE TABLE {{schema}}.audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time timestamptz NOT NULL DEFAULT now(),
  action text NOT NULL,
  target text NOT NULL,
  actor text NOT NULL,
  request_id text NOT NULL,
  outcome text NOT NULL,
  error text,
  params jsonb NOT NULL
);
CREATE INDEX audit_time ON {{schema}}.audit (time);
