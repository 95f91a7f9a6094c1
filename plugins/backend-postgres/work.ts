import { Errors, isNoResult, payloadJson, type AckOutcome, type Backend, type CompleteRequest, type EnqueueEvents, type EnqueueResult, type FailOutcome, type FailRequest, type LeasedTask, type LeaseRef, type LeaseRequest, type NewTask, type ProgressRequest, type RecoveredLeases } from '@switchyard/core'
import { parseId, type BackendContext } from './context.ts'
import { CASCADE_COLUMNS, enqueueWithDependencies, reportCascade, type CascadeColumns } from './dependencies.ts'
import { enqueueEventCtes } from './event-store.ts'
import type { SqlParam, SqlQueryable } from './sql-client.ts'
import { replaceCollided } from './task-keys.ts'

// The hot path: enqueue, lease and the batched acks. Each call is one statement
// for the whole batch (enqueue adds one lookup only when idempotency keys collide);
// per-queue counters and worker wake-ups ride along in statement-level triggers.

type WorkMethods = Pick<Backend, 'enqueue' | 'leaseTasks' | 'completeTasks' | 'failTasks' | 'extendLeases' | 'releaseTasks' | 'recoverExpiredLeases' | 'setTaskProgress'> &
  Required<Pick<Backend, 'completeAndLease' | 'leaseWithinRateLimit'>>

interface LeasedRow {
  id: string
  queue: string
  handler: string
  payload: unknown
  attempts: number
  max_attempts: number
  priority: number
  timeout_ms: number
  created_at: number
  run_at: number
  lease_token: string
  lease_expires_at: number
}

/** a lease ref whose id and token can name a row; anything else is lease_lost without a query */
function parseRef (ref: LeaseRef): { id: string, token: string } | null {
  const id = parseId(ref?.id)
  const token = parseId(ref?.leaseToken)
  return id === null || token === null ? null : { id, token }
}

/**
 * A leased row as packed for PGlite: [id, queue, handler, payload, attempts,
 * max_attempts, priority, timeout_ms, created_at, run_at, lease_token, lease_expires_at].
 */
type PackedLease = [string, string, string, unknown, number, number, number, number, number, number, string, number]
/** a packed row: a lease, an ack's id, or null (the marker that limits appeared; see completeAndLeaseSql) */
type PackedRow = PackedLease | string | null

function packedLease (a: PackedLease): LeasedTask {
  return {
    id: a[0],
    queue: a[1],
    handler: a[2],
    payload: a[3],
    attempts: a[4],
    maxAttempts: a[5],
    priority: a[6],
    timeoutMs: a[7],
    createdAt: a[8],
    runAt: a[9],
    leaseToken: a[10],
    leaseExpiresAt: a[11]
  }
}

/** a task the enqueue statement leased to an idle worker (push): what a lease of it answers */
function pushedTask (task: NewTask, id: string, token: string, createdAt: number, runAt: number, leaseExpiresAt: number, payload: string): LeasedTask {
  return {
    id,
    queue: task.queue,
    handler: task.handler,
    // the payload as sent: the value a lease reads back from the stored jsonb (whose object keys may come back reordered)
    payload: JSON.parse(payload) as unknown,
    attempts: 1,
    maxAttempts: task.maxAttempts,
    priority: task.priority,
    timeoutMs: task.timeoutMs,
    createdAt,
    runAt,
    leaseToken: token,
    leaseExpiresAt
  }
}

function leasedTask (r: LeasedRow): LeasedTask {
  return {
    id: r.id,
    queue: r.queue,
    handler: r.handler,
    payload: r.payload,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    priority: r.priority,
    timeoutMs: r.timeout_ms,
    createdAt: r.created_at,
    runAt: r.run_at,
    leaseToken: r.lease_token,
    leaseExpiresAt: r.lease_expires_at
  }
}

// The state of a leased task, as the statements that act on leases by (id, token) test
// it: a value the planner cannot see (an InitPlan), so it never reads tasks_processing
// whole for them. Planned from statistics that see almost no running task, the plain
// `t.state = 'processing'` read every task in flight on every call; this way each named
// row is one primary-key probe (migration 027).
const LEASED = "(SELECT 'processing')"

// Lease, ack, extend and release commit without waiting for their WAL flush. A
// Postgres crash can lose the last few hundred ms of them, which only means a task
// runs again (a lost ack) or its lease reverts (a lost lease, so that attempt is
// not counted): at-least-once allows both. WAL is written in order, so any later
// durable commit (an enqueue, a failure, an admin action) makes them durable too.
// set_config(..., true) lasts for this statement's own implicit transaction; it is
// joined in as a one-row relation so the planner cannot drop it. Option asyncCommit.
function commitMode (asyncCommit: boolean): string {
  return asyncCommit ? `(SELECT set_config('synchronous_commit', 'off', true)) AS async_commit` : '(SELECT 1) AS async_commit'
}

/** the enqueue statement's per-task columns, in parameter order; PAYLOAD_COLUMN is always an array */
const ENQUEUE_COLUMNS = [['queue', 'text'], ['handler', 'text'], ['payload', 'text'], ['max_attempts', 'int'], ['priority', 'int'],
  ['timeout_ms', 'int'], ['run_at_ms', 'float8'], ['delay_ms', 'float8'], ['idempotency_key', 'text'], ['payload_size', 'int'],
  ['tenant', 'text'], ['correlation_id', 'text']] as const
const PAYLOAD_COLUMN = 2

/** n created tasks whose ids are the range from first (a decimal bigint) on, in batch order */
function rangeResults (first: string, n: number): EnqueueResult[] {
  const results: EnqueueResult[] = new Array(n)
  const start = Number(first)
  if (Number.isSafeInteger(start + n)) {
    for (let i = 0; i < n; i++) results[i] = { id: String(start + i), created: true }
  } else {
    const big = BigInt(first)
    for (let i = 0; i < n; i++) results[i] = { id: String(big + BigInt(i)), created: true }
  }
  return results
}

export function errorEntry (s: string, attempt: string, message: string, stack: string): string {
  // newest first, keep 10; stack is dropped when null
  return `jsonb_path_query_array(
    jsonb_build_array(jsonb_strip_nulls(jsonb_build_object('attempt', ${attempt}, 'message', ${message}, 'at', ${s}.ms(now()), 'stack', ${stack})))
      || coalesce(t.errors, '[]'::jsonb),
    '$[0 to 9]')`
}

export function workMethods (ctx: BackendContext): WorkMethods {
  const { s } = ctx
  const commitClause = commitMode(ctx.asyncCommit)

  // With events ($11 the data of each task's event, $12 its type), the created tasks'
  // events are appended as one page by the same statement: committed with the tasks,
  // so a worker can only lease a task whose `task.enqueued` is already in the log.
  // Only a batch with an idempotency key inserts with ON CONFLICT: that insert is
  // speculative (each row is logged and then confirmed, one more WAL record per task)
  // and a batch without keys cannot conflict. A server's statement; PGlite's is
  // pgliteEnqueueSql, below. The answer is one text, each task's id in input order,
  // prefixed with '-' when it was not created (its key collided): 1,000 answer rows cost
  // the client about 0.5 µs per task of row parsing, for no more server CPU
  // (bench/README.md, "Postgres at 20k tasks").
  const enqueueSqlFor = (events: boolean, keyed: boolean): string => `
    WITH input AS MATERIALIZED (
      SELECT nextval('${s}.task_ids') AS id, i.*,
        CASE WHEN i.run_at_ms IS NULL THEN now() + i.delay_ms * interval '1 millisecond'
             ELSE 'epoch'::timestamptz + i.run_at_ms * interval '1 millisecond' END AS run_at
      FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int[], $7::float8[], $8::float8[], $9::text[], $10::int[],
          ${events ? '$15' : '$11'}::text[], ${events ? '$16' : '$12'}::text[])
        WITH ORDINALITY AS i(queue, handler, payload, max_attempts, priority, timeout_ms, run_at_ms, delay_ms, idempotency_key, payload_size, tenant, correlation_id, ord)
    ), inserted AS (
      INSERT INTO ${s}.tasks (id, queue, handler, payload, max_attempts, priority, timeout_ms, run_at, idempotency_key, payload_size, tenant, correlation_id, state)
      SELECT id, queue, handler, payload::jsonb, max_attempts, priority, timeout_ms, run_at, idempotency_key, payload_size, tenant, correlation_id,
        CASE WHEN run_at > now() THEN 'scheduled' ELSE 'ready' END
      FROM input ORDER BY ord${keyed ? `
      ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING` : ''}
      RETURNING id
    )${events
      ? `, created AS (
      SELECT input.id, input.ord, ($11::text[])[input.ord::int] AS data FROM inserted JOIN input ON input.id = inserted.id
    ), ${enqueueEventCtes(s, '$12', '$13', '$14')}`
      : ''}
    SELECT string_agg(CASE WHEN inserted.id IS NULL THEN '-' || input.id::text ELSE input.id::text END, ',' ORDER BY input.ord) AS packed${events ? ', (SELECT n FROM events_woken) AS woken' : ''}
    FROM input LEFT JOIN inserted ON inserted.id = input.id`
  const enqueueSql = { keyed: enqueueSqlFor(false, true), unkeyed: enqueueSqlFor(false, false) }
  const enqueueWithEventsSql = { keyed: enqueueSqlFor(true, true), unkeyed: enqueueSqlFor(true, false) }

  // The enqueue on PGlite: the same rows, counters, events and push leases as
  // enqueueSqlFor's, in less of PGlite's CPU (bench/README.md, "PGlite enqueue: uniform
  // columns as scalars, ids as one range": a 1,000-task statement 28.4 → 19.4 ms):
  // - a column whose value is the same for every task of the batch (queue, handler,
  //   attempts, priority, timeout, run time, no key, no tenant: most batches) is one
  //   scalar parameter instead of an array of n equal values, which PGlite encoded,
  //   parsed and unnested value by value; the payload is always an array. Each
  //   combination of scalar columns (`uniform`, a bit per column of ENQUEUE_COLUMNS) is
  //   a statement text of its own, built once and kept, so PGlite prepares it once
  //   (pglite-prepared.ts);
  // - the ids are one range taken from task_ids by one nextval and one setval (PGlite
  //   runs one statement at a time, so no other session takes a value inside it; event
  //   positions are taken alike, event-store.ts): the task at ord has first + ord - 1;
  // - a batch without idempotency keys cannot collide, so every task is created: the
  //   answer is '=' and the range's first id, and the insert returns nothing, is not
  //   sorted and is not joined back to the input. A keyed or pushing batch answers one
  //   text of its tasks in batch order, ','-joined: the id, '-' and the id when its key
  //   collided, or for a task pushed (pglite-push.ts: inserted leased to an idle worker
  //   when it is ready at once, its queue is not paused, nothing is paused globally, no
  //   flow or rate limit is stored and the worker is not cordoned) '+' then the id,
  //   lease token, created_at, run_at and lease_expires_at ('/'-joined);
  // - with events, each task's event data is one more unnested column (a subscript of
  //   a text array reads the array from its start, once per task).
  const pgliteEnqueueTexts = new Map<string, string>()
  const pgliteEnqueueSql = (events: boolean, keyed: boolean, push: boolean, uniform: number): string => {
    const cacheKey = `${events ? 'e' : ''}${keyed ? 'k' : ''}${push ? 'p' : ''}${uniform}`
    const cached = pgliteEnqueueTexts.get(cacheKey)
    if (cached !== undefined) return cached
    // the parameters keep enqueueSqlFor's numbering: a scalar column takes its array's place
    const param = (j: number): string => `$${j < 10 || !events ? j + 1 : j + 5}`
    const arrays: string[] = []
    const names: string[] = []
    const column = new Map<string, string>()
    for (const [j, [name, type]] of ENQUEUE_COLUMNS.entries()) {
      if ((uniform & (1 << j)) !== 0) {
        column.set(name, `${param(j)}::${type}`)
      } else {
        arrays.push(`${param(j)}::${type}[]`)
        names.push(name)
        column.set(name, `i.${name}`)
      }
    }
    const col = (name: string): string => column.get(name) as string
    if (events) { arrays.push('$11::text[]'); names.push('event_data') }
    const pushWorker = events ? '$17' : '$13'
    const pushLeaseMs = events ? '$18' : '$14'
    if (push) { arrays.push(`${pushWorker}::text[]`, `${pushLeaseMs}::float8[]`); names.push('push_worker', 'push_lease_ms') }
    const leased = (value: string, otherwise: string): string => push ? `CASE WHEN input.pushed THEN ${value} ELSE ${otherwise} END` : otherwise
    const count = 'cardinality($3::text[])'
    const answerPerTask = keyed || push
    const text = `
    WITH ids AS MATERIALIZED (
      SELECT setval('${s}.task_ids', nextval('${s}.task_ids') + ${count} - 1) - ${count} + 1 AS first,
        -- never before the newest task's (a clock stepped back): created_at does not
        -- decrease with the id, so creation-time windows are id ranges (migration 029)
        greatest(now(), (SELECT t.created_at FROM ${s}.tasks t ORDER BY t.id DESC LIMIT 1)) AS created_at
    ), input AS (
      SELECT (SELECT first FROM ids) + i.ord - 1 AS id, i.ord,
        ${ENQUEUE_COLUMNS.map(([name]) => `${col(name)} AS ${name}`).join(', ')},${events ? ' i.event_data,' : ''}${push ? ' i.push_worker, i.push_lease_ms,' : ''}
        CASE WHEN ${col('run_at_ms')} IS NULL THEN now() + ${col('delay_ms')} * interval '1 millisecond'
             ELSE 'epoch'::timestamptz + ${col('run_at_ms')} * interval '1 millisecond' END AS run_at
      FROM unnest(${arrays.join(', ')}) WITH ORDINALITY AS i(${names.join(', ')}, ord)
    )${push
      ? `, push_open AS MATERIALIZED (
      -- read once per statement, not per task: keeps the plan small enough for Postgres to keep one
      SELECT NOT s.global_paused AND NOT s.flow_limited AND s.rate_limit IS NULL AS open,
        (SELECT coalesce(array_agg(q.name), '{}') FROM ${s}.queues q WHERE q.paused) AS paused,
        (SELECT coalesce(array_agg(w.id), '{}') FROM ${s}.workers w WHERE w.cordoned AND w.id = ANY(${pushWorker}::text[])) AS cordoned
      FROM ${s}.settings s WHERE s.id = 1
    ), pushing AS MATERIALIZED (
      SELECT input.*, coalesce(input.push_worker IS NOT NULL AND input.run_at <= now() AND o.open
          AND NOT input.queue = ANY(o.paused) AND NOT input.push_worker = ANY(o.cordoned), false) AS pushed
      FROM input LEFT JOIN push_open o ON true
    )`
      : ''}, inserted AS (
      INSERT INTO ${s}.tasks (id, queue, handler, payload, max_attempts, priority, timeout_ms, run_at, idempotency_key, payload_size, tenant, correlation_id, created_at, state${push ? `,
        attempts, lease_token, lease_expires_at, worker_id, started_at` : ''})
      SELECT id, queue, handler, payload::jsonb, max_attempts, priority, timeout_ms, run_at, idempotency_key, payload_size, tenant, correlation_id,
        (SELECT created_at FROM ids), ${leased(`'processing'`, `CASE WHEN run_at > now() THEN 'scheduled' ELSE 'ready' END`)}${push ? `,
        ${leased('1', '0')}, ${leased(`nextval('${s}.lease_tokens')`, 'NULL')},
        ${leased(`now() + input.push_lease_ms * interval '1 millisecond'`, 'NULL')}, ${leased('input.push_worker', 'NULL')}, ${leased('now()', 'NULL')}` : ''}
      FROM ${push ? 'pushing AS input' : 'input'}${keyed ? `
      -- the first of a key repeated in the batch is the one created
      ORDER BY ord
      ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING` : ''}${answerPerTask ? `
      RETURNING id${push ? `, lease_token, ${s}.ms(created_at) AS created_ms, ${s}.ms(run_at) AS run_ms, ${s}.ms(lease_expires_at) AS expires_ms` : ''}` : ''}
    )${events
      ? `, created AS (
      SELECT input.id, input.ord, input.event_data AS data FROM input${keyed ? ' JOIN inserted ON input.id = inserted.id' : ''}
    ), ${enqueueEventCtes(s, '$12', '$13', '$14')}`
      : ''}
    ${answerPerTask
      ? `SELECT string_agg(CASE WHEN inserted.id IS NULL THEN '-' || input.id::text${push
        ? `
        WHEN inserted.lease_token IS NOT NULL THEN concat_ws('/', '+' || input.id::text, inserted.lease_token, inserted.created_ms, inserted.run_ms, inserted.expires_ms)`
        : ''} ELSE input.id::text END, ',' ORDER BY input.ord) AS packed${events ? ', (SELECT n FROM events_woken) AS woken' : ''}
    FROM input LEFT JOIN inserted ON inserted.id = input.id`
      : `SELECT '=' || ids.first::text AS packed${events ? ', (SELECT n FROM events_woken) AS woken' : ''} FROM ids`}`
    pgliteEnqueueTexts.set(cacheKey, text)
    return text
  }

  // A new statement (new snapshot) sees the row a concurrent enqueue committed
  // while ON CONFLICT waited for it.
  const keyLookupSql = `SELECT idempotency_key AS key, id::text AS id FROM ${s}.tasks WHERE idempotency_key = ANY($1::text[])`

  // Leases go through lease_tasks() and complete_and_lease() (migration 015): their
  // statements keep one plan per connection instead of being planned on every call.
  // Each (queue, handler) pair is its own range of tasks_lease_handler, so tasks of
  // other handlers are never read, however many wait ahead; the ranges of one queue are
  // merged back into run order. Without a handler set the pairs are every handler with
  // pending tasks in the queue, found by a skip scan of the same index (migration 024).
  // One handler (the common case) reads exactly what the plain lease reads; with
  // several, each locks up to `limit` rows of its own for the length of the statement,
  // and only the first `limit` of the merge are leased.
  // While flow limits exist, both lease through lease_flow() (flow.ts).
  const leasedColumns = `ord, id, queue, handler, payload, attempts, max_attempts, priority, timeout_ms, created_at, run_at,
      lease_token, lease_expires_at`
  const leaseSql = `SELECT ${leasedColumns}
    FROM ${s}.lease_tasks($1::text[], $2::int, $3::text, $4::float8, $5::text[], $6::boolean) ORDER BY ord`

  // A success clears last_error (the error history stays): a task that failed once and
  // then succeeded shows no stale error. The result is JSON text, NULL for none.
  const succeeded = `state = 'succeeded', finished_at = now(), updated_at = now(), lease_token = NULL, lease_expires_at = NULL,
      last_error = NULL, result = u.result::jsonb`
  const completeSql = `
    UPDATE ${s}.tasks t SET ${succeeded}
    FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS u(id, token, result), ${commitClause}
    WHERE t.id = u.id AND t.lease_token = u.token AND t.state = ${LEASED}
    RETURNING t.id::text AS id`

  // The lease within the global rate limit (migration 025): the permits are taken on the
  // limiter row in the same statement, counted in the window of the start time it stamps.
  // A row with id NULL after the leased ones: the permits ran out before the queues did.
  const leaseRatedSql = `SELECT ${leasedColumns}
    FROM ${s}.lease_rated($1::text[], $2::int, $3::text, $4::float8, $5::text[], $6::boolean) ORDER BY ord NULLS LAST`

  // Acks and the next lease in one call: the acks first (ord NULL, no handler), under
  // flow limits too (migration 020). Only when a limit appeared between its read of the
  // flag and its lease does it answer a row with id NULL after the acks; the lease then
  // follows through lease_tasks(), after the acks committed.
  const completeAndLeaseSql = `SELECT ${leasedColumns}
    FROM ${s}.complete_and_lease($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::int, $6::text, $7::float8, $8::text[], $9::boolean)
    ORDER BY ord NULLS FIRST`

  // On PGlite the same rows come back packed in one JSON text (PackedRow: a lease as an
  // array, an ack as its id, the marker as null), in the same order. There the database
  // and the client share the process, and PGlite's result parsing costs more per field
  // (a buffer copy and a decode each, an object per row) than building the text inside:
  // a 50-row lease answer cost about 1,270 µs of CPU as rows and 606 µs packed, 50 ack
  // rows about 350 µs more than one (bench/README.md, "one UPDATE for acks and lease").
  // A Postgres server keeps the rows: packing would move that work onto the server.
  const packed = `json_agg(CASE WHEN handler IS NULL THEN to_json(id) ELSE json_build_array(id, queue, handler, payload, attempts, max_attempts,
      priority, timeout_ms, created_at, run_at, lease_token, lease_expires_at) END ORDER BY ord NULLS FIRST)::text AS packed`
  // and the acks and the lease as one UPDATE there (migration 026: PGlite-only, as a
  // server could drop an ack whose row another connection updated meanwhile)
  const completeAndLeasePackedSql = `SELECT ${packed}
    FROM ${s}.complete_and_lease_one_update($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::int, $6::text, $7::float8, $8::text[], $9::boolean)`
  const leasePackedSql = `SELECT ${packed}
    FROM ${s}.lease_tasks($1::text[], $2::int, $3::text, $4::float8, $5::text[], $6::boolean)`

  const failSql = `
    UPDATE ${s}.tasks t SET
      state = CASE WHEN u.delay_ms IS NULL THEN 'dead' ELSE 'retrying' END,
      run_at = CASE WHEN u.delay_ms IS NULL THEN t.run_at ELSE now() + u.delay_ms * interval '1 millisecond' END,
      finished_at = CASE WHEN u.delay_ms IS NULL THEN now() END,
      last_error = u.message,
      errors = ${errorEntry(s, 't.attempts', 'u.message', 'u.stack')},
      lease_token = NULL, lease_expires_at = NULL, updated_at = now()
    FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::float8[]) AS u(id, token, message, stack, delay_ms)
    WHERE t.id = u.id AND t.lease_token = u.token AND t.state = ${LEASED}
    RETURNING t.id::text AS id, t.state, ${CASCADE_COLUMNS}`

  // lease_expires_at is in no index, so this stays a HOT update
  const extendSql = `
    UPDATE ${s}.tasks t SET lease_expires_at = now() + $3 * interval '1 millisecond'
    FROM unnest($1::bigint[], $2::bigint[]) AS u(id, token), ${commitClause}
    WHERE t.id = u.id AND t.lease_token = u.token AND t.state = ${LEASED}
    RETURNING t.id::text AS id, ${s}.ms(t.lease_expires_at) AS lease_expires_at`

  // progress is in no index either: a HOT update
  const progressSql = `
    UPDATE ${s}.tasks t SET progress = u.progress::jsonb
    FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS u(id, token, progress), ${commitClause}
    WHERE t.id = u.id AND t.lease_token = u.token AND t.state = ${LEASED}
    RETURNING t.id::text AS id`

  const releaseSql = `
    UPDATE ${s}.tasks t SET state = 'ready', attempts = greatest(t.attempts - 1, 0), lease_token = NULL, lease_expires_at = NULL,
      worker_id = NULL, updated_at = now()
    FROM unnest($1::bigint[], $2::bigint[]) AS u(id, token), ${commitClause}
    WHERE t.id = u.id AND t.lease_token = u.token AND t.state = ${LEASED}
    RETURNING t.id::text AS id`

  const recoverSql = `
    WITH expired AS MATERIALIZED (
      SELECT id FROM ${s}.tasks WHERE state = 'processing' AND lease_expires_at <= now()
      ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
    )
    UPDATE ${s}.tasks t SET
      state = CASE WHEN t.attempts >= t.max_attempts THEN 'dead' ELSE 'ready' END,
      finished_at = CASE WHEN t.attempts >= t.max_attempts THEN now() END,
      last_error = CASE WHEN t.attempts >= t.max_attempts THEN 'lease expired on the last attempt (worker lost)' ELSE t.last_error END,
      errors = CASE WHEN t.attempts >= t.max_attempts
        THEN ${errorEntry(s, 't.attempts', `'lease expired on the last attempt (worker lost)'`, 'NULL::text')}
        ELSE t.errors END,
      lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, updated_at = now()
    FROM expired WHERE t.id = expired.id
    RETURNING t.id::text AS id, t.state, ${CASCADE_COLUMNS}`

  // scheduled/retrying tasks whose time has come are counted as ready from here on
  const promoteSql = `
    WITH due AS MATERIALIZED (
      SELECT id FROM ${s}.tasks WHERE state IN ('scheduled', 'retrying') AND run_at <= now()
      ORDER BY run_at LIMIT $1 FOR UPDATE SKIP LOCKED
    )
    UPDATE ${s}.tasks t SET state = 'ready', updated_at = now() FROM due WHERE t.id = due.id`

  async function refBatch<R extends { id: string }> (items: LeaseRef[], run: (ids: string[], tokens: string[]) => Promise<R[]>): Promise<Map<string, R>> {
    const ids: string[] = []
    const tokens: string[] = []
    for (const item of items) {
      const ref = parseRef(item)
      if (ref !== null) { ids.push(ref.id); tokens.push(ref.token) }
    }
    if (ids.length === 0) return new Map()
    const rows = await run(ids, tokens)
    return new Map(rows.map(r => [r.id, r]))
  }

  const ackOutcomes = (items: LeaseRef[], done: Map<string, unknown>): AckOutcome[] => {
    // an id acked twice in one batch succeeds once
    const seen = new Set<string>()
    return items.map(item => {
      const id = parseId(item?.id)
      if (id === null || !done.has(id) || seen.has(id)) return 'lease_lost'
      seen.add(id)
      return 'ok'
    })
  }

  /** lease_tasks() arguments (core checked the request), or null when the request can lease nothing */
  function leaseParams (req: LeaseRequest): [string[], number, string, number, string[] | null, boolean] | null {
    // distinct handler names, or null for every handler
    const handlers = req.handlers === undefined ? null : [...new Set(req.handlers)]
    if (req.limit === 0 || req.queues.length === 0 || handlers?.length === 0) return null
    return [req.queues, Math.min(req.limit, 10_000), req.workerId, req.leaseMs, handlers, ctx.asyncCommit]
  }

  /** ids, tokens and result JSON (null: none) of the acks that can name a row */
  function ackColumns (items: CompleteRequest[]): [string[], string[], Array<string | null>] {
    const cols: [string[], string[], Array<string | null>] = [[], [], []]
    for (const item of items) {
      const ref = parseRef(item)
      if (ref === null) continue
      cols[0].push(ref.id)
      cols[1].push(ref.token)
      cols[2].push(isNoResult(item.result) ? null : JSON.stringify(item.result))
    }
    return cols
  }

  /** the packed answer of leasePackedSql or completeAndLeasePackedSql */
  async function queryPacked (text: string, params: SqlParam[]): Promise<PackedRow[]> {
    const [row] = await ctx.db().query<{ packed: string | null }>(text, params)
    return row?.packed === null || row?.packed === undefined ? [] : JSON.parse(row.packed) as PackedRow[]
  }

  async function lease (params: SqlParam[]): Promise<LeasedTask[]> {
    if (ctx.db().kind !== 'pglite') return (await ctx.db().query<LeasedRow>(leaseSql, params)).map(leasedTask)
    return (await queryPacked(leasePackedSql, params)).map(a => packedLease(a as PackedLease))
  }

  async function complete (items: CompleteRequest[]): Promise<AckOutcome[]> {
    const cols = ackColumns(items)
    if (cols[0].length === 0) return ackOutcomes(items, new Map())
    const rows = await ctx.db().query<{ id: string }>(completeSql, cols)
    return ackOutcomes(items, new Map(rows.map(r => [r.id, r])))
  }

  async function enqueue (tasks: NewTask[], events: EnqueueEvents | undefined, depth = 0, db: SqlQueryable = ctx.db()): Promise<EnqueueResult[]> {
    if (tasks.length === 0) return []
    const cols: [string[], string[], string[], number[], number[], number[], Array<number | null>, number[], Array<string | null>, number[]] =
      [[], [], [], [], [], [], [], [], [], []]
    // tenant and correlation id travel as two more arrays (all nulls when no task has one)
    const tenants: Array<string | null> = []
    const correlationIds: Array<string | null> = []
    let replacing = false
    let keyed = false
    for (const task of tasks) {
      if (task.idempotencyKey !== undefined && task.idempotencyKey !== null) keyed = true
      tenants.push(task.tenant ?? null)
      correlationIds.push(task.correlationId ?? null)
      if (task.idempotencyMode === 'replace' || task.idempotencyMode === 'preserve_run_at') replacing = true
      const payload = payloadJson(task)
      cols[0].push(task.queue)
      cols[1].push(task.handler)
      cols[2].push(payload)
      cols[3].push(task.maxAttempts)
      cols[4].push(task.priority)
      cols[5].push(task.timeoutMs)
      cols[6].push(task.runAt)
      cols[7].push(task.delayMs ?? 0)
      cols[8].push(task.idempotencyKey ?? null)
      cols[9].push(Buffer.byteLength(payload))
    }
    const variant = keyed ? 'keyed' : 'unkeyed'
    const packed = ctx.db().kind === 'pglite'
    const columns: SqlParam[] = [...cols, tenants, correlationIds]
    // PGlite: a column with one value for the whole batch goes as that value (see pgliteEnqueueSql)
    let uniform = 0
    if (packed) {
      for (const [j, values] of (columns as unknown[][]).entries()) {
        if (j === PAYLOAD_COLUMN) continue
        const first = values[0]
        if (values.every(v => v === first)) {
          uniform |= 1 << j
          columns[j] = first as SqlParam
        }
      }
    }
    const params: SqlParam[] = events === undefined
      ? columns
      : [...columns.slice(0, 10), events.data.map(d => JSON.stringify(d)), events.type, ctx.maxEvents, ctx.notify ? ctx.eventsChannel : null, ...columns.slice(10)]
    let results: EnqueueResult[]
    if (packed) {
      // idle workers of this process may get the tasks leased by this statement (pglite-push.ts);
      // not inside a transaction (tasks with parents), which could still roll back
      const push = db === ctx.db() ? ctx.push?.plan(tasks) ?? null : null
      let answer: string | null | undefined
      try {
        const text = pgliteEnqueueSql(events !== undefined, keyed, push !== null, uniform)
        answer = (await db.query<{ packed: string | null }>(text, push === null ? params : [...params, push.workers, push.leaseMs]))[0]?.packed
      } catch (err) {
        push?.cancel()
        throw err
      }
      const leased = new Map<number, LeasedTask>()
      // '=' and the first id: every task created, ids in batch order (a batch without keys)
      if (answer === null || answer === undefined) results = []
      else if (answer.startsWith('=')) results = rangeResults(answer.slice(1), tasks.length)
      else results = answer.split(',').map((p, at) => {
        if (p.startsWith('-')) return { id: p.slice(1), created: false }
        if (!p.startsWith('+')) return { id: p, created: true }
        const [id, token, createdAt, runAt, expiresAt] = p.slice(1).split('/') as [string, string, string, string, string]
        leased.set(at, pushedTask(tasks[at] as NewTask, id, token, Number(createdAt), Number(runAt), Number(expiresAt), cols[2][at] as string))
        return { id, created: true }
      })
      push?.deliver(leased)
    } else {
      const answer = (await db.query<{ packed: string | null }>((events === undefined ? enqueueSql : enqueueWithEventsSql)[variant], params))[0]?.packed
      results = answer === null || answer === undefined
        ? []
        : answer.split(',').map(p => p.startsWith('-') ? { id: p.slice(1), created: false } : { id: p, created: true })
    }
    const keyOf = (i: number): string => tasks[i]?.idempotencyKey as string
    // keys that collided (with a stored task or earlier in this batch) answer the owner's id
    const collided = [...new Set(results.flatMap((r, i) => r.created ? [] : [keyOf(i)]))]
    if (collided.length === 0) return results
    // replace modes: each collided task updates the key's owner in place, in request
    // order, one statement each (so a key repeated in the batch ends with the last)
    const replaced = replacing ? await replaceCollided(ctx, tasks, results) : new Map<number, EnqueueResult>()
    const owners = new Map((await db.query<{ key: string, id: string }>(keyLookupSql, [collided])).map(r => [r.key, r.id]))
    const orphaned: number[] = []
    for (const [i, r] of results.entries()) {
      if (r.created) continue
      const replacedResult = replaced.get(i)
      if (replacedResult !== undefined) { results[i] = replacedResult; continue }
      const owner = owners.get(keyOf(i))
      if (owner === undefined) orphaned.push(i)
      else results[i] = { id: owner, created: false }
    }
    if (orphaned.length === 0) return results
    // the owner was deleted between the insert and the lookup: enqueue those again
    if (depth >= 3) throw Errors.conflict('enqueue: the task owning an idempotency key kept disappearing; try again', { details: { field: 'idempotencyKey' } })
    const retried = await enqueue(orphaned.map(i => tasks[i] as NewTask),
      events === undefined ? undefined : { type: events.type, data: orphaned.map(i => events.data[i] as Record<string, unknown>) }, depth + 1, db)
    for (const [j, i] of orphaned.entries()) results[i] = retried[j] as EnqueueResult
    return results
  }

  return {
    async enqueue (tasks, events) {
      // only a batch naming parents pays for the transaction
      for (const task of tasks) {
        if (task.dependsOn !== undefined && task.dependsOn.length > 0) {
          return await enqueueWithDependencies(ctx, tasks, events, async (db, batch, ev) => await enqueue(batch, ev, 0, db))
        }
      }
      return await enqueue(tasks, events)
    },

    async leaseTasks (req): Promise<LeasedTask[]> {
      const params = leaseParams(req)
      if (params === null) return []
      return await lease(params)
    },

    async leaseWithinRateLimit (req) {
      const params = leaseParams(req)
      if (params === null) return { tasks: [], rateLimited: false }
      const rows = await ctx.db().query<LeasedRow | { id: null }>(leaseRatedSql, params)
      const tasks: LeasedTask[] = []
      let rateLimited = false
      for (const row of rows) {
        if (row.id === null) rateLimited = true
        else tasks.push(leasedTask(row))
      }
      return { tasks, rateLimited }
    },

    async completeAndLease (acks, req) {
      const params = leaseParams(req)
      if (params === null) return { acks: await complete(acks), leased: [] }
      const cols = ackColumns(acks)
      const done = new Map<string, true>()
      const leased: LeasedTask[] = []
      let flowLimited = false
      if (ctx.db().kind === 'pglite') {
        for (const row of await queryPacked(completeAndLeasePackedSql, [...cols, ...params])) {
          if (row === null) flowLimited = true
          else if (typeof row === 'string') done.set(row, true)
          else leased.push(packedLease(row))
        }
      } else {
        const rows = await ctx.db().query<LeasedRow | { id: string | null, handler: null }>(completeAndLeaseSql, [...cols, ...params])
        for (const row of rows) {
          if (row.id === null) flowLimited = true
          else if (row.handler === null) done.set(row.id, true)
          else leased.push(leasedTask(row))
        }
      }
      if (flowLimited) leased.push(...await lease(params))
      return { acks: ackOutcomes(acks, done), leased }
    },

    completeTasks: complete,

    async setTaskProgress (items: ProgressRequest[]): Promise<AckOutcome[]> {
      const cols: [string[], string[], string[]] = [[], [], []]
      for (const item of items) {
        const ref = parseRef(item)
        if (ref === null) continue
        cols[0].push(ref.id)
        cols[1].push(ref.token)
        cols[2].push(JSON.stringify(item.progress))
      }
      if (cols[0].length === 0) return ackOutcomes(items, new Map())
      const rows = await ctx.db().query<{ id: string }>(progressSql, cols)
      return ackOutcomes(items, new Map(rows.map(r => [r.id, r])))
    },

    async releaseTasks (items) {
      const done = await refBatch(items, async (ids, tokens) => await ctx.db().query<{ id: string }>(releaseSql, [ids, tokens]))
      return ackOutcomes(items, done)
    },

    async failTasks (items: FailRequest[]): Promise<FailOutcome[]> {
      const byId = new Map<string, FailRequest>()
      for (const item of items) {
        const id = parseId(item.id)
        if (id !== null && !byId.has(id)) byId.set(id, item)
      }
      const done = await refBatch([...byId.values()], async (ids, tokens) => {
        const requests = ids.map(id => byId.get(id) as FailRequest)
        return await ctx.db().query<{ id: string, state: 'dead' | 'retrying' } & CascadeColumns>(failSql, [
          ids,
          tokens,
          requests.map(r => String(r.error?.message ?? 'unknown error')),
          requests.map(r => typeof r.error?.stack === 'string' ? r.error.stack : null),
          requests.map(r => r.retryDelayMs === null ? null : Math.round(r.retryDelayMs))
        ])
      })
      await reportCascade(ctx, [...done.values()].filter(row => row.state === 'dead'))
      const seen = new Set<string>()
      return items.map(item => {
        const id = parseId(item?.id)
        const row = id === null || seen.has(id) ? undefined : done.get(id)
        if (row === undefined || id === null) return 'lease_lost'
        seen.add(id)
        return row.state
      })
    },

    async extendLeases (items, leaseMs) {
      const done = await refBatch(items, async (ids, tokens) =>
        await ctx.db().query<{ id: string, lease_expires_at: number }>(extendSql, [ids, tokens, leaseMs]))
      return items.map(item => {
        const id = parseId(item?.id)
        return id === null ? null : done.get(id)?.lease_expires_at ?? null
      })
    },

    async recoverExpiredLeases (limit): Promise<RecoveredLeases> {
      const bounded = Math.min(limit, 10_000)
      if (bounded === 0) return { requeued: [], dead: [] }
      const rows = await ctx.db().query<{ id: string, state: string } & CascadeColumns>(recoverSql, [bounded])
      await reportCascade(ctx, rows.filter(row => row.state === 'dead'))
      await ctx.db().query(promoteSql, [bounded])
      return {
        requeued: rows.filter(r => r.state === 'ready').map(r => r.id),
        dead: rows.filter(r => r.state === 'dead').map(r => r.id)
      }
    }
  }
}
