-- Task dependencies: a task enqueued with dependsOn is 'blocked' until every parent
-- succeeded. Each child row keeps its parents (depends_on), its policy for a parent
-- that dies, and how many parents it still waits for; task_deps lists the children
-- of each parent. A parent row only gets has_children = true when a child names it,
-- so the triggers below cost the hot path (ack, fail, recovery) nothing for tasks
-- without children: their WHEN clause is false and no trigger function runs.
ALTER TABLE {{schema}}.tasks DROP CONSTRAINT IF EXISTS tasks_state_check;
ALTER TABLE {{schema}}.tasks ADD CONSTRAINT tasks_state_check
  CHECK (state IN ('scheduled', 'ready', 'processing', 'succeeded', 'retrying', 'dead', 'canceled', 'blocked'));

ALTER TABLE {{schema}}.tasks
  ADD COLUMN depends_on bigint[],
  ADD COLUMN on_parent_failure text CHECK (on_parent_failure IN ('cancel', 'dead')),
  ADD COLUMN pending_parents integer NOT NULL DEFAULT 0,
  ADD COLUMN has_children boolean NOT NULL DEFAULT false;

CREATE TABLE {{schema}}.task_deps (
  parent bigint NOT NULL,
  child bigint NOT NULL,
  PRIMARY KEY (parent, child)
);

-- A parent reached succeeded, dead or canceled, or was deleted before it succeeded.
-- Success: each blocked child waits for one parent less, and becomes ready (or
-- scheduled, by its run_at) when none is left. The decrement locks the child row, so
-- two parents finishing together are counted one after the other. Death: blocked
-- children are canceled or dead-lettered by their policy; that state change fires
-- this trigger again on those that have children, so it goes down the graph.
CREATE FUNCTION {{schema}}.settle_children() RETURNS trigger
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
    UPDATE {{schema}}.tasks c SET
      pending_parents = greatest(c.pending_parents - 1, 0),
      state = CASE WHEN c.pending_parents > 1 THEN 'blocked' WHEN c.run_at > now() THEN 'scheduled' ELSE 'ready' END,
      updated_at = now()
    FROM {{schema}}.task_deps d
    WHERE d.parent = parent_id AND c.id = d.child AND c.state = 'blocked';
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

CREATE TRIGGER tasks_settle_children AFTER UPDATE OF state ON {{schema}}.tasks
  FOR EACH ROW WHEN (NEW.has_children AND NEW.state IN ('succeeded', 'dead', 'canceled') AND OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION {{schema}}.settle_children();
CREATE TRIGGER tasks_settle_children_deleted AFTER DELETE ON {{schema}}.tasks
  FOR EACH ROW WHEN (OLD.has_children)
  EXECUTE FUNCTION {{schema}}.settle_children();
