-- PGlite only: creation-time windows read the primary key, and tasks_created goes
-- (the performance issue, item 4: one index entry less per enqueue and per ack).
--
-- On PGlite every task gets its id and its created_at in one statement at a time of
-- the one session (work.ts, pgliteEnqueueSql: the ids are one range of task_ids, and
-- created_at is never earlier than the newest task's, so a clock stepped back does
-- not break the order either). So created_at never decreases as the id grows, and the
-- tasks created in [a, b) are the ids in [created_id_bound(a), created_id_bound(b)):
-- task-admin.ts reads a creation-time window as that primary-key range (and still
-- checks created_at on each row). tasks_created cost an index entry at the enqueue and
-- another at the ack (migration 022 left out only the lease), on PGlite about 7 % of
-- the CPU per task (bench/README.md, "PGlite: creation-time windows by id").
--
-- A Postgres server keeps tasks_created: there concurrent enqueues take ids and
-- now() in no common order. The function exists on both (one schema); only PGlite's
-- queries call it.

-- the smallest id from which on every task was created at or after p_at (one past the
-- newest id when none was): a binary search over the id range, one primary-key probe
-- per step (at most 64), valid because created_at does not decrease with the id
CREATE FUNCTION {{schema}}.created_id_bound(p_at timestamptz) RETURNS bigint
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  lo bigint;
  hi bigint;
  mid bigint;
  created timestamptz;
BEGIN
  SELECT t.id, t.created_at INTO hi, created FROM {{schema}}.tasks t ORDER BY t.id DESC LIMIT 1;
  IF hi IS NULL THEN RETURN 0; END IF;
  IF created < p_at THEN RETURN hi + 1; END IF;
  SELECT t.id INTO lo FROM {{schema}}.tasks t ORDER BY t.id LIMIT 1;
  -- the first task at or after `mid` was created at or after p_at: true at hi, and
  -- once true for a mid, true for every larger one; find the smallest such mid
  WHILE lo < hi LOOP
    mid := lo + (hi - lo) / 2;
    SELECT t.created_at INTO created FROM {{schema}}.tasks t WHERE t.id >= mid ORDER BY t.id LIMIT 1;
    IF created >= p_at THEN hi := mid; ELSE lo := mid + 1; END IF;
  END LOOP;
  RETURN lo;
END $$;

-- Tasks stored before this migration were stamped now() alone: after a clock stepped
-- back, one can be older than a task with a smaller id. Such a task is given the newest
-- created_at before it (what the enqueue now stamps), so the order holds for every row
-- and no task falls outside its window's id range.
DO $$
BEGIN
  IF version() LIKE '%PGlite%' THEN
    UPDATE {{schema}}.tasks t SET created_at = m.newest_before
    FROM (
      SELECT id, created_at, max(created_at) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS newest_before
      FROM {{schema}}.tasks
    ) m
    WHERE t.id = m.id AND m.created_at < m.newest_before;
    DROP INDEX {{schema}}.tasks_created;
  END IF;
END $$;
