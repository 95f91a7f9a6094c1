-- The event log as pages: one row per append holding that append's events, in id
-- order, instead of one row per event. Appending a batch of task events writes one
-- row (and trimming deletes whole pages), where it used to insert and later delete
-- a row and an index entry per event. Ids still come from event_counter.
-- Pages tile the id space in order, so last_id alone finds the pages after a
-- reader's cursor and the pages to trim.
CREATE TABLE {{schema}}.event_pages (
  last_id bigint PRIMARY KEY,
  first_id bigint NOT NULL,
  time timestamptz NOT NULL DEFAULT now(),
  -- [[type, data], ...] for ids first_id..last_id; json keeps the text as appended
  events json NOT NULL
);
-- pages are written once and read rarely: skip compressing them on every append
ALTER TABLE {{schema}}.event_pages ALTER COLUMN events SET STORAGE EXTERNAL;

INSERT INTO {{schema}}.event_pages (first_id, last_id, time, events)
SELECT id, id, time, json_build_array(json_build_array(type, data)) FROM {{schema}}.events;

DROP TABLE {{schema}}.events;
