-- A parent counts once towards each child. Until now a parent that succeeded, was
-- requeued by an operator and succeeded again lowered its blocked children's
-- pending_parents a second time, so a child could start before another parent had
-- succeeded. Each edge now records whether its parent's success was counted
-- (task_deps.counted); settle_children lowers pending_parents only for edges it turns
-- from not counted to counted. Edges whose parent is succeeded now were counted
-- already (at enqueue or by the trigger); enqueue marks such edges from now on.
ALTER TABLE {{schema}}.task_deps ADD COLUMN counted boolean NOT NULL DEFAULT false;
UPDATE {{schema}}.task_deps d SET counted = true
  FROM {{schema}}.tasks p WHERE p.id = d.parent AND p.state = 'succeeded';

-- settle_children of 013, with the success branch counting each edge once. Marking the
-- edges and lowering the count happen in one statement; the child row is locked by the
-- update as before, so two parents finishing together are counted one after the other.
CREATE OR REPLACE FUNCTION {{schema}}.settle_children() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  parent_id bigint;
  outcome text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    parent_id := OLD.id;
    outcome := CASE WHEN OLD.state = 'succeeded' THEN 'kept' ELSE 'deleted' END;
  ELSE
    parent_id := NEW.id;
    outcome := NEW.state;
  END IF;
  IF outcome = 'succeeded' THEN
    WITH newly AS (
      UPDATE {{schema}}.task_deps d SET counted = true
      WHERE d.parent = parent_id AND NOT d.counted
      RETURNING d.child
    )
    UPDATE {{schema}}.tasks c SET
      pending_parents = greatest(c.pending_parents - 1, 0),
      state = CASE WHEN c.pending_parents > 1 THEN 'blocked' WHEN c.run_at > now() THEN 'scheduled' ELSE 'ready' END,
      updated_at = now()
    FROM newly
    WHERE c.id = newly.child AND c.state = 'blocked';
  ELSIF outcome IN ('dead', 'canceled', 'deleted') THEN
    UPDATE {{schema}}.tasks c SET
      state = CASE WHEN c.on_parent_failure = 'dead' THEN 'dead' ELSE 'canceled' END,
      last_error = format('parent task %s was %s', parent_id, outcome),
      errors = CASE WHEN c.on_parent_failure = 'dead'
        THEN jsonb_build_array(jsonb_build_object('attempt', c.attempts, 'message', format('parent task %s was %s', parent_id, outcome), 'at', {{schema}}.ms(now())))
          || coalesce(c.errors, '[]'::jsonb)
        ELSE c.errors END,
      finished_at = now(), updated_at = now()
    FROM {{schema}}.task_deps d
    WHERE d.parent = parent_id AND c.id = d.child AND c.state = 'blocked';
  END IF;
  IF TG_OP = 'DELETE' THEN
    DELETE FROM {{schema}}.task_deps WHERE parent = parent_id;
  END IF;
  RETURN NULL;
END $$;
