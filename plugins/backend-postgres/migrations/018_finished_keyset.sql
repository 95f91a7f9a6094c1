-- Finished lists (the DLQ, succeeded, canceled) order by finished_at DESC, id DESC and
-- page by keyset: the page after a position is the range (finished_at, id) < (its
-- time, its id). With the id in the index that range is one backward index scan that
-- stops after a page, at any depth; on (state, finished_at) alone the planner reads
-- every older row of the state and sorts them. The new index serves everything the
-- old one did (windows on the finish time, pruning oldest first, DLQ stats), so it
-- replaces it and a finish still updates one index.
CREATE INDEX tasks_finished_order ON {{schema}}.tasks (state, finished_at, id) WHERE finished_at IS NOT NULL;
DROP INDEX {{schema}}.tasks_finished;
