-- Task lists filter by a time window (TaskFilter.since/until). Windows on the finish
-- time are served by tasks_finished (state, finished_at); windows on the creation time
-- (pending tasks, lists without a state) by this index. created_at never changes after
-- the insert, so updates of a task (leases, acks) stay heap-only as before.
CREATE INDEX tasks_created ON {{schema}}.tasks (created_at);
