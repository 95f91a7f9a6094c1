-- DLQ statistics without reading the DLQ. dlqStats used to group every dead task by
-- (queue, handler): a scan of all dead rows (a partial index on handler only turns it
-- into an index-only scan of all dead entries, still O(dead tasks)). The count
-- triggers now also keep dead tasks counted per (queue, handler), sharded by
-- connection as queue_counts is, so dlqStats reads O(queues x handlers x shards) rows
-- and the oldest and newest failure from the ends of tasks_finished.
CREATE TABLE {{schema}}.dead_counts (
  queue text NOT NULL,
  handler text NOT NULL,
  shard smallint NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY (queue, handler, shard)
);

-- the dead tasks stored before this migration
INSERT INTO {{schema}}.dead_counts (queue, handler, shard, n)
SELECT queue, handler, 0, count(*) FROM {{schema}}.tasks WHERE state = 'dead' GROUP BY queue, handler;

-- The bodies of 001 (count_inserted, count_deleted) and 004 (count_updated), each with
-- the dead-task delta after the queue_counts one: every statement touches queue_counts
-- rows, then dead_counts rows, each in key order, so two statements never wait on
-- each other's counter rows in opposite orders. A statement without dead rows on
-- either side (leases, acks, retries) adds no row.
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

  INSERT INTO {{schema}}.dead_counts AS c (queue, handler, shard, n)
  SELECT queue, handler, pg_backend_pid() % 16, count(*) FROM new_rows WHERE state = 'dead' GROUP BY queue, handler ORDER BY queue, handler
  ON CONFLICT (queue, handler, shard) DO UPDATE SET n = c.n + excluded.n;

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

CREATE OR REPLACE FUNCTION {{schema}}.count_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {{schema}}.queue_counts AS c (queue, state, shard, n)
  SELECT queue, state, pg_backend_pid() % 16, -count(*) FROM old_rows GROUP BY queue, state ORDER BY queue, state
  ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n;

  INSERT INTO {{schema}}.dead_counts AS c (queue, handler, shard, n)
  SELECT queue, handler, pg_backend_pid() % 16, -count(*) FROM old_rows WHERE state = 'dead' GROUP BY queue, handler ORDER BY queue, handler
  ON CONFLICT (queue, handler, shard) DO UPDATE SET n = c.n + excluded.n;
  RETURN NULL;
END $$;
