-- An operator's cordon of a worker, kept on its registry entry: heartbeats leave it
-- alone (they update the other columns) and answer it, so the worker learns it on its
-- next beat wherever it runs.
ALTER TABLE {{schema}}.workers ADD COLUMN cordoned boolean NOT NULL DEFAULT false;
