// Every `switchyard` command in one table: name, summary, arguments, flags, the admin
// RPCs it calls and a lazy import of its handler. The dispatcher (core/cli.ts), the
// per-command `--help`, shell completion (`switchyard completion bash|zsh`) and the
// README's command reference are all rendered from it, and a test fails when an RPC
// of the admin contract has no command here.
//
// Keep this module light: it is loaded by `switchyard --version`. Handlers are
// imported inside `load`, never at the top.
import { TASK_STATES } from '../backend/types.ts'
import type { CommandSpec, FlagTable } from './spec.ts'

/** BulkTaskAction's actions (the contract's list, repeated here so this module stays light) */
const TASK_ACTION_LIST = ['cancel', 'retry', 'delete', 'run_now', 'reschedule', 'move'] as const

export const EXIT_CODES: ReadonlyArray<readonly [number, string]> = [
  [0, 'ok'],
  [1, 'refused or failed: the deployment refused the call (an error code is printed), or it failed'],
  [2, 'usage: unknown command or flag, a missing or malformed argument, or a bulk action without a selection or confirmation']
]

/** flags every command takes */
export const GLOBAL_FLAGS: FlagTable = {
  config: { type: 'string', short: 'c', value: 'file', complete: 'file', description: 'config file (YAML or JSON); default: the embedded default' },
  help: { type: 'boolean', short: 'h', description: 'show help for the command' }
}

export const JSON_FLAG: FlagTable = {
  json: { type: 'boolean', description: 'print stable machine-readable JSON (one document per line) instead of text' }
}

/** how admin commands reach the deployment (read by connection-flags.ts) */
export const CONNECTION_FLAGS_HELP: FlagTable = {
  url: { type: 'string', value: 'url', description: 'gateway base URL, e.g. https://host:8081 (env SWITCHYARD_GATEWAY_URL); default https://<admin.httpAddr>' },
  'client-cert': { type: 'string', value: 'file', complete: 'file', description: 'client certificate (PEM) (env SWITCHYARD_CLIENT_CERT); default <dataDir>/certs/client.pem' },
  'client-key': { type: 'string', value: 'file', complete: 'file', description: 'client private key (PEM) (env SWITCHYARD_CLIENT_KEY)' },
  cacert: { type: 'string', value: 'file', complete: 'file', description: 'CA bundle (PEM) the gateway certificate must chain to; default admin.tls.ca or <dataDir>/certs/ca.pem' },
  approval: { type: 'string', value: 'token', description: 'approval token sent as X-Admin-Approval (env SWITCHYARD_APPROVAL_TOKEN)' },
  local: { type: 'boolean', description: 'skip the gateway and open the backend in this process' }
}

const limit = (what: string, fallback: number): FlagTable[string] => ({ type: 'string', value: 'n', description: `${what} (default ${fallback})` })
const offset: FlagTable[string] = { type: 'string', value: 'n', description: 'rows to skip (default 0; walks every skipped row: page with --cursor instead)' }
const cursor: FlagTable[string] = { type: 'string', value: 'cursor', description: 'the page after the one that printed this next cursor (same filters; not with --offset)' }
const dryRun: FlagTable[string] = { type: 'boolean', description: 'report exactly what would change, change nothing' }
const yes: FlagTable[string] = { type: 'boolean', short: 'y', description: 'do it without asking (required when stdin or stdout is not a terminal)' }
const expectSelection: FlagTable[string] = { type: 'string', value: 'selection', description: 'with --yes: change exactly the tasks a --dry-run selected (the selection it printed), or refuse and change nothing when the filter now selects others' }
const queueFilter: FlagTable[string] = { type: 'string', value: 'queue', description: 'only this queue' }
const handlerFilter: FlagTable[string] = { type: 'string', value: 'handler', description: 'only this handler' }
const queryFilter: FlagTable[string] = { type: 'string', value: 'text', description: 'case-insensitive text in id, handler, payload or error' }
const payload: FlagTable[string] = { type: 'string', value: 'json', complete: 'file', description: 'payload as JSON text, @file to read a file, - to read stdin' }
const tenantFilter: FlagTable[string] = { type: 'string', value: 'tenant', description: 'only this tenant' }
const correlationFilter: FlagTable[string] = { type: 'string', value: 'id', description: 'only this correlation id' }
const keyFlag: FlagTable[string] = { type: 'string', value: 'key', description: 'the task holding this idempotency key, instead of an id' }
const optionalId = (what: string) => [{ name: 'id', required: false, description: `${what} (or --key)` }] as const
const since: FlagTable[string] = { type: 'string', value: 'time', description: 'only events at or after this time (RFC 3339), or this long ago (a duration: 30m, 1h30m)' }

/** the time window of task and DLQ lists (read by time-window.ts) */
const WINDOW_FLAGS: FlagTable = {
  since: { type: 'string', value: 'time', description: 'only tasks at or after this time (RFC 3339), or this long ago (a duration: 24h, 7d)' },
  until: { type: 'string', value: 'time', description: 'only tasks at or before this time (RFC 3339), or this long ago (a duration)' },
  'time-field': { type: 'string', value: 'field', complete: ['created', 'finished'], description: 'the time --since/--until judge: created, or finished (default finished for succeeded, dead and canceled tasks and in the DLQ, else created)' }
}

const id = (what: string) => [{ name: 'id', required: true, description: what }] as const
const name = (what: string) => [{ name: 'name', required: true, description: what }] as const

const tasks = async () => await import('./tasks.ts')
const queues = async () => await import('./queues.ts')
const schedules = async () => await import('./schedules.ts')
const dlq = async () => await import('./dlq.ts')
const observe = async () => await import('./observe.ts')
const audit = async () => await import('./audit.ts')
const jobs = async () => await import('./jobs.ts')
const taskActions = async () => await import('./task-actions.ts')
const workers = async () => await import('./workers.ts')
const limits = async () => await import('./limits.ts')

export const COMMANDS: readonly CommandSpec[] = [
  // --- processes -------------------------------------------------------------------
  {
    name: 'start',
    summary: 'run workers and the admin listeners (and the demo on the embedded default)',
    admin: false,
    json: false,
    rpcs: [],
    load: async () => { const { runStart } = await import('./start.ts'); return async ({ values }) => await runStart(values, { demo: 'config', listen: true }) }
  },
  {
    name: 'worker',
    summary: 'run a worker only: no admin listeners, no demo tasks',
    admin: false,
    json: false,
    rpcs: [],
    load: async () => { const { runStart } = await import('./start.ts'); return async ({ values }) => await runStart(values, { demo: 'off', listen: false }) }
  },
  {
    name: 'gateway',
    summary: 'run the HTTPS gateway, and the web console when admin-console is configured, in front of admin.grpcTarget (WORKER_ADMIN_GRPC_TARGET): no backend, no worker',
    admin: false,
    json: false,
    rpcs: [],
    load: async () => { const { runGateway } = await import('./gateway.ts'); return async ({ values }) => await runGateway(values) }
  },

  // --- tasks ---------------------------------------------------------------------------
  {
    name: 'enqueue',
    summary: 'enqueue a durable task',
    args: [{ name: 'handler', required: true, description: 'handler that runs the task' }],
    flags: {
      payload,
      queue: { type: 'string', value: 'queue', description: 'queue (default: the configured default queue)' },
      delay: { type: 'string', value: 'duration', description: 'run after this delay, e.g. 0, 500ms, 2m, 1h30m' },
      'run-at': { type: 'string', value: 'time', description: 'do not run before this time (RFC 3339)' },
      timeout: { type: 'string', value: 'duration', description: 'per-attempt timeout (default tasks.timeout)' },
      key: { type: 'string', value: 'key', description: 'idempotency key: enqueue at most once per key' },
      'idempotency-mode': { type: 'string', value: 'mode', complete: ['reject', 'replace', 'preserve_run_at'], description: 'when --key names a task: reject (default: it wins unchanged), replace (a task not started yet takes this payload, priority, run time, attempts and timeout), preserve_run_at (replace, keeping its run time)' },
      tenant: { type: 'string', value: 'tenant', description: 'tenant the task belongs to' },
      'correlation-id': { type: 'string', value: 'id', description: 'ties the tasks of one flow together' },
      priority: { type: 'string', value: 'n', description: 'priority, higher runs first (-1000..1000)' },
      'max-attempts': { type: 'string', value: 'n', description: 'attempt budget (1..1000)' },
      'depends-on': { type: 'string', value: 'ids', description: 'comma-separated ids of tasks that must succeed first; until then the task is blocked' },
      'on-parent-failure': { type: 'string', value: 'policy', complete: ['cancel', 'dead'], description: 'with --depends-on: what a parent that dies does to the task, cancel (default) or dead' }
    },
    admin: true,
    json: true,
    rpcs: ['EnqueueTask'],
    examples: ['switchyard enqueue send_email --payload \'{"to":"ops@example.com"}\' --delay 2m', 'switchyard enqueue report --payload @payload.json', 'echo \'{"n":1}\' | switchyard enqueue noop --payload -', 'switchyard enqueue merge --depends-on 41,42,43',
      'switchyard enqueue digest --key digest:user-7 --idempotency-mode replace --delay 10m --payload \'{"n":3}\''],
    load: async () => (await import('./enqueue.ts')).runEnqueue
  },
  {
    name: 'tasks',
    aliases: ['task list', 'tasks list'],
    summary: 'list tasks by state, queue, handler, text, time window, tenant or correlation id',
    flags: {
      state: { type: 'string', value: 'state', complete: TASK_STATES, description: `only this state: ${TASK_STATES.join(', ')}` },
      queue: queueFilter,
      handler: handlerFilter,
      query: queryFilter,
      tenant: tenantFilter,
      'correlation-id': correlationFilter,
      limit: limit('tasks per page', 50),
      offset,
      cursor,
      ...WINDOW_FLAGS
    },
    admin: true,
    json: true,
    rpcs: ['ListTasks'],
    examples: ['switchyard tasks --state succeeded --since 24h', 'switchyard tasks --queue emails --since 2026-01-31T08:00:00Z --until 2026-01-31T09:00:00Z', 'switchyard tasks --state dead --limit 100 --cursor <next cursor printed by the page before>'],
    load: async () => (await tasks()).runTasks
  },
  {
    name: 'task get',
    summary: 'one task with payload, errors and timeline, by id or by idempotency key',
    args: optionalId('task id'),
    flags: { key: keyFlag },
    admin: true,
    json: true,
    rpcs: ['GetTask', 'GetTaskByKey'],
    load: async () => (await tasks()).runTaskGet
  },
  {
    name: 'task cancel',
    summary: 'cancel a task no worker has started, by id or by idempotency key',
    args: optionalId('task id'),
    flags: { key: keyFlag },
    admin: true,
    json: true,
    rpcs: ['CancelTask', 'CancelTaskByKey'],
    load: async () => (await tasks()).runTaskCancel
  },
  {
    name: 'task graph',
    aliases: ['tasks graph'],
    summary: 'a task\'s dependency graph: its ancestors, descendants and their links',
    args: id('task id'),
    flags: {
      depth: { type: 'string', value: 'n', description: 'levels walked up and down (default 5, at most 20)' },
      limit: limit('tasks at most', 200)
    },
    admin: true,
    json: true,
    rpcs: ['GetTaskGraph'],
    load: async () => (await import('./task-graph.ts')).runTaskGraph
  },
  {
    name: 'task delete',
    summary: 'delete the task holding an idempotency key (not while a worker runs it), freeing the key',
    flags: { key: { ...keyFlag, description: 'idempotency key of the task (required)' }, 'dry-run': dryRun },
    admin: true,
    json: true,
    rpcs: ['DeleteTaskByKey'],
    examples: ['switchyard task delete --key digest:user-7 --dry-run'],
    load: async () => (await tasks()).runTaskDelete
  },
  {
    name: 'task retry',
    summary: 'run a dead, retrying or canceled task again now, with a fresh attempt budget',
    args: id('task id'),
    admin: true,
    json: true,
    rpcs: ['RetryTask'],
    load: async () => (await tasks()).runTaskRetry
  },
  {
    name: 'task bulk',
    aliases: ['tasks bulk'],
    summary: 'cancel, retry, delete, run now, reschedule or move many tasks: a selection is required',
    details: [
      'Select the tasks: --ids, or the task list\'s filter (--state, --queue, --handler, --query), or --all',
      '(a filter or --all is bounded by --limit, default and most admin.guardrails.bulkMax). Without a state',
      'a filter takes only tasks the action moves from; processing tasks are never touched. On a terminal',
      'it shows what the dry run would change and asks; elsewhere it needs --yes. --dry-run only reports.',
      'Actions: cancel (scheduled, ready, retrying), retry (dead, canceled, retrying: ready now, fresh attempts),',
      'delete (any state but processing), run_now (scheduled, retrying), reschedule (--run-at, --priority,',
      '--max-attempts of waiting tasks), move (waiting tasks, to --target-queue).'
    ].join('\n'),
    args: [{ name: 'action', required: true, description: TASK_ACTION_LIST.join(', '), complete: TASK_ACTION_LIST }],
    flags: {
      ids: { type: 'string', value: 'a,b,…', description: 'act on these tasks (comma-separated ids)' },
      state: { type: 'string', value: 'state', complete: TASK_STATES, description: `only tasks in this state: ${TASK_STATES.join(', ')}` },
      queue: queueFilter,
      handler: handlerFilter,
      query: queryFilter,
      all: { type: 'boolean', description: 'tasks of every queue and handler (bounded by --limit)' },
      limit: { type: 'string', value: 'n', description: 'with a filter or --all: at most this many, in the task list\'s order (default admin.guardrails.bulkMax)' },
      'run-at': { type: 'string', value: 'time', description: 'reschedule: the new earliest run time (RFC 3339)' },
      priority: { type: 'string', value: 'n', description: 'reschedule: the new priority, higher runs first (-1000..1000)' },
      'max-attempts': { type: 'string', value: 'n', description: 'reschedule: the new attempt budget (1..1000)' },
      'target-queue': { type: 'string', value: 'queue', description: 'move: the queue the tasks go to' },
      'dry-run': dryRun,
      'expect-selection': expectSelection,
      yes
    },
    admin: true,
    json: true,
    rpcs: ['BulkTaskAction'],
    examples: ['switchyard task bulk cancel --queue emails --state scheduled --dry-run', 'switchyard task bulk retry --ids 3f2a,9c1b --yes', 'switchyard task bulk move --queue slow --target-queue fast --yes'],
    load: async () => (await taskActions()).runTaskBulk
  },
  {
    name: 'task reschedule',
    aliases: ['tasks reschedule'],
    summary: 'change a waiting task\'s run time, priority or attempt budget',
    args: id('task id'),
    flags: {
      'run-at': { type: 'string', value: 'time', description: 'the new earliest run time (RFC 3339); a future time holds a ready task back' },
      priority: { type: 'string', value: 'n', description: 'the new priority, higher runs first (-1000..1000)' },
      'max-attempts': { type: 'string', value: 'n', description: 'the new attempt budget (1..1000)' }
    },
    admin: true,
    json: true,
    rpcs: ['RescheduleTask'],
    examples: ['switchyard task reschedule 3f2a --priority 100', 'switchyard task reschedule 3f2a --run-at 2026-01-31T08:00:00Z'],
    load: async () => (await taskActions()).runTaskReschedule
  },

  // --- queues --------------------------------------------------------------------------
  {
    name: 'queues',
    aliases: ['queue list'],
    summary: 'queues with counts, weights and pause flags',
    admin: true,
    json: true,
    rpcs: ['ListQueues'],
    load: async () => (await queues()).runQueues
  },
  {
    name: 'queue get',
    summary: 'one queue, and the handlers with pending tasks no live worker runs',
    args: name('queue name'),
    admin: true,
    json: true,
    rpcs: ['GetQueue'],
    load: async () => (await queues()).runQueueGet
  },
  {
    name: 'queue weight set',
    summary: 'store a weight override for a queue, shared by every node',
    args: [...name('queue name'), { name: 'weight', required: true, description: 'share of dequeues relative to other queues (1..1000)' }],
    admin: true,
    json: true,
    rpcs: ['UpdateQueueWeight'],
    load: async () => (await queues()).runWeightSet
  },
  {
    name: 'queue weight reset',
    summary: 'drop a queue\'s weight override (back to the configured weight)',
    args: name('queue name'),
    admin: true,
    json: true,
    rpcs: ['ResetQueueWeight'],
    load: async () => (await queues()).runWeightReset
  },
  {
    name: 'queue drain',
    aliases: ['queues drain'],
    summary: 'delete the ready tasks of a queue (with --include-scheduled also its scheduled and retrying ones)',
    details: [
      'Processing tasks run on. Bounded by --limit (default and most admin.guardrails.bulkMax): a larger',
      'backlog takes more than one call. On a terminal it shows the dry run and asks; elsewhere it needs',
      '--yes. --dry-run only reports.'
    ].join('\n'),
    args: name('queue name'),
    flags: {
      'include-scheduled': { type: 'boolean', description: 'also delete scheduled and retrying tasks (default: only ready ones)' },
      limit: { type: 'string', value: 'n', description: 'delete at most this many (default admin.guardrails.bulkMax)' },
      'dry-run': dryRun,
      'expect-selection': expectSelection,
      yes
    },
    admin: true,
    json: true,
    rpcs: ['DrainQueue'],
    examples: ['switchyard queue drain emails --dry-run', 'switchyard queue drain emails --include-scheduled --yes'],
    load: async () => (await taskActions()).runQueueDrain
  },
  {
    name: 'limits list',
    aliases: ['limits'],
    summary: 'flow limits per queue and handler: running, starts in the window, saturation, throttled tasks',
    admin: true,
    json: true,
    rpcs: ['ListRateLimits'],
    load: async () => (await limits()).runLimitsList
  },
  {
    name: 'limits set',
    summary: 'create or replace a cluster-wide concurrency and/or rate limit of a queue, handler or tenant',
    args: [
      { name: 'kind', required: true, description: 'queue, handler or tenant', complete: ['queue', 'handler', 'tenant'] },
      ...name('queue, handler or tenant name')
    ],
    flags: {
      concurrency: { type: 'string', value: 'n', description: 'at most n running at once across all workers' },
      rate: { type: 'string', value: 'n', description: 'at most n starts per window (with --per)' },
      per: { type: 'string', value: 'duration', description: 'the rate window, e.g. 1s, 1m' }
    },
    admin: true,
    json: true,
    rpcs: ['SetFlowLimit'],
    examples: ['switchyard limits set handler mail.send --rate 5 --per 1s', 'switchyard limits set queue critical --concurrency 3', 'switchyard limits set tenant acme --rate 5 --per 1s'],
    load: async () => (await limits()).runLimitsSet
  },
  {
    name: 'limits clear',
    summary: 'remove the flow limit of a queue, handler or tenant',
    args: [
      { name: 'kind', required: true, description: 'queue, handler or tenant', complete: ['queue', 'handler', 'tenant'] },
      ...name('queue, handler or tenant name')
    ],
    admin: true,
    json: true,
    rpcs: ['ClearFlowLimit'],
    load: async () => (await limits()).runLimitsClear
  },
  {
    name: 'pause',
    summary: 'pause a queue, or durable dequeue cluster-wide without a queue',
    args: [{ name: 'queue', required: false, description: 'queue to pause; absent: global dequeue' }],
    admin: true,
    json: true,
    rpcs: ['PauseQueue', 'PauseDequeue'],
    load: async () => (await queues()).runPause
  },
  {
    name: 'resume',
    summary: 'resume a queue, or durable dequeue cluster-wide without a queue',
    args: [{ name: 'queue', required: false, description: 'queue to resume; absent: global dequeue' }],
    admin: true,
    json: true,
    rpcs: ['PauseQueue', 'ResumeDequeue'],
    load: async () => (await queues()).runResume
  },

  // --- schedules -----------------------------------------------------------------------
  {
    name: 'schedules',
    aliases: ['schedules list'],
    summary: 'schedules: spec, time zone, paused, next/previous run, last status',
    admin: true,
    json: true,
    rpcs: ['ListSchedules'],
    load: async () => (await schedules()).runSchedules
  },
  {
    name: 'schedules factories',
    summary: 'registered schedule factories (a schedule runs the factory of its name)',
    admin: true,
    json: true,
    rpcs: ['ListScheduleFactories'],
    load: async () => (await schedules()).runFactories
  },
  {
    name: 'schedules events',
    summary: 'recent schedule history, newest first',
    flags: {
      name: { type: 'string', value: 'name', description: 'only this schedule' },
      limit: limit('events', 25)
    },
    admin: true,
    json: true,
    rpcs: ['ListScheduleEvents'],
    load: async () => (await schedules()).runScheduleEvents
  },
  {
    name: 'schedules create',
    summary: 'create a schedule, or update the one of this name (it must match a registered factory)',
    args: name('schedule name = its factory'),
    flags: {
      spec: { type: 'string', value: 'cron', description: 'cron expression: 5 fields, or 6 with leading seconds (required)' },
      timezone: { type: 'string', value: 'tz', description: 'IANA time zone the spec is read in (default UTC)' },
      durable: { type: 'boolean', description: 'stored in the backend, fired once cluster-wide by the leader' },
      'in-memory': { type: 'boolean', description: 'held by the serving process only (default: the factory\'s default)' },
      paused: { type: 'boolean', description: 'create it paused' },
      overlap: { type: 'string', value: 'policy', complete: ['skip', 'allow'], description: 'skip (default): skip a tick while the previous run is queued or running; allow' },
      'catch-up': { type: 'string', value: 'policy', complete: ['none', 'latest'], description: 'after downtime: none (default) or latest (run the most recent missed instant)' }
    },
    admin: true,
    json: true,
    rpcs: ['CreateSchedule'],
    examples: ['switchyard schedules create nightly_report --spec "0 2 * * *" --timezone Europe/Berlin --durable'],
    load: async () => (await schedules()).runScheduleCreate
  },
  {
    name: 'schedules pause',
    summary: 'pause a schedule',
    args: name('schedule name'),
    admin: true,
    json: true,
    rpcs: ['PauseSchedule'],
    load: async () => (await schedules()).runSchedulePause
  },
  {
    name: 'schedules resume',
    summary: 'resume a schedule (from now: paused instants are not caught up)',
    args: name('schedule name'),
    admin: true,
    json: true,
    rpcs: ['PauseSchedule'],
    load: async () => (await schedules()).runScheduleResume
  },
  {
    name: 'schedules run',
    summary: 'run a schedule\'s factory now (capped per window by admin.guardrails.scheduleRunMax)',
    args: name('schedule name'),
    admin: true,
    json: true,
    rpcs: ['RunSchedule'],
    load: async () => (await schedules()).runScheduleRun
  },
  {
    name: 'schedules delete',
    summary: 'delete a schedule (its factory stays registered)',
    args: name('schedule name'),
    admin: true,
    json: true,
    rpcs: ['DeleteSchedule'],
    load: async () => (await schedules()).runScheduleDelete
  },
  {
    name: 'schedules pause-all',
    summary: 'pause every schedule (asks first on a terminal; elsewhere needs --yes)',
    flags: { 'dry-run': dryRun, yes },
    admin: true,
    json: true,
    rpcs: ['PauseSchedules'],
    load: async () => (await schedules()).runPauseAll
  },
  {
    name: 'schedules resume-all',
    summary: 'resume every schedule (asks first on a terminal; elsewhere needs --yes)',
    flags: { 'dry-run': dryRun, yes },
    admin: true,
    json: true,
    rpcs: ['PauseSchedules'],
    load: async () => (await schedules()).runResumeAll
  },

  // --- dead-letter queue -----------------------------------------------------------------
  {
    name: 'dlq list',
    aliases: ['dlq'],
    summary: 'dead tasks, most recently failed first',
    flags: { queue: queueFilter, handler: handlerFilter, query: queryFilter, tenant: tenantFilter, 'correlation-id': correlationFilter, limit: limit('entries per page', 50), offset, cursor, ...WINDOW_FLAGS },
    admin: true,
    json: true,
    rpcs: ['ListDLQ'],
    examples: ['switchyard dlq list --since 7d', 'switchyard dlq list --queue emails --query timeout --since 24h'],
    load: async () => (await dlq()).runDlqList
  },
  {
    name: 'dlq get',
    summary: 'one dead task with payload and error history',
    args: id('task id'),
    admin: true,
    json: true,
    rpcs: ['GetDLQEntry'],
    load: async () => (await dlq()).runDlqGet
  },
  {
    name: 'dlq stats',
    summary: 'DLQ totals by queue and handler',
    admin: true,
    json: true,
    rpcs: ['GetDLQStats'],
    load: async () => (await dlq()).runDlqStats
  },
  {
    name: 'dlq replay',
    summary: 'put dead tasks back to ready with a fresh attempt budget: a selection is required',
    details: [
      'Select what to replay: --ids, or a filter (--queue, --handler, --query, --tenant, --correlation-id, --since, --until; as',
      '`dlq list` selects), or --all for every dead task (each bounded by --limit). Without a',
      'selection this is a usage error. On a terminal it shows how many tasks would be replayed',
      'and asks; elsewhere it needs --yes. --dry-run only reports.',
      'With --ids, --payload gives every replayed task one new payload and --payloads a JSON object',
      'from task id to that task\'s own payload (it wins over --payload for those ids).'
    ].join('\n'),
    flags: {
      ids: { type: 'string', value: 'a,b,…', description: 'replay these dead tasks (comma-separated ids)' },
      queue: { type: 'string', value: 'queue', description: 'replay dead tasks of this queue' },
      handler: { type: 'string', value: 'handler', description: 'replay dead tasks of this handler' },
      query: { type: 'string', value: 'text', description: 'replay dead tasks with this case-insensitive text in id, handler, payload or error' },
      tenant: { type: 'string', value: 'tenant', description: 'replay dead tasks of this tenant' },
      'correlation-id': { type: 'string', value: 'id', description: 'replay dead tasks with this correlation id' },
      ...WINDOW_FLAGS,
      all: { type: 'boolean', description: 'replay dead tasks of every queue and handler' },
      limit: limit('with a filter or --all: replay at most this many, oldest failures first', 100),
      'target-queue': { type: 'string', value: 'queue', description: 'move the replayed tasks to this queue' },
      payload: { ...payload, description: 'with --ids: replace the payload of every replayed task (JSON, @file or -)' },
      payloads: { type: 'string', value: 'json', complete: 'file', description: 'with --ids: per-task payloads, a JSON object from task id to payload (JSON, @file or -)' },
      'dry-run': dryRun,
      'expect-selection': expectSelection,
      yes
    },
    admin: true,
    json: true,
    rpcs: ['ReplayDLQ', 'ReplayDLQByID'],
    examples: ['switchyard dlq replay --queue emails --dry-run', 'switchyard dlq replay --query "connection reset" --since 24h --yes', 'switchyard dlq replay --ids 3f2a,9c1b --target-queue emails-retry --payloads @edits.json --yes', 'switchyard dlq replay --all --limit 500 --yes'],
    load: async () => (await dlq()).runDlqReplay
  },
  {
    name: 'dlq delete',
    summary: 'delete one dead task for good',
    args: id('task id'),
    admin: true,
    json: true,
    rpcs: ['DeleteDLQEntry'],
    load: async () => (await dlq()).runDlqDelete
  },
  {
    name: 'dlq purge',
    summary: 'delete dead tasks for good by filter and age: a selection is required',
    details: [
      'Select what to purge: a filter (--queue, --handler, --query, --tenant, --correlation-id, --since, --until; as `dlq list`',
      'selects), an age (--older-than 7d: failed longer ago than that), or --all for every dead task.',
      'One call deletes at most --limit entries (default and cap: admin.guardrails.purgeLimitMax),',
      'most recent failures first, and says when more remain. On a terminal it shows how many',
      'tasks would be deleted and asks; elsewhere it needs --yes. --dry-run only reports.'
    ].join('\n'),
    flags: {
      queue: { type: 'string', value: 'queue', description: 'purge dead tasks of this queue' },
      handler: { type: 'string', value: 'handler', description: 'purge dead tasks of this handler' },
      query: { type: 'string', value: 'text', description: 'purge dead tasks with this case-insensitive text in id, handler, payload or error' },
      tenant: { type: 'string', value: 'tenant', description: 'purge dead tasks of this tenant' },
      'correlation-id': { type: 'string', value: 'id', description: 'purge dead tasks with this correlation id' },
      ...WINDOW_FLAGS,
      'older-than': { type: 'string', value: 'duration', description: 'purge dead tasks that failed longer ago than this (30m, 36h, 7d)' },
      all: { type: 'boolean', description: 'purge dead tasks of every queue and handler' },
      limit: { type: 'string', value: 'n', description: 'delete at most this many (default: the deployment\'s admin.guardrails.purgeLimitMax)' },
      'dry-run': dryRun,
      'expect-selection': expectSelection,
      yes
    },
    admin: true,
    json: true,
    rpcs: ['PurgeDLQ'],
    examples: ['switchyard dlq purge --older-than 30d --dry-run', 'switchyard dlq purge --queue emails --query "invalid address" --yes'],
    load: async () => (await dlq()).runDlqPurge
  },

  // --- jobs ----------------------------------------------------------------------------------
  {
    name: 'jobs list',
    summary: 'job definitions by name',
    flags: { limit: limit('definitions', 100) },
    admin: true,
    json: true,
    rpcs: ['ListJobs'],
    load: async () => (await jobs()).runJobsList
  },
  {
    name: 'jobs get',
    summary: 'one job definition',
    args: name('job name'),
    admin: true,
    json: true,
    rpcs: ['GetJob'],
    load: async () => (await jobs()).runJobsGet
  },
  {
    name: 'jobs apply',
    summary: 'create or replace a job definition from a YAML or JSON file',
    flags: { file: { type: 'string', short: 'f', value: 'file', complete: 'file', description: 'the definition (name, source, repo, tag, tarballUrl, ...), YAML or JSON (required)' } },
    admin: true,
    json: true,
    rpcs: ['UpsertJob'],
    examples: ['switchyard jobs apply -f job.yaml'],
    load: async () => (await jobs()).runJobsApply
  },
  {
    name: 'jobs delete',
    summary: 'delete a job definition (its runs are kept)',
    args: name('job name'),
    admin: true,
    json: true,
    rpcs: ['DeleteJob'],
    load: async () => (await jobs()).runJobsDelete
  },
  {
    name: 'jobs run',
    summary: 'queue a run of a job now',
    args: name('job name'),
    admin: true,
    json: true,
    rpcs: ['RunJob'],
    load: async () => (await jobs()).runJobsRun
  },
  {
    name: 'jobs runs',
    summary: 'job runs, newest first',
    flags: { job: { type: 'string', value: 'name', description: 'only runs of this job' }, limit: limit('runs', 100) },
    admin: true,
    json: true,
    rpcs: ['ListJobRuns'],
    load: async () => (await jobs()).runJobsRuns
  },
  {
    name: 'jobs status',
    summary: 'one job run: state, exit code, revision, image, artifacts',
    args: [{ name: 'run', required: true, description: 'run id' }],
    admin: true,
    json: true,
    rpcs: ['GetJobRun'],
    load: async () => (await jobs()).runJobsStatus
  },
  {
    name: 'jobs cancel',
    summary: 'cancel a queued run, or stop a running one',
    args: [{ name: 'run', required: true, description: 'run id' }],
    admin: true,
    json: true,
    rpcs: ['CancelJobRun'],
    load: async () => (await jobs()).runJobsCancel
  },
  {
    name: 'jobs logs',
    summary: 'a job\'s events and output (job.output chunks), oldest first',
    args: name('job name'),
    flags: {
      run: { type: 'string', value: 'id', description: 'only this run' },
      limit: limit('events', 1000),
      follow: { type: 'boolean', short: 'f', description: 'then keep printing new events (through the event stream, resuming after a dropped connection); with --run, until the run finishes' }
    },
    admin: true,
    json: true,
    rpcs: ['ListJobEvents', 'StreamEvents'],
    load: async () => (await jobs()).runJobsLogs
  },
  {
    name: 'jobs artifact',
    summary: 'a job artifact\'s metadata, or with -o its content (default: the latest source archive)',
    args: name('job name'),
    flags: {
      run: { type: 'string', value: 'id', description: 'the run (default: the latest that stored it)' },
      artifact: { type: 'string', value: 'name', description: 'artifact name within the run (default: the source archive)' },
      output: { type: 'string', short: 'o', value: 'file', complete: 'file', description: 'download to this new file, or - for stdout' }
    },
    admin: true,
    json: true,
    rpcs: ['GetJobArtifactMeta', 'GetJobArtifact'],
    load: async () => (await jobs()).runJobsArtifact
  },

  // --- observing ---------------------------------------------------------------------------
  {
    name: 'overview',
    summary: 'totals, queues, workers and coordination state',
    admin: true,
    json: true,
    rpcs: ['GetOverview'],
    load: async () => (await observe()).runOverview
  },
  {
    name: 'health',
    summary: 'status, version, commit, backend and uptime of the deployment',
    admin: true,
    json: true,
    rpcs: ['GetHealth'],
    load: async () => (await observe()).runHealth
  },
  {
    name: 'workers',
    aliases: ['workers list'],
    summary: 'live worker processes with their queues, handlers, load and cordon',
    flags: { stale: { type: 'boolean', description: 'also workers that stopped heartbeating (kept an hour, until swept)' } },
    admin: true,
    json: true,
    rpcs: ['ListWorkers'],
    load: async () => (await observe()).runWorkers
  },
  {
    name: 'workers cordon',
    summary: 'cordon a worker: it finishes what it runs and leases nothing more (from its next lease call)',
    args: id('worker id (see switchyard workers)'),
    admin: true,
    json: true,
    rpcs: ['CordonWorker'],
    load: async () => (await workers()).runWorkersCordon
  },
  {
    name: 'workers uncordon',
    summary: 'uncordon a worker: it leases again (from its next heartbeat)',
    args: id('worker id'),
    admin: true,
    json: true,
    rpcs: ['UncordonWorker'],
    load: async () => (await workers()).runWorkersUncordon
  },
  {
    name: 'workers release-leases',
    summary: 'recover the tasks a dead worker leased now, instead of at their lease expiry',
    details: [
      'Each task goes back to ready, or to the DLQ when the attempt was its last, as when its lease',
      'expires; the worker can no longer ack it. Refused while the worker still heartbeats, unless --force.'
    ].join('\n'),
    args: id('worker id (see switchyard workers --stale)'),
    flags: {
      force: { type: 'boolean', description: 'release even though the worker still heartbeats (its results are then discarded)' },
      'dry-run': dryRun,
      limit: limit('tasks per call', 1000)
    },
    admin: true,
    json: true,
    rpcs: ['ReleaseWorkerLeases'],
    examples: ['switchyard workers release-leases host-1:4242:ab12cd34 --dry-run'],
    load: async () => (await workers()).runWorkersReleaseLeases
  },
  {
    name: 'workers sweep',
    summary: 'remove the registry entries of workers that stopped heartbeating (never a live one)',
    flags: {
      'older-than': { type: 'string', value: 'duration', description: 'only those whose last heartbeat is at least this old, e.g. 10m (default: every stale entry)' },
      'dry-run': dryRun,
      limit: limit('entries per call', 1000)
    },
    admin: true,
    json: true,
    rpcs: ['SweepWorkers'],
    examples: ['switchyard workers sweep --older-than 10m --dry-run'],
    load: async () => (await workers()).runWorkersSweep
  },
  {
    name: 'metrics',
    summary: 'metrics of the serving process: Prometheus text, or the JSON snapshot with --json',
    admin: true,
    json: true,
    rpcs: ['GetMetrics'],
    load: async () => (await observe()).runMetrics
  },
  {
    name: 'events',
    summary: 'the admin event log: replay retained events, or follow it live with --follow',
    details: [
      'Without --follow: prints the retained events after --after (default: from the oldest) and',
      'exits once it has caught up (an event newer than the command, or --idle without one).',
      'With --follow: prints events as they come until interrupted; after a dropped connection it',
      'reconnects with Last-Event-ID set to the last event printed, so nothing is missed or repeated.'
    ].join('\n'),
    flags: {
      follow: { type: 'boolean', short: 'f', description: 'keep following, reconnecting after a dropped connection' },
      after: { type: 'string', value: 'id', description: 'start after this event id ("0": from the oldest retained event)' },
      limit: { type: 'string', value: 'n', description: 'stop after this many events' },
      idle: { type: 'string', value: 'duration', description: 'without --follow: stop after this long without an event (default 2s)' }
    },
    admin: true,
    json: true,
    rpcs: ['StreamEvents'],
    examples: ['switchyard events --follow --json | jq .type'],
    load: async () => (await import('./events.ts')).runEvents
  },
  {
    name: 'events list',
    summary: 'the event log as a timeline: newest first (page back with --before) or after an id (--after), filtered',
    flags: {
      type: { type: 'string', value: 'types', description: 'event types, comma-separated: exact (task.dead) or a prefix ending in "." (task.); audit for audit events' },
      target: { type: 'string', value: 'target', description: 'only events about this task id, queue, schedule, job or run' },
      since,
      until: { type: 'string', value: 'time', description: 'only events at or before this time (RFC 3339)' },
      before: { type: 'string', value: 'id', description: 'page back: events older than this id (the previous page prints it)' },
      after: { type: 'string', value: 'id', description: 'catch up: events after this id, oldest first ("0": from the oldest retained)' },
      limit: limit('events per page', 50)
    },
    admin: true,
    json: true,
    rpcs: ['ListEvents'],
    examples: ['switchyard events list --type task.dead,dlq. --since 1h', 'switchyard events list --target mail --json'],
    load: async () => (await import('./console.ts')).runEventsList
  },
  {
    name: 'metrics history',
    summary: 'task counts and queue depths over time, cluster-wide: per minute (1h, 24h) or hourly (7d, 30d)',
    flags: {
      window: { type: 'string', value: 'window', complete: ['1h', '24h', '7d', '30d'], description: 'how far back (default 1h)' },
      queue: queueFilter
    },
    admin: true,
    json: true,
    rpcs: ['GetMetricsHistory'],
    load: async () => (await import('./console.ts')).runMetricsHistory
  },
  {
    name: 'session',
    aliases: ['whoami'],
    summary: 'who the deployment takes you for: identity, role, read-only and approval state, backend and capabilities',
    admin: true,
    json: true,
    rpcs: ['GetSession'],
    load: async () => (await import('./console.ts')).runSession
  },
  {
    name: 'audit list',
    aliases: ['audit'],
    summary: 'audit events of admin mutations, newest first',
    flags: {
      limit: limit('events per page', 50),
      action: { type: 'string', value: 'action', description: 'only this action, e.g. dlq.replay' },
      target: { type: 'string', value: 'target', description: 'only this target (queue, task id, schedule)' },
      since,
      before: { type: 'string', value: 'id', description: 'page backwards: only events older than this id (the previous page prints it)' }
    },
    admin: true,
    json: true,
    rpcs: ['ListAuditEvents'],
    load: async () => (await audit()).runAuditList
  },
  {
    name: 'audit export',
    summary: 'export audit events as a file (jsonl, json or csv), to stdout or --output',
    flags: {
      format: { type: 'string', value: 'format', complete: ['jsonl', 'json', 'csv'], description: 'file format (default jsonl)' },
      output: { type: 'string', short: 'o', value: 'file', complete: 'file', description: 'write the file here instead of stdout' },
      limit: { type: 'string', value: 'n', description: 'events to export, newest first (default and cap: admin.audit.exportLimitMax)' },
      action: { type: 'string', value: 'action', description: 'only this action' },
      target: { type: 'string', value: 'target', description: 'only this target' },
      since
    },
    admin: true,
    json: true,
    rpcs: ['ExportAudit'],
    load: async () => (await audit()).runAuditExport
  },

  // --- local tools -----------------------------------------------------------------------
  {
    name: 'config check',
    summary: 'validate a config file and print the effective config',
    args: [{ name: 'file', required: false, description: 'config file (default: --config, else the embedded default)' }],
    admin: false,
    json: false,
    rpcs: [],
    load: async () => {
      const { runConfigCheck } = await import('./config-check.ts')
      return async ({ values, positionals }) => await runConfigCheck(positionals[0] ?? (typeof values.config === 'string' ? values.config : undefined))
    }
  },
  {
    name: 'certs',
    summary: 'create a development CA, server and client certificates (default <dataDir>/certs)',
    flags: {
      dir: { type: 'string', value: 'dir', complete: 'file', description: 'directory to write them to' },
      force: { type: 'boolean', description: 'replace existing certificates' }
    },
    admin: false,
    json: true,
    rpcs: [],
    load: async () => (await import('./certs.ts')).runCerts
  },
  {
    name: 'completion',
    summary: 'print a shell completion script: bash or zsh',
    details: 'bash: add `source <(switchyard completion bash)` to ~/.bashrc\nzsh:  add `source <(switchyard completion zsh)` to ~/.zshrc (after compinit)',
    args: [{ name: 'shell', required: true, description: 'bash or zsh', complete: ['bash', 'zsh'] }],
    admin: false,
    json: false,
    rpcs: [],
    load: async () => (await import('./completion.ts')).runCompletion
  }
]

/** every name a command answers to (its name and aliases), as word lists */
export function commandNames (spec: CommandSpec): string[][] {
  return [spec.name, ...(spec.aliases ?? [])].map(n => n.split(' '))
}

/** all flags a command accepts: its own, the connection flags, --json, and the global ones */
export function flagsOf (spec: CommandSpec): FlagTable {
  return {
    ...(spec.flags ?? {}),
    ...(spec.admin ? CONNECTION_FLAGS_HELP : {}),
    ...(spec.json ? JSON_FLAG : {}),
    ...GLOBAL_FLAGS
  }
}
