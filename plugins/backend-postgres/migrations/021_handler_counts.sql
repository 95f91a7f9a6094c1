-- Pending handlers without reading tasks. pendingHandlers (the admin overview's
-- "tasks no live worker runs" report) was a skip scan over tasks_lease_handler: one
-- index descent per (queue, handler), but each descent walks past the entries of tasks
-- that left the pending states since the last vacuum, so under churn it read O(recent
-- transitions) entries. The count triggers now keep pending tasks counted per (queue,
-- handler) as they keep dead tasks (017), in one table: handler_counts, a row per
-- (kind, queue, handler, connection shard). kind 'pending' is ready + scheduled +
-- retrying (the states tasks_lease_handler holds), so a promotion (scheduled to
-- ready) nets to nothing and writes no row; kind 'dead' replaces dead_counts. Both
-- kinds are written by the one statement that wrote dead_counts, so the triggers run
-- as many statements as before: an enqueue or a lease adds one counter row to it.
CREATE TABLE {{schema}}.handler_counts (
  kind text NOT NULL CHECK (kind IN ('pending', 'dead')),
  queue text NOT NULL,
  handler text NOT NULL,
  shard smallint NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY (kind, queue, handler, shard)
);

INSERT INTO {{schema}}.handler_counts (kind, queue, handler, shard, n)
SELECT 'dead', queue, handler, shard, n FROM {{schema}}.dead_counts WHERE n <> 0;
INSERT INTO {{schema}}.handler_counts (kind, queue, handler, shard, n)
SELECT 'pending', queue, handler, 0, count(*) FROM {{schema}}.tasks
WHERE state IN ('ready', 'scheduled', 'retrying') GROUP BY queue, handler;

DROP TABLE {{schema}}.dead_counts;

-- the counted kind of a task state; NULL: not counted per handler
CREATE FUNCTION {{schema}}.handler_kind(state text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN state IN ('ready', 'scheduled', 'retrying') THEN 'pending' WHEN state = 'dead' THEN 'dead' END
$$;

-- The bodies of 017 with handler_counts in place of dead_counts. Each statement
-- touches queue_counts rows, then handler_counts rows, each in key order, so two
-- statements never wait on each other's counter rows in opposite orders. A statement
-- that moves no task into or out of a counted kind (an ack, an extension, a promotion)
-- adds no handler_counts row.
CREATE OR REPLACE FUNCTION {{schema}}.count_inserted() RETURNS trigger
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

  INSERT INTO {{schema}}.handler_counts AS c (kind, queue, handler, shard, n)
  SELECT kind, queue, handler, pg_backend_pid() % 16, count(*) FROM (
    SELECT {{schema}}.handler_kind(state) AS kind, queue, handler FROM new_rows
  ) AS counted
  WHERE kind IS NOT NULL
  GROUP BY kind, queue, handler ORDER BY kind, queue, handler
  ON CONFLICT (kind, queue, handler, shard) DO UPDATE SET n = c.n + excluded.n;

  SELECT array_agg(DISTINCT queue) INTO woken FROM new_rows WHERE state = 'ready';
  PERFORM {{schema}}.notify_ready(woken);
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.count_updated() RETURNS trigger
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

  INSERT INTO {{schema}}.handler_counts AS c (kind, queue, handler, shard, n)
  SELECT kind, queue, handler, pg_backend_pid() % 16, sum(d) FROM (
    SELECT {{schema}}.handler_kind(state) AS kind, queue, handler, 1 AS d FROM new_rows
    UNION ALL
    SELECT {{schema}}.handler_kind(state) AS kind, queue, handler, -1 AS d FROM old_rows
  ) AS changes
  WHERE kind IS NOT NULL
  GROUP BY kind, queue, handler HAVING sum(d) <> 0
  ORDER BY kind, queue, handler
  ON CONFLICT (kind, queue, handler, shard) DO UPDATE SET n = c.n + excluded.n;

  SELECT array_agg(DISTINCT n.queue) INTO woken FROM new_rows n
  WHERE n.state IN ('ready', 'retrying') AND n.run_at <= now();
  PERFORM {{schema}}.notify_ready(woken);
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.count_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {{schema}}.queue_counts AS c (queue, state, shard, n)
  SELECT queue, state, pg_backend_pid() % 16, -count(*) FROM old_rows GROUP BY queue, state ORDER BY queue, state
  ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n;

  INSERT INTO {{schema}}.handler_counts AS c (kind, queue, handler, shard, n)
  SELECT kind, queue, handler, pg_backend_pid() % 16, -count(*) FROM (
    SELECT {{schema}}.handler_kind(state) AS kind, queue, handler FROM old_rows
  ) AS counted
  WHERE kind IS NOT NULL
  GROUP BY kind, queue, handler ORDER BY kind, queue, handler
  ON CONFLICT (kind, queue, handler, shard) DO UPDATE SET n = c.n + excluded.n;
  RETURN NULL;
END $$;
