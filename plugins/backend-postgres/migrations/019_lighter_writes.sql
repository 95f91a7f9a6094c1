-- Less WAL per task on the hot path (measured with pg_waldump, bench/README.md
-- "Postgres hot path 2026-12-06").
--
-- Leaving half of each heap page free at insert: every lease and every ack changes
-- `state`, which the partial indexes read, so neither can be a HOT update; but when
-- the new row version fits on the same page the update needs no second page. With
-- pages filled to 90 % almost every update moved the row to another page, and each
-- such move first logs a row lock on the old version (one more WAL record and a
-- second dirty page per lease and per ack). At 50 % the lease's version stays on the
-- page and page pruning makes room for the ack's. Applies to pages filled from now
-- on; a table of finished tasks takes about twice the pages it took.
ALTER TABLE {{schema}}.tasks SET (fillfactor = 50);

-- Event pages are compressed with lz4 where the server has it: a page of 500 task
-- events is 40 KB of repetitive JSON that was stored (and logged) uncompressed in
-- about 20 TOAST chunks; lz4 shrinks it about 15 times for little CPU. A server built
-- without lz4 (PGlite is one) keeps the pages as they were.
DO $$
BEGIN
  ALTER TABLE {{schema}}.event_pages ALTER COLUMN events SET COMPRESSION lz4;
  ALTER TABLE {{schema}}.event_pages ALTER COLUMN events SET STORAGE EXTENDED;
EXCEPTION WHEN feature_not_supported THEN
  NULL;
END $$;
