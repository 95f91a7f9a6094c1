-- Acks that read only the acked rows (the performance issue, lease + ack cost per task).
--
-- An ack joins the acked (id, token) pairs, from unnest(), to tasks `WHERE t.id = u.id AND
-- t.lease_token = u.token AND t.state = 'processing'`. The statistics of `state` are taken
-- while few tasks run (autovacuum analyzes a queue with a backlog), so the planner expects
-- almost no running task, and `state = 'processing'` lets it read tasks_processing (the
-- partial index of that state) whole and join each running task to the unnest() rows:
-- every ack call read every task in flight, in every connection. Measured on one
-- connection acking and leasing 50 at a time while other tasks were held running: 53-56
-- µs of backend CPU per task with none held, 85-111 µs with 150, 230-238 µs with 1,000
-- (bench/README.md, "acks that read only the acked rows").
--
-- The state is now compared with `(SELECT 'processing')`, the same value as an InitPlan
-- the planner cannot look into, so no partial index of the state is implied and the one
-- way to the rows is the primary key, one probe per acked id. The test is the same; so is
-- its re-check on a row that a concurrent statement updated (EvalPlanQual re-evaluates the
-- condition against the new version, the InitPlan's value as before). Tried first and
-- dropped: keeping the condition and adding `t.id = ANY(p_ids)`, which on the bench's acks
-- of 150-340 ids was planned as a rescan of that array for each acked row and doubled the
-- server's CPU per task. The acks' other statements (work.ts: complete, fail, extend,
-- progress, release) say it the same way.
CREATE OR REPLACE FUNCTION {{schema}}.complete_and_lease(p_ids bigint[], p_tokens bigint[], p_results text[],
  p_queues text[], p_limit integer, p_worker text, p_ms float8, p_handlers text[], p_async boolean)
RETURNS TABLE (ord bigint, id text, queue text, handler text, payload jsonb, attempts integer, max_attempts integer,
  priority integer, timeout_ms integer, created_at float8, run_at float8, lease_token text, lease_expires_at float8)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
  limited boolean;
  paused boolean;
  lims {{schema}}.flow_limits[];
BEGIN
  IF p_async THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  SELECT s.flow_limited, s.global_paused INTO limited, paused FROM {{schema}}.settings s WHERE s.id = 1;
  IF limited AND NOT paused
    -- a cordoned worker leases nothing (worker-ops.ts): it neither waits for nor locks limit rows
    AND NOT EXISTS (SELECT 1 FROM {{schema}}.workers w WHERE w.id = p_worker AND w.cordoned) THEN
    lims := {{schema}}.flow_lock(p_queues, p_handlers);
  END IF;
  -- a success clears last_error (the error history stays); the result is JSON text, NULL for none
  RETURN QUERY
  UPDATE {{schema}}.tasks t SET state = 'succeeded', finished_at = now(), updated_at = now(), lease_token = NULL, lease_expires_at = NULL,
    last_error = NULL, result = u.result::jsonb
  FROM unnest(p_ids, p_tokens, p_results) AS u(id, token, result)
  -- the state as a value the planner does not see (above): each acked row by the primary key
  WHERE t.id = u.id AND t.lease_token = u.token AND t.state = (SELECT 'processing')
  RETURNING NULL::bigint, t.id::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
    NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8;
  IF lims IS NOT NULL THEN
    RETURN QUERY SELECT * FROM {{schema}}.flow_lease(lims, p_queues, p_limit, p_worker, p_ms, p_handlers, p_async);
    RETURN;
  END IF;
  IF limited THEN RETURN; END IF;
  RETURN QUERY SELECT * FROM {{schema}}.lease_plain(p_queues, p_limit, p_worker, p_ms, p_handlers, p_async, false);
  IF FOUND OR NOT (SELECT s.flow_limited FROM {{schema}}.settings s WHERE s.id = 1) THEN RETURN; END IF;
  RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
    NULL::integer, NULL::integer, NULL::float8, NULL::float8, NULL::text, NULL::float8;
END $$;
