// The config file's schema. It is the single source for validation, defaults, the
// generated config/schema.json (editor completion) and the configuration docs, so
// every key carries a description. Keys arrive with the feature that reads them:
// a key that does nothing is not accepted.
import { Type, type Static, type TSchema } from 'typebox'
import { UNIT_KEY, HINT_KEY, MIN_MS_KEY } from './schema-keys.ts'
import { BYTE_SIZE_HINT, BYTE_SIZE_PATTERN, DURATION_HINT, DURATION_PATTERN } from './units.ts'

/** Names end up in keys, URLs and metric labels; the same rule as enqueue applies. */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'
export const NAME_HINT = "must be 1-128 characters of letters, digits, '_', '.', ':' or '-', starting with a letter or digit"

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const
export const ADMIN_ROLES = ['viewer', 'operator', 'admin'] as const
export const BUILTIN_PLUGINS = ['backend-postgres', 'backend-redis', 'backend-bullmq', 'audit-file', 'metrics', 'job-source-git', 'artifact-store-fs', 'event-store-file', 'job-source-tarball', 'runtime-docker', 'admin-console'] as const
export const CONSOLE_AUTH_MODES = ['password', 'bearer', 'header', 'none'] as const

// Annotation keys (defined in schema-keys.ts, so the resolver loads without this schema)
export { UNIT_KEY, HINT_KEY, MIN_MS_KEY }

interface DurationOptions { description: string, default?: string, minMs?: number }

/** A duration: "500ms", "30s", "1h30m", "7d" or a number of milliseconds. */
export function Duration (options: DurationOptions) {
  const { minMs = 1, ...rest } = options
  return Type.Union([Type.String({ pattern: DURATION_PATTERN }), Type.Integer({ minimum: 0 })], {
    ...rest, [UNIT_KEY]: 'duration', [HINT_KEY]: DURATION_HINT, [MIN_MS_KEY]: minMs
  })
}

/** A byte size: "512kb", "64mb" (powers of 1024) or a number of bytes. */
export function ByteSize (options: { description: string, default?: string | number }) {
  return Type.Union([Type.String({ pattern: BYTE_SIZE_PATTERN }), Type.Integer({ minimum: 0 })], {
    ...options, [UNIT_KEY]: 'bytes', [HINT_KEY]: BYTE_SIZE_HINT
  })
}

const HOST_PORT_PATTERN = '^(?:\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$'

function HostPort (description: string, defaultValue: string) {
  return Type.String({ pattern: HOST_PORT_PATTERN, default: defaultValue, description, [HINT_KEY]: 'must be host:port, e.g. 127.0.0.1:8081 or [::1]:8081' })
}

function Name (description: string, defaultValue?: string) {
  return Type.String({ pattern: NAME_PATTERN, description, [HINT_KEY]: NAME_HINT, ...(defaultValue === undefined ? {} : { default: defaultValue }) })
}

/** Objects reject unknown keys everywhere, so a typo is an error and not a silently ignored setting. */
function Section<T extends Record<string, TSchema>> (properties: T, description: string) {
  return Type.Object(properties, { additionalProperties: false, description, default: {} })
}

const PluginSpec = Type.Object({
  name: Type.String({
    minLength: 1,
    description: `A built-in plugin (${BUILTIN_PLUGINS.join(', ')}), an npm package name, or a path starting with ./, ../ or / (relative to the config file's directory)`
  }),
  options: Type.Optional(Type.Record(Type.String(), Type.Unknown(), {
    description: "Options for the plugin, validated by the plugin's own schema"
  }))
}, { additionalProperties: false, description: 'One plugin to load' })

const Queue = Type.Object({
  weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Share of dequeues this queue gets relative to the others (default 1); an operator override stored in the backend wins' }))
}, { additionalProperties: false, description: 'Settings of one queue' })

const Tasks = Section({
  maxAttempts: Type.Integer({ minimum: 1, maximum: 1000, default: 5, description: 'Attempts a task gets before it is dead-lettered, when enqueue does not say' }),
  timeout: Duration({ default: '5m', description: 'How long one attempt may run before it is failed, when enqueue does not say (at most 7d)' }),
  priority: Type.Integer({ minimum: -1000, maximum: 1000, default: 0, description: 'Priority when enqueue does not say; higher runs first within a queue' }),
  resultMaxBytes: ByteSize({ default: '64kb', description: 'Largest handler return value stored as a task\'s result, as JSON (at most 1mb); a larger one is not stored, the task still succeeds' })
}, 'Defaults applied to enqueued tasks, and what a task stores')

const Retry = Section({
  baseDelay: Duration({ default: '1s', minMs: 0, description: 'Delay before the first retry' }),
  maxDelay: Duration({ default: '1h', description: 'Upper bound of the retry delay' }),
  factor: Type.Number({ minimum: 1, maximum: 100, default: 2, description: 'Each retry waits this many times longer than the previous one' }),
  jitter: Type.Number({ minimum: 0, maximum: 1, default: 0.2, description: 'Random spread of each delay, as a fraction of it (0.2 = ±20%)' })
}, 'Exponential backoff between attempts')

const WorkerRateLimit = Type.Object({
  limit: Type.Integer({ minimum: 1, description: 'Tasks started per window, cluster-wide' }),
  window: Duration({ description: 'Length of the rate-limit window' })
}, { additionalProperties: false, description: 'Cluster-wide cap on task starts; absent means unlimited' })

const Worker = Section({
  enabled: Type.Boolean({ default: true, description: 'Run a worker in this process' }),
  queues: Type.Optional(Type.Array(Name('A queue name'), { minItems: 1, maxItems: 1000, description: 'Queues this worker takes tasks from; absent means every known queue' })),
  concurrency: Type.Integer({ minimum: 1, maximum: 10_000, default: 10, description: 'Tasks run at the same time by this process' }),
  batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Tasks leased per backend call; absent means the concurrency' })),
  leaseTimeout: Duration({ default: '30s', description: 'How long a lease lasts without renewal before another worker may recover the task' }),
  leaseRenewInterval: Duration({ default: '10s', description: 'How often running tasks renew their lease; must be shorter than leaseTimeout' }),
  pollInterval: Duration({ default: '1s', description: 'How often an idle worker looks for work when the backend cannot notify it' }),
  recoveryInterval: Duration({ default: '5s', description: 'How often expired leases are recovered' }),
  heartbeatInterval: Duration({ default: '5s', description: 'How often this worker reports itself as alive' }),
  shutdownGrace: Duration({ default: '10s', minMs: 0, description: 'How long a graceful shutdown waits for running tasks before releasing them' }),
  retry: Retry,
  rateLimit: Type.Optional(WorkerRateLimit)
}, 'The worker runtime of this process')

const Demo = Section({
  enabled: Type.Optional(Type.Boolean({ description: 'Register the demo handlers and enqueue a trickle of demo tasks; default true without a config file, false with one' })),
  interval: Duration({ default: '2s', description: 'Time between two batches of demo tasks (two noop, one sleep; every 5th a critical noop, every 10th a fail)' })
}, 'Built-in demo handlers that make the console show real movement')

const Tls = Section({
  cert: Type.Optional(Type.String({ minLength: 1, description: 'Path of the server certificate (PEM)' })),
  key: Type.Optional(Type.String({ minLength: 1, description: 'Path of the server private key (PEM)' })),
  ca: Type.Optional(Type.String({ minLength: 1, description: 'Path of the CA bundle (PEM) that client certificates must chain to' })),
  clientCert: Type.Optional(Type.String({ minLength: 1, description: 'Path of the client certificate (PEM) `switchyard gateway` presents to grpcTarget; absent: the development client certificate, or cert when TLS files are configured' })),
  clientKey: Type.Optional(Type.String({ minLength: 1, description: 'Path of the private key (PEM) of clientCert' }))
}, 'Mutual TLS for the admin listeners; absent paths use the generated development certificates')

const Audit = Section({
  eventLimit: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 10_000, description: 'Audit events kept in the backend; older ones are pruned' }),
  retention: Type.Optional(Duration({ description: 'Audit events older than this are pruned; absent means no age limit' })),
  archiveDir: Type.Optional(Type.String({ minLength: 1, description: 'Directory every audit event is archived to as JSONL (the audit-file plugin; setting this alone loads it)' })),
  archiveInterval: Duration({ default: '5s', description: 'How often audit events are archived and pruned' }),
  exportLimitMax: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000, description: 'Most audit events one export may return' })
}, 'The audit trail of admin mutations')

const Guardrails = Section({
  replayLimitMax: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000, description: 'Most DLQ entries one ReplayDLQ call may replay' }),
  replayIdsMax: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000, description: 'Most ids one ReplayDLQByID call may name' }),
  purgeLimitMax: Type.Integer({ minimum: 1, maximum: 100_000, default: 10_000, description: 'Most DLQ entries one PurgeDLQ call may delete (also its default limit)' }),
  scheduleRunMax: Type.Integer({ minimum: 1, maximum: 10_000, default: 10, description: 'Manual schedule runs allowed per scheduleRunWindow, counted cluster-wide (in the backend)' }),
  scheduleRunWindow: Duration({ default: '1m', description: 'Window over which scheduleRunMax is counted' }),
  bulkMax: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000, description: 'Most tasks one bulk task action (BulkTaskAction, DrainQueue) may select: ids named, or a filter\'s limit' })
}, 'Caps on bulk admin actions')

const FlowLimitSpec = Type.Object({
  concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'At most this many tasks running at once across all workers' })),
  rate: Type.Optional(Type.Object({
    limit: Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: 'Task starts per window, cluster-wide' }),
    window: Duration({ description: 'Length of the window (at most 24h)' })
  }, { additionalProperties: false, description: 'At most limit starts per window' }))
}, { additionalProperties: false, minProperties: 1, description: 'A cluster-wide limit: concurrency, rate or both' })

const FlowLimits = (description: string) => Type.Record(Type.String(), FlowLimitSpec, {
  default: {},
  maxProperties: 1000,
  propertyNames: { pattern: NAME_PATTERN, [HINT_KEY]: NAME_HINT },
  description
})

const FlowControl = Section({
  queues: FlowLimits('Limits per queue name'),
  handlers: FlowLimits('Limits per handler name, across every queue'),
  tenants: FlowLimits('Limits per tenant (the tenant tasks are enqueued with), across every queue and handler; tasks without a tenant are not held back by them')
}, 'Cluster-wide concurrency and rate limits per queue, per handler and per tenant, stored in the backend at start (creating or replacing those limits; operators change them at run time with SetFlowLimit / `switchyard limits`)')

const CronSpec = (description: string) => Type.String({ minLength: 1, maxLength: 200, description })

const ScheduleSpec = Type.Object({
  name: Name('The schedule factory it runs (a handler listed in durableHandlers/handlers, or one registered in code)'),
  spec: CronSpec('Cron expression: 5 fields, or 6 with leading seconds, e.g. "0 2 * * *"'),
  timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone the spec is read in (default UTC)' })),
  durable: Type.Optional(Type.Boolean({ description: 'Stored in the backend and fired once cluster-wide by the leader (default: the factory\'s default)' })),
  paused: Type.Optional(Type.Boolean({ description: 'Create it paused; an existing schedule keeps its pause state when absent' })),
  overlap: Type.Optional(Type.Enum(['skip', 'allow'], { description: 'skip (default): skip a tick while the previous run is still queued or running; allow: always enqueue' })),
  catchUp: Type.Optional(Type.Enum(['none', 'latest'], { description: 'After downtime longer than misfireGrace: none (default) skips the missed instants, latest runs the most recent one' }))
}, { additionalProperties: false, description: 'One schedule, created or updated at start' })

const Presets = (description: string) => Type.Record(Type.String(), CronSpec('cron expression'), {
  default: {},
  maxProperties: 1000,
  propertyNames: { pattern: NAME_PATTERN, [HINT_KEY]: NAME_HINT },
  description
})

const Scheduler = Section({
  enabled: Type.Boolean({ default: true, description: 'Run the scheduler in this process (in-memory schedules, and durable ones while it holds the leader lock)' }),
  tickInterval: Duration({ default: '500ms', minMs: 10, description: 'Longest wait between two scheduler passes' }),
  leaderTtl: Duration({ default: '10s', minMs: 1000, description: 'Leader lock lifetime without renewal: how long a dead leader delays durable schedules' }),
  misfireGrace: Duration({ default: '60s', minMs: 1000, description: 'A due instant older than this is missed (see catchUp) instead of fired late; must exceed leaderTtl so a leader change misses nothing' }),
  durableHandlers: Type.Array(Name('A handler name'), { default: [], maxItems: 1000, description: 'Handlers registered as schedule factories whose schedules are durable by default (WORKER_DURABLE_CRON_HANDLERS)' }),
  handlers: Type.Array(Name('A handler name'), { default: [], maxItems: 1000, description: 'Handlers registered as schedule factories whose schedules are in-memory by default (WORKER_CRON_HANDLERS)' }),
  durablePresets: Presets('Durable schedules created at start, factory name → cron spec (WORKER_DURABLE_CRON_PRESETS)'),
  presets: Presets('In-memory schedules created at start, factory name → cron spec (WORKER_CRON_PRESETS)'),
  schedules: Type.Array(ScheduleSpec, { default: [], maxItems: 1000, description: 'Schedules created (or updated) at start' })
}, 'Cron schedules: factories, presets, leader-only durable ticks')

const Retention = Section({
  enabled: Type.Boolean({ default: true, description: 'Delete finished tasks once their state\'s retention has passed; one process at a time does it (the holder of the retention leader lock)' }),
  succeeded: Duration({ default: '24h', minMs: 0, description: 'How long a succeeded task is kept after it finished' }),
  canceled: Duration({ default: '24h', minMs: 0, description: 'How long a canceled task is kept after it was canceled' }),
  dead: Type.Optional(Duration({ minMs: 0, description: 'How long a dead task (in the DLQ) is kept after it failed; absent means until an operator replays or deletes it' })),
  interval: Duration({ default: '1m', minMs: 100, description: 'How often finished tasks past their retention are deleted' }),
  batchSize: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000, description: 'Tasks deleted per backend call; a pass goes on while calls come back full' })
}, 'Retention of finished tasks, per final state')

const Role = (description: string) => Type.Enum([...ADMIN_ROLES], { description })

const ConsoleAuth = Section({
  mode: Type.Enum([...CONSOLE_AUTH_MODES], {
    default: 'password',
    description: 'password: HTTP Basic or the login form (users, or one generated admin password printed once at start); bearer: Authorization: Bearer tokens; header: the identity a reverse proxy puts in a header (only from proxies); none: no sign-in, allowed only on a loopback address'
  }),
  users: Type.Record(Type.String(), Type.Object({
    passwordHash: Type.String({ pattern: '^scrypt\\$[0-9]+\\$[0-9]+\\$[0-9]+\\$[A-Za-z0-9+/=]+\\$[A-Za-z0-9+/=]+$', description: 'scrypt$N$r$p$salt$hash (salt and hash in base64), the format of the generated <dataDir>/console/password.json' }),
    role: Role('The user\'s role')
  }, { additionalProperties: false }), {
    default: {},
    maxProperties: 1000,
    propertyNames: { pattern: NAME_PATTERN, [HINT_KEY]: NAME_HINT },
    description: 'password mode: user name → password hash and role; empty: one user "admin" (role admin) whose password is generated on first start, printed once, and kept hashed in <dataDir>/console/'
  }),
  tokens: Type.Array(Type.Object({
    name: Name('Who the token belongs to (the audit log names it)'),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'hex SHA-256 of the token (the token itself is never stored)' }),
    role: Role('The token\'s role')
  }, { additionalProperties: false }), { default: [], maxItems: 1000, description: 'bearer mode: accepted tokens, by hash' }),
  header: Section({
    user: Type.String({ minLength: 1, maxLength: 128, default: 'x-forwarded-user', description: 'Header carrying the signed-in user (set by the proxy)' }),
    role: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Header carrying the user\'s role (viewer, operator or admin); absent: roles and defaultRole decide' })),
    proxies: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { default: [], maxItems: 100, description: 'Addresses of the proxies whose headers are believed; a request from any other address is refused' }),
    roles: Type.Record(Type.String(), Type.Enum([...ADMIN_ROLES]), { default: {}, maxProperties: 10_000, description: 'user → role' }),
    defaultRole: Type.Enum([...ADMIN_ROLES], { default: 'viewer', description: 'Role of a user neither the role header nor roles names' })
  }, 'header mode: identity from a trusted reverse proxy (e.g. an OIDC proxy)'),
  noneRole: Type.Enum([...ADMIN_ROLES], { default: 'admin', description: 'none mode: the role of the local user' })
}, 'How people sign in to the console')

const Console = Section({
  addr: HostPort('host:port of the web console listener', '127.0.0.1:8080'),
  plain: Type.Boolean({ default: false, description: 'Serve plain HTTP (only behind a TLS-terminating proxy): allowed with header or bearer auth, or on a loopback address; default: HTTPS with the admin server certificate' }),
  auth: ConsoleAuth,
  sessionIdleTimeout: Duration({ default: '30m', minMs: 1000, description: 'A session unused this long ends' }),
  sessionMaxAge: Duration({ default: '12h', minMs: 1000, description: 'A session ends this long after sign-in, used or not' }),
  maxSessions: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000, description: 'Sessions kept in memory; the least recently used ends when a new one would exceed it' }),
  loginAttemptsPerMinute: Type.Integer({ minimum: 1, maximum: 10_000, default: 10, description: 'Sign-in attempts accepted per client address per minute' }),
  readOnly: Type.Boolean({ default: false, description: 'The console refuses every mutation (the admin service still enforces admin.readOnly on its own)' })
}, 'The web console (the admin-console plugin): its listener, sign-in and sessions')

const Admin = Section({
  grpcAddr: HostPort('host:port of the gRPC AdminService listener', '127.0.0.1:50052'),
  grpcTarget: Type.Optional(Type.String({ minLength: 1, description: 'host:port of a remote AdminService; when set the gateway calls it instead of starting a local one' })),
  httpAddr: HostPort('host:port of the HTTPS gateway listener', '127.0.0.1:8081'),
  tls: Tls,
  trustedGateways: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), {
    default: [],
    maxItems: 100,
    description: 'Certificate identities of gateways whose forwarded caller identity (and console session role, as a cap) the gRPC service believes; any other caller\'s claims are ignored (audited as untrustedForwardedIdentity, untrustedForwardedRole)'
  }),
  readOnly: Type.Boolean({ default: false, description: 'Refuse every mutation' }),
  requireApproval: Type.Boolean({ default: false, description: 'Mutations need the X-Admin-Approval header carrying approvalToken' }),
  approvalToken: Type.Optional(Type.String({ minLength: 1, description: 'The approval token; required when requireApproval is true' })),
  roles: Type.Optional(Type.Record(Type.String(), Type.Enum([...ADMIN_ROLES]), {
    propertyNames: { minLength: 1 },
    description: 'Client certificate subject → role (viewer: read-only, operator: actions, admin: all); absent means every verified client is admin'
  })),
  requestTimeout: Duration({ default: '10s', description: 'Deadline of one admin request, backend calls included' }),
  bodyLimit: ByteSize({ default: '1mb', description: 'Largest accepted HTTP request body' }),
  audit: Audit,
  guardrails: Guardrails
}, 'The admin control plane: gRPC service, HTTP gateway, approval, audit')

const JobDefaults = Section({
  queue: Type.Optional(Name('Queue of a job definition that names none; absent: defaultQueue')),
  retries: Type.Integer({ minimum: 0, maximum: 100, default: 0, description: 'Retries of a job definition that names none (attempts = retries + 1)' }),
  timeout: Duration({ default: '10m', minMs: 1000, description: 'Run timeout of a job definition that names none (at most 24h)' }),
  memory: ByteSize({ default: '512mb', description: 'Container memory limit of a job definition that names none' }),
  cpus: Type.Number({ exclusiveMinimum: 0, maximum: 64, default: 1, description: 'Container CPU limit of a job definition that names none' }),
  pids: Type.Integer({ minimum: 1, maximum: 32_768, default: 256, description: 'Container process limit of a job definition that names none' })
}, 'What a job definition gets for the fields it leaves out')

const Jobs = Section({
  repoAllowlist: Type.Array(Type.String({ minLength: 1, maxLength: 512 }), { default: [], maxItems: 1000, description: 'Git repositories jobs may fetch (exact URLs, or "*" for all); empty: no git job runs (WORKER_JOB_REPO_ALLOWLIST)' }),
  gitBin: Type.String({ minLength: 1, default: 'git', description: 'The git executable (WORKER_JOB_GIT_BIN)' }),
  dockerSocket: Type.Optional(Type.String({ minLength: 1, description: 'Unix socket of the Docker Engine API (or podman\'s Docker-compatible API) the runtime-docker plugin uses when its socketPath option is absent; absent: DOCKER_HOST, else the socket dockerBin reports, else /var/run/docker.sock (WORKER_JOB_DOCKER_SOCKET)' })),
  dockerBin: Type.String({ minLength: 1, default: 'docker', description: 'The engine\'s CLI (docker or podman) the runtime-docker plugin asks for its API socket (docker context inspect, podman info) when neither socketPath, dockerSocket nor DOCKER_HOST names one (WORKER_JOB_DOCKER_BIN)' }),
  network: Type.String({ minLength: 1, maxLength: 128, default: 'none', description: 'Container network of a job whose definition names none; "none" means no network (WORKER_JOB_NETWORK)' }),
  workdir: Type.Optional(Type.String({ minLength: 1, description: 'Scratch root for fetched sources and build contexts; absent: <dataDir>/jobs (WORKER_JOB_WORKDIR)' })),
  outputBytes: ByteSize({ default: '1mb', description: 'Combined stdout+stderr kept per run; the rest is cut with a marker (WORKER_JOB_OUTPUT_BYTES)' }),
  tarballAllowlist: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { default: [], maxItems: 1000, description: 'Hostnames HTTPS tarballs may come from; empty: no tarball_url job runs (WORKER_JOB_TARBALL_ALLOWLIST)' }),
  tarballDir: Type.Optional(Type.String({ minLength: 1, description: 'Root that tarball_path sources must resolve inside; absent: no tarball_path job runs (WORKER_JOB_TARBALL_DIR)' })),
  tarballMaxBytes: ByteSize({ default: '64mb', description: 'Largest tarball fetched, enforced while streaming (WORKER_JOB_TARBALL_MAX_BYTES)' }),
  tarballTimeout: Duration({ default: '30s', description: 'Longest a tarball download may take (WORKER_JOB_TARBALL_TIMEOUT)' }),
  adminTarballDir: Type.Optional(Type.String({ minLength: 1, description: 'Root the admin service reads a tarball_path job\'s archive from for GetJobArtifact when no run stored one; absent: tarballDir (WORKER_ADMIN_JOB_TARBALL_DIR)' })),
  eventDir: Type.Optional(Type.String({ minLength: 1, description: 'Directory of the file-backed job event store (the event-store-file plugin; setting this alone loads it): job events kept in files that survive restarts (WORKER_JOB_EVENT_DIR)' })),
  eventMaxEntries: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 10_000, description: 'Job events kept per key by the file event store (WORKER_JOB_EVENT_MAX_ENTRIES)' }),
  eventCacheTtl: Duration({ default: '10s', minMs: 0, description: 'How long the file event store caches what it read (WORKER_JOB_EVENT_CACHE_TTL)' }),
  defaults: JobDefaults
}, 'Containerized jobs: sources, runtime, output, events, and defaults of job definitions')

export const ConfigSchema = Type.Object({
  dataDir: Type.String({ minLength: 1, default: '.switchyard', description: 'Directory for local state (embedded database, generated certificates); a relative path is relative to the working directory, as without a config file' }),
  log: Section({
    level: Type.Enum([...LOG_LEVELS], { default: 'info', description: 'Lowest log level written' }),
    format: Type.Enum([...LOG_FORMATS], { default: 'auto', description: 'pretty: one human-readable line per record; json: one JSON object per line; auto: pretty when stderr is a terminal, else json' })
  }, 'Logging'),
  plugins: Type.Optional(Type.Array(PluginSpec, {
    maxItems: 100,
    description: 'Plugins to load, in any order (dependencies load first); absent means the embedded Postgres backend (PGlite in <dataDir>/pglite) and the metrics plugin'
  })),
  handlers: Type.Array(Type.String({ minLength: 1 }), {
    default: [],
    maxItems: 1000,
    description: "Modules that export task handlers, relative to the config file's directory"
  }),
  defaultQueue: Name('Queue of tasks enqueued without one', 'default'),
  queues: Type.Record(Type.String(), Queue, {
    default: {},
    maxProperties: 1000,
    propertyNames: { pattern: NAME_PATTERN, [HINT_KEY]: NAME_HINT },
    description: 'Known queues by name'
  }),
  tasks: Tasks,
  worker: Worker,
  demo: Demo,
  scheduler: Scheduler,
  retention: Retention,
  admin: Admin,
  console: Console,
  jobs: Jobs,
  flowControl: FlowControl
}, {
  additionalProperties: false,
  title: 'Switchyard configuration',
  description: 'Configuration of a Switchyard process (YAML or JSON)'
})

/**
 * The config after defaults are filled: what validation checks. Keys with a default
 * are listed as required in the schema because validation runs after the defaults
 * are applied; configFileJsonSchema() is the variant for files as written.
 */
export type DefaultedConfig = Static<typeof ConfigSchema>

/** JSON Schema of the file as written (editor completion): keys with a default are optional. */
export function configFileJsonSchema (): Record<string, unknown> {
  const relax = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(relax)
    if (node === null || typeof node !== 'object') return node
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(node)) out[key] = relax(value)
    const properties = out.properties as Record<string, Record<string, unknown>> | undefined
    if (Array.isArray(out.required) && properties !== undefined) {
      const required = (out.required as string[]).filter(key => !('default' in (properties[key] ?? {})))
      if (required.length > 0) out.required = required
      else delete out.required
    }
    return out
  }
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...relax(ConfigSchema) as Record<string, unknown> }
}
