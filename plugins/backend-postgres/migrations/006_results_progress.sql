-- A handler's return value (stored when it succeeds) and its latest progress report.
-- Both nullable and without a default, so adding them rewrites no row; neither is in
-- an index, so a progress write stays a HOT update like a lease extension.
ALTER TABLE {{schema}}.tasks ADD COLUMN result jsonb, ADD COLUMN progress jsonb;
