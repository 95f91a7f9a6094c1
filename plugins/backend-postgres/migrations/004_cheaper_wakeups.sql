-- The update trigger used to find tasks that became runnable by joining the old and
-- new transition tables on id. That join cost as much as the rest of a lease or an
-- ack (most of it inside the trigger). Updates that leave a task runnable now are
-- exactly the ones that make it runnable (release, recovery, a retry due at once, a
-- requeue, promotion); lease, ack and extend never do, so the new rows alone decide.
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

  SELECT array_agg(DISTINCT n.queue) INTO woken FROM new_rows n
  WHERE n.state IN ('ready', 'retrying') AND n.run_at <= now();
  PERFORM {{schema}}.notify_ready(woken);
  RETURN NULL;
END $$;
