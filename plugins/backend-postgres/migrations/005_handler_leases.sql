-- A worker leases only tasks whose handler it runs (LeaseRequest.handlers). The lease
-- reads one index range per (queue, handler) it asks for, so tasks of handlers it does
-- not run are never visited, however many of them wait ahead in the queue: a lease
-- costs O(queues x handlers x log n), not O(tasks skipped). The same index answers
-- pendingHandlers with a skip scan (one descent per distinct handler of a queue).
-- tasks_lease stays for leases without a handler set and for pending-task listings in
-- run order; a pending task has one entry in each (one more index insert per enqueue).
CREATE INDEX tasks_lease_handler ON {{schema}}.tasks (queue, handler, priority DESC, run_at, id)
  WHERE state IN ('ready', 'scheduled', 'retrying');

-- the handler names each worker runs, for the admin's "no live worker runs X" reports
ALTER TABLE {{schema}}.workers ADD COLUMN handlers text[] NOT NULL DEFAULT '{}';
