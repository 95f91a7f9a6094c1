-- Less WAL per task (issue 14): tasks_created leaves out processing tasks.
--
-- A lease and an ack are not heap-only updates (both change `state`, which the partial
-- indexes read), so each adds an entry for the new row version to every index whose
-- predicate it meets: tasks_created took one at the insert, the lease and the ack,
-- about 65 bytes of WAL each. Processing tasks are few (one per running lease) and
-- tasks_processing holds them all, so a creation-time window reads this index for
-- every other state and tasks_processing for the running ones (task-admin.ts splits a
-- window without a state into those two halves). Measured with
-- scripts/hot-path-cost.ts: 915-968 → 843-902 WAL bytes per task processed (lease and
-- ack), enqueue unchanged (bench/README.md, "Postgres hot path, migration 022").
DROP INDEX {{schema}}.tasks_created;
CREATE INDEX tasks_created ON {{schema}}.tasks (created_at) WHERE state <> 'processing';
