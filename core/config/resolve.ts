// From a validated config (defaults filled, still in the file's spelling) to the
// ResolvedConfig code uses: units converted, paths absolute, absent values null.
// Also the checks a schema cannot express: minimums of durations and rules that
// relate two keys.
import { isAbsolute, resolve } from 'node:path'
import type { TSchema } from 'typebox'
import { MIN_MS_KEY, UNIT_KEY } from './schema-keys.ts'
import type { DefaultedConfig } from './schema.ts'
import { formatPath, type Problem } from './paths.ts'
import { parseByteSize, parseDuration } from './units.ts'
import { RESULT_MAX_BYTES_CEILING } from '../backend/results.ts'
import { BUILTIN_DEFAULTS } from './builtin-defaults.ts'
import type { AdminRole, ResolvedAdmin, ResolvedFlowLimit, ConsoleAuthMode, LogFormat, LogLevel, PluginSpec, ResolvedConfig, ResolvedConsole, ResolvedJobs, ResolvedSchedule, ResolvedScheduler } from './types.ts'

const MAX_TASK_TIMEOUT_MS = 7 * 86_400_000
const MAX_JOB_TIMEOUT_MS = 86_400_000

/** Fills `problems` with durations below their field's minimum (schema annotation x-min-ms). */
export function durationMinimumProblems (schema: TSchema, value: unknown, segments: string[] = []): Problem[] {
  const node = schema as Record<string, unknown>
  if (node[UNIT_KEY] === 'duration') {
    const ms = parseDuration(value)
    const min = typeof node[MIN_MS_KEY] === 'number' ? node[MIN_MS_KEY] : 0
    return ms !== null && ms < min ? [{ path: formatPath(segments), reason: `must be at least ${min}ms, got ${JSON.stringify(value)}` }] : []
  }
  const properties = node.properties as Record<string, TSchema> | undefined
  if (properties === undefined || value === null || typeof value !== 'object') return []
  return Object.entries(properties).flatMap(([key, child]) =>
    key in value ? durationMinimumProblems(child, (value as Record<string, unknown>)[key], [...segments, key]) : [])
}

function ms (value: string | number): number {
  return parseDuration(value) as number
}

function optionalMs (value: string | number | undefined): number | null {
  return value === undefined ? null : ms(value)
}

/** Rules between keys; run on a config that passed the schema. */
export function crossFieldProblems (input: DefaultedConfig): Problem[] {
  const problems: Problem[] = []
  const worker = input.worker
  if (ms(worker.leaseRenewInterval) >= ms(worker.leaseTimeout)) {
    problems.push({ path: 'worker.leaseRenewInterval', reason: `must be shorter than worker.leaseTimeout (${String(worker.leaseRenewInterval)} is not below ${String(worker.leaseTimeout)})` })
  }
  if (ms(worker.retry.maxDelay) < ms(worker.retry.baseDelay)) {
    problems.push({ path: 'worker.retry.maxDelay', reason: `must not be below worker.retry.baseDelay (${String(worker.retry.baseDelay)})` })
  }
  if (worker.batchSize !== undefined && worker.batchSize > worker.concurrency) {
    problems.push({ path: 'worker.batchSize', reason: `must not exceed worker.concurrency (${worker.concurrency}), got ${worker.batchSize}` })
  }
  if (ms(input.tasks.timeout) > MAX_TASK_TIMEOUT_MS) {
    problems.push({ path: 'tasks.timeout', reason: `must be at most 7d, got ${JSON.stringify(input.tasks.timeout)}` })
  }
  if ((parseByteSize(input.tasks.resultMaxBytes) as number) > RESULT_MAX_BYTES_CEILING) {
    problems.push({ path: 'tasks.resultMaxBytes', reason: `must be at most 1mb, got ${JSON.stringify(input.tasks.resultMaxBytes)}` })
  }
  if (ms(input.scheduler.misfireGrace) <= ms(input.scheduler.leaderTtl)) {
    problems.push({ path: 'scheduler.misfireGrace', reason: `must be longer than scheduler.leaderTtl (${String(input.scheduler.leaderTtl)}), or a leader change would miss instants` })
  }
  if (input.admin.requireApproval === true && input.admin.approvalToken === undefined) {
    problems.push({ path: 'admin.approvalToken', reason: 'required when admin.requireApproval is true (set it or WORKER_ADMIN_APPROVAL_TOKEN)' })
  }
  if (ms(input.jobs.defaults.timeout) > MAX_JOB_TIMEOUT_MS) {
    problems.push({ path: 'jobs.defaults.timeout', reason: `must be at most 24h, got ${JSON.stringify(input.jobs.defaults.timeout)}` })
  }
  for (const kind of ['queues', 'handlers', 'tenants'] as const) {
    for (const [name, spec] of Object.entries(input.flowControl[kind])) {
      if (spec.rate !== undefined && (ms(spec.rate.window) < 1 || ms(spec.rate.window) > 86_400_000)) {
        problems.push({ path: `flowControl.${kind}.${name}.rate.window`, reason: `must be from 1ms to 24h, got ${JSON.stringify(spec.rate.window)}` })
      }
    }
  }
  const { clientCert, clientKey } = input.admin.tls
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    const missing = clientCert === undefined ? 'admin.tls.clientCert' : 'admin.tls.clientKey'
    problems.push({ path: missing, reason: 'required when the other half of the gateway\'s client certificate is set (WORKER_ADMIN_TLS_CLIENT_CERT, WORKER_ADMIN_TLS_CLIENT_KEY)' })
  }
  return problems
}

function resolveFlowControl (input: DefaultedConfig['flowControl']): ResolvedFlowLimit[] {
  const out: ResolvedFlowLimit[] = []
  for (const [section, kind] of [['queues', 'queue'], ['handlers', 'handler'], ['tenants', 'tenant']] as const) {
    for (const [name, spec] of Object.entries(input[section])) {
      out.push({
        scope: { kind, name },
        concurrency: spec.concurrency ?? null,
        rate: spec.rate === undefined ? null : { limit: spec.rate.limit, windowMs: ms(spec.rate.window) }
      })
    }
  }
  return out
}

function isPathSpecifier (name: string): boolean {
  return name.startsWith('./') || name.startsWith('../') || isAbsolute(name)
}

const AUDIT_FILE_PLUGIN = 'audit-file'
const EVENT_STORE_FILE_PLUGIN = 'event-store-file'

function resolvePlugins (plugins: DefaultedConfig['plugins'], configDir: string, dataDir: string, archiveDir: string | undefined, jobEventDir: string | undefined): PluginSpec[] {
  const resolved = plugins === undefined
    ? [{ name: 'backend-postgres', options: { embedded: { dataDir: resolve(dataDir, 'pglite') } } }, { name: 'metrics', options: {} }, { name: 'admin-console', options: {} }]
    : plugins.map(spec => ({
      name: isPathSpecifier(spec.name) ? resolve(configDir, spec.name) : spec.name,
      options: spec.options ?? {}
    }))
  // admin.audit.archiveDir (WORKER_ADMIN_AUDIT_ARCHIVE_DIR) alone asks for an archive:
  // the audit-file plugin writes it, and takes the directory from there.
  if (archiveDir !== undefined && !resolved.some(spec => spec.name === AUDIT_FILE_PLUGIN)) resolved.push({ name: AUDIT_FILE_PLUGIN, options: {} })
  // Likewise jobs.eventDir (WORKER_JOB_EVENT_DIR) alone asks for job events in files.
  if (jobEventDir !== undefined && !resolved.some(spec => spec.name === EVENT_STORE_FILE_PLUGIN)) resolved.push({ name: EVENT_STORE_FILE_PLUGIN, options: {} })
  return resolved
}

function optionalPath (configDir: string, value: string | undefined): string | null {
  return value === undefined ? null : resolve(configDir, value)
}

function resolveScheduler (scheduler: DefaultedConfig['scheduler']): ResolvedScheduler {
  const schedules: ResolvedSchedule[] = scheduler.schedules.map(schedule => ({ ...schedule }) as ResolvedSchedule)
  for (const [name, spec] of Object.entries(scheduler.durablePresets)) schedules.push({ name, spec, durable: true })
  for (const [name, spec] of Object.entries(scheduler.presets)) schedules.push({ name, spec, durable: false })
  return {
    enabled: scheduler.enabled,
    tickIntervalMs: ms(scheduler.tickInterval),
    leaderTtlMs: ms(scheduler.leaderTtl),
    misfireGraceMs: ms(scheduler.misfireGrace),
    durableHandlers: [...scheduler.durableHandlers],
    handlers: [...scheduler.handlers],
    schedules
  }
}

function resolveJobs (jobs: DefaultedConfig['jobs'], configDir: string, dataDir: string, defaultQueue: string): ResolvedJobs {
  const tarballDir = optionalPath(configDir, jobs.tarballDir)
  return {
    repoAllowlist: [...jobs.repoAllowlist],
    gitBin: jobs.gitBin,
    dockerSocket: optionalPath(configDir, jobs.dockerSocket),
    dockerBin: jobs.dockerBin,
    network: jobs.network,
    workdir: jobs.workdir === undefined ? resolve(dataDir, 'jobs') : resolve(configDir, jobs.workdir),
    outputBytes: parseByteSize(jobs.outputBytes) as number,
    tarballAllowlist: [...jobs.tarballAllowlist],
    tarballDir,
    tarballMaxBytes: parseByteSize(jobs.tarballMaxBytes) as number,
    tarballTimeoutMs: ms(jobs.tarballTimeout),
    adminTarballDir: optionalPath(configDir, jobs.adminTarballDir) ?? tarballDir,
    eventDir: optionalPath(configDir, jobs.eventDir),
    eventMaxEntries: jobs.eventMaxEntries,
    eventCacheTtlMs: ms(jobs.eventCacheTtl),
    defaults: {
      queue: jobs.defaults.queue ?? defaultQueue,
      retries: jobs.defaults.retries,
      timeoutSeconds: Math.ceil(ms(jobs.defaults.timeout) / 1000),
      memoryBytes: parseByteSize(jobs.defaults.memory) as number,
      cpus: jobs.defaults.cpus,
      pids: jobs.defaults.pids
    }
  }
}

export interface ResolveBase {
  /** relative paths of the file (handlers, plugins, TLS files, archive) resolve against it */
  configDir: string
  /** a relative dataDir resolves against it, with a config file or without, so a file that
   * spells out the defaults (config/embedded.yaml) uses the same data directory as none */
  cwd: string
  /** the demo defaults to on only without a config file */
  fromFile: boolean
}

/** `input` must have passed the schema with defaults applied. */
export function resolveConfig (input: DefaultedConfig, base: ResolveBase): ResolvedConfig {
  const { configDir, fromFile } = base
  const dataDir = resolve(base.cwd, input.dataDir)
  const { worker, admin } = input
  const queues: Record<string, { weight: number }> = { [input.defaultQueue]: { weight: 1 } }
  for (const [name, queue] of Object.entries(input.queues)) queues[name] = { weight: queue.weight ?? 1 }
  const concurrency = worker.concurrency
  return {
    dataDir,
    log: { level: input.log.level as LogLevel, format: input.log.format as LogFormat },
    plugins: resolvePlugins(input.plugins, configDir, dataDir, admin.audit.archiveDir, input.jobs.eventDir),
    handlers: input.handlers.map(path => resolve(configDir, path)),
    defaultQueue: input.defaultQueue,
    queues,
    tasks: { maxAttempts: input.tasks.maxAttempts, timeoutMs: ms(input.tasks.timeout), priority: input.tasks.priority, resultMaxBytes: parseByteSize(input.tasks.resultMaxBytes) as number },
    worker: {
      enabled: worker.enabled,
      queues: worker.queues ?? null,
      concurrency,
      batchSize: worker.batchSize ?? concurrency,
      leaseTimeoutMs: ms(worker.leaseTimeout),
      leaseRenewIntervalMs: ms(worker.leaseRenewInterval),
      pollIntervalMs: ms(worker.pollInterval),
      recoveryIntervalMs: ms(worker.recoveryInterval),
      heartbeatIntervalMs: ms(worker.heartbeatInterval),
      shutdownGraceMs: ms(worker.shutdownGrace),
      retry: {
        baseDelayMs: ms(worker.retry.baseDelay),
        maxDelayMs: ms(worker.retry.maxDelay),
        factor: worker.retry.factor,
        jitter: worker.retry.jitter
      },
      rateLimit: worker.rateLimit === undefined ? null : { limit: worker.rateLimit.limit, windowMs: ms(worker.rateLimit.window) }
    },
    demo: { enabled: input.demo.enabled ?? !fromFile, intervalMs: ms(input.demo.interval) },
    scheduler: resolveScheduler(input.scheduler),
    retention: {
      enabled: input.retention.enabled,
      succeededMs: ms(input.retention.succeeded),
      canceledMs: ms(input.retention.canceled),
      deadMs: optionalMs(input.retention.dead),
      intervalMs: ms(input.retention.interval),
      batchSize: input.retention.batchSize
    },
    admin: {
      grpcAddr: admin.grpcAddr,
      grpcTarget: admin.grpcTarget ?? null,
      httpAddr: admin.httpAddr,
      tls: {
        cert: optionalPath(configDir, admin.tls.cert),
        key: optionalPath(configDir, admin.tls.key),
        ca: optionalPath(configDir, admin.tls.ca),
        clientCert: optionalPath(configDir, admin.tls.clientCert),
        clientKey: optionalPath(configDir, admin.tls.clientKey)
      },
      trustedGateways: [...admin.trustedGateways],
      readOnly: admin.readOnly,
      requireApproval: admin.requireApproval,
      approvalToken: admin.approvalToken ?? null,
      roles: admin.roles === undefined ? null : { ...admin.roles as Record<string, AdminRole> },
      requestTimeoutMs: ms(admin.requestTimeout),
      bodyLimitBytes: parseByteSize(admin.bodyLimit) as number,
      audit: {
        eventLimit: admin.audit.eventLimit,
        retentionMs: optionalMs(admin.audit.retention),
        archiveDir: optionalPath(configDir, admin.audit.archiveDir),
        archiveIntervalMs: ms(admin.audit.archiveInterval),
        exportLimitMax: admin.audit.exportLimitMax
      },
      guardrails: resolveGuardrails(admin.guardrails)
    },
    console: resolveConsole(input.console),
    jobs: resolveJobs(input.jobs, configDir, dataDir, input.defaultQueue),
    flowControl: resolveFlowControl(input.flowControl)
  }
}

function resolveGuardrails (input: DefaultedConfig['admin']['guardrails']): ResolvedAdmin['guardrails'] {
  return {
    replayLimitMax: input.replayLimitMax,
    replayIdsMax: input.replayIdsMax,
    purgeLimitMax: input.purgeLimitMax,
    scheduleRunMax: input.scheduleRunMax,
    scheduleRunWindowMs: ms(input.scheduleRunWindow),
    bulkMax: input.bulkMax
  }
}

/** The admin caps a config without a guardrails section resolves to (the schema's defaults). */
export const DEFAULT_GUARDRAILS: Readonly<ResolvedAdmin['guardrails']> = Object.freeze(resolveGuardrails(BUILTIN_DEFAULTS.admin.guardrails))

function resolveConsole (input: DefaultedConfig['console']): ResolvedConsole {
  const { auth } = input
  return {
    addr: input.addr,
    plain: input.plain,
    auth: {
      mode: auth.mode as ConsoleAuthMode,
      users: Object.fromEntries(Object.entries(auth.users).map(([name, user]) => [name, { passwordHash: user.passwordHash, role: user.role as AdminRole }])),
      tokens: auth.tokens.map(token => ({ name: token.name, sha256: token.sha256, role: token.role as AdminRole })),
      header: {
        user: auth.header.user.toLowerCase(),
        role: auth.header.role === undefined ? null : auth.header.role.toLowerCase(),
        proxies: [...auth.header.proxies],
        roles: { ...auth.header.roles as Record<string, AdminRole> },
        defaultRole: auth.header.defaultRole as AdminRole
      },
      noneRole: auth.noneRole as AdminRole
    },
    sessionIdleMs: ms(input.sessionIdleTimeout),
    sessionMaxAgeMs: ms(input.sessionMaxAge),
    maxSessions: input.maxSessions,
    loginAttemptsPerMinute: input.loginAttemptsPerMinute,
    readOnly: input.readOnly
  }
}
