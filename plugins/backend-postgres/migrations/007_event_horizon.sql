-- Event positions come from a sequence instead of the event_counter row. The row was
-- locked by every append until its commit, which serialised appenders: cheap for
-- batched appends, but an enqueue that appends its `task.enqueued` events in its own
-- statement (so no worker can log the task's start first) would have held it for the
-- whole enqueue. A sequence hands out values without a lock held to commit, so they
-- no longer arrive in commit order; readers order pages by the id of the transaction
-- that wrote them instead (xid, then pos) and read only pages below their snapshot's
-- xmin, the oldest transaction still running: no page can appear there any more, and
-- a transaction that starts after another committed has a larger xid. Event ids are
-- "<xid>-<pos>-<index in page>".
-- pos: the largest of the positions the page's events took, one per event, so that
-- positions count appended events and trimming keeps about maxEvents of them.
ALTER TABLE {{schema}}.event_pages RENAME COLUMN last_id TO pos;
ALTER TABLE {{schema}}.event_pages DROP COLUMN first_id;
-- pages written before this migration sort first, in their old order
ALTER TABLE {{schema}}.event_pages ADD COLUMN xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE {{schema}}.event_pages ALTER COLUMN xid DROP DEFAULT;
CREATE UNIQUE INDEX event_pages_read_order ON {{schema}}.event_pages (xid, pos);

CREATE SEQUENCE {{schema}}.event_positions;
SELECT setval('{{schema}}.event_positions', (SELECT last_id + 1 FROM {{schema}}.event_counter WHERE id = 1), false);
DROP TABLE {{schema}}.event_counter;
