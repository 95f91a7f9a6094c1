// The Switchyard process: config → plugins → backend → worker (and the demo on the
// embedded default), held together by a Fastify instance whose lifecycle starts and
// stops them in order (ready starts the worker; close stops the demo, drains the
// worker, flushes events, then closes the backend).
import { PACKAGE_VERSION } from './package-files.ts'
import Fastify, { type FastifyInstance } from 'fastify'
import { withTimeouts } from './backend/guard.ts'
import type { Backend, EnqueueResult } from './backend/types.ts'
import { loadConfig } from './config/load.ts'
import type { LoadedConfig, ResolvedConfig } from './config/types.ts'
import { demoHandlers, DEMO_HANDLER_NAMES } from './demo/handlers.ts'
import { schedulerFromConfig, type Scheduler } from './scheduler/index.ts'
import { registerJobScheduleFactories } from './jobs/schedule-factory.ts'
import type { FactoryOptions } from './scheduler/index.ts'
import type { ScheduleFactory } from './scheduler/types.ts'
import { startDemoTrickle } from './demo/trickle.ts'
import { EventLog } from './events/event-log.ts'
import { ensureHookRegistry, loadPlugins, type RunningAdminFrontend } from './plugin/index.ts'
import type { EnqueueInput, TaskDefaults } from './tasks/enqueue.ts'
import { createEnqueuer } from './tasks/enqueuer.ts'
import { createRetentionPruner, type RetentionPruner } from './tasks/retention.ts'
import { createHandlerRegistry, loadHandlerModule, type Handler, type HandlerRegistry } from './worker/handlers.ts'
import { createWorker, type Worker } from './worker/index.ts'
import { createAdminService, type RunningAdminService } from './admin/index.ts'
import { readCommit } from './build-info.ts'
import { observeQueueDepths, observerFor, observeWorker, timedAdmin, type Observe } from './metrics-wiring.ts'
import { MetricsHistory } from './metrics-history/index.ts'
import { join } from 'node:path'
import { Errors } from './errors.ts'
import { loggerOptions } from './log/index.ts'
import { ConfigError } from './config/errors.ts'
import { ensureDevCertificates, type CertPaths } from './transport/certs.ts'
import type { AdminListeners, TlsPaths } from './transport/index.ts'
import { adminListenSettings, listenErrorOf } from './listen-check.ts'
import { createJobRunner, type JobRunner } from './jobs/runner.ts'
import type { JobRunnerOptions } from './jobs/runner-options.ts'
import { JOB_TASK_HANDLER } from './jobs/types.ts'
import { applyFlowLimits } from './worker/flow-limits.ts'
import type { StartupPhases } from './startup-phases.ts'

export const VERSION = PACKAGE_VERSION

const QUEUE_DEPTH_INTERVAL_MS = 5_000

export interface CreateSwitchyardOptions {
  /** config file; omitted: the embedded default */
  configFile?: string | undefined
  /** an already loaded config (tests); wins over configFile */
  loaded?: LoadedConfig
  /** force the demo on or off; undefined: as the config says */
  demo?: boolean | undefined
  /** false: open the backend only (CLI commands), never start a worker */
  worker?: boolean
  /** start the admin listeners (gRPC + HTTPS gateway) when the app is ready */
  listen?: boolean
  env?: NodeJS.ProcessEnv
  /** job runner settings over those of the config (tests, embedders) */
  jobRunner?: Partial<JobRunnerOptions>
  /** marks the phases of assembling and starting (`switchyard start` logs them) */
  phases?: StartupPhases
}

export interface Switchyard {
  readonly version: string
  readonly config: ResolvedConfig
  readonly configFile: string | null
  readonly backend: Backend
  readonly handlers: HandlerRegistry
  readonly events: EventLog
  readonly worker: Worker | null
  readonly demoEnabled: boolean
  readonly app: FastifyInstance
  /** the admin contract v1, in process (the transports serve it) */
  readonly admin: RunningAdminService
  /** set once started with listen: the admin listeners and the certificates they use */
  readonly listeners: AdminListeners | null
  /** set once started with listen: the plugins' admin front ends (the web console) */
  readonly frontends: RunningAdminFrontend[]
  /** development certificates generated or reused because no TLS paths were configured */
  readonly devCertificates: { paths: CertPaths, created: boolean } | null
  /** durable and in-memory cron schedules (null when scheduler.enabled is false) */
  readonly scheduler: Scheduler | null
  /** runs containerized jobs (the switchyard.job handler) in processes that run a worker */
  readonly jobRunner: JobRunner | null
  /** register a handler in code; must happen before start() */
  handle (name: string, handler: Handler): Switchyard
  /** register a schedule factory: schedules of this name enqueue what it returns */
  scheduleFactory (name: string, factory: ScheduleFactory, options?: FactoryOptions): Switchyard
  enqueue (tasks: EnqueueInput | EnqueueInput[]): Promise<EnqueueResult[]>
  describeBackend (): string
  start (): Promise<void>
  close (): Promise<void>
}

export async function createSwitchyard (options: CreateSwitchyardOptions = {}): Promise<Switchyard> {
  const loaded = options.loaded ?? await loadConfig({ file: options.configFile, env: options.env ?? process.env })
  const { config } = loaded
  const app = Fastify({
    logger: loggerOptions(config.log),
    // Plugins have their own, named register timeout; this is the backstop.
    pluginTimeout: 60_000
  })
  try {
    return await assemble(app, loaded, options)
  } catch (err) {
    await app.close().catch(() => {})
    throw err
  }
}

async function assemble (app: FastifyInstance, loaded: LoadedConfig, options: CreateSwitchyardOptions): Promise<Switchyard> {
  const { config } = loaded
  // This process serves its own admin service; a gateway in front of a remote one is
  // `switchyard gateway`, which opens no backend. Refused before any plugin loads.
  if (options.listen === true && config.admin.grpcTarget !== null) {
    throw ConfigError(`admin.grpcTarget (WORKER_ADMIN_GRPC_TARGET) is ${config.admin.grpcTarget}: this process serves its own admin service and opens the backend; run \`switchyard gateway\` for a gateway in front of a remote admin service, or unset it`, {
      details: { field: 'admin.grpcTarget' }
    })
  }
  const registry = ensureHookRegistry(app)
  const phases = options.phases
  // The admin transports' modules load while the plugins load and the backend opens
  // (opening PGlite waits on files and on WebAssembly compilation off the main thread).
  const transportModule = options.listen === true ? import('./transport/index.ts') : null
  transportModule?.catch(() => {}) // a failure is reported where it is awaited, when the listeners start
  await loadPlugins(app, config.plugins, { config, configDir: loaded.configDir })
  await app.after()
  phases?.mark('plugins')

  const backend = withTimeouts(await registry.getBackend(), config.admin.requestTimeoutMs)
  await backend.ensureQueues(Object.keys(config.queues))
  phases?.mark('backend')

  const observe = observerFor(registry.metricsExporters())
  // The metrics history counts in every process, exporters or not (GetMetricsHistory).
  const history = new MetricsHistory(backend, { onError: (err, context) => app.log.warn({ err, context }, 'metrics history failed') })
  const counted: Observe = observe === null ? history.observe : (event) => { history.observe(event); observe(event) }
  const events = new EventLog(backend, { onError: (err) => app.log.warn({ err }, 'appending events failed') })
  const handlers = createHandlerRegistry()
  for (const path of config.handlers) {
    for (const [name, handler] of Object.entries(await loadHandlerModule(path))) handlers.register(name, handler)
  }
  const demoEnabled = options.demo ?? config.demo.enabled
  if (demoEnabled) {
    for (const [name, handler] of Object.entries(demoHandlers)) {
      if (!handlers.names().includes(name)) handlers.register(name, handler as Handler)
    }
  }

  const defaults: TaskDefaults = {
    queue: config.defaultQueue,
    maxAttempts: config.tasks.maxAttempts,
    priority: config.tasks.priority,
    timeoutMs: config.tasks.timeoutMs
  }
  // application, admin (and so the CLI) and schedules all enqueue through this one path
  const enqueuer = createEnqueuer({ backend, events, observe: counted, defaults })
  const enqueue = async (input: EnqueueInput | EnqueueInput[]): Promise<EnqueueResult[]> =>
    (await enqueuer.enqueue(Array.isArray(input) ? input : [input])).map(enqueued => enqueued.result)

  // Schedules tick only in processes that run a worker: CLI commands must not fire them.
  const scheduler = config.scheduler.enabled && options.worker !== false
    ? schedulerFromConfig({
      backend,
      config: config.scheduler,
      events,
      log: app.log,
      taskDefaults: defaults,
      enqueuer,
      extraHandlerFactories: demoEnabled ? DEMO_HANDLER_NAMES : []
    })
    : null

  // Every stored job is a schedule factory job:<name> (RunJob's path, trigger schedule:<name>).
  if (scheduler !== null) registerJobScheduleFactories(scheduler.factories, { backend, eventStore: registry.eventStores()[0] ?? null })

  // Like schedules, retention runs only in processes started to work, never in CLI commands.
  const retention: RetentionPruner | null = config.retention.enabled && options.worker !== false
    ? createRetentionPruner({
      backend,
      log: app.log,
      options: {
        keep: {
          succeeded: config.retention.succeededMs,
          canceled: config.retention.canceledMs,
          ...(config.retention.deadMs === null ? {} : { dead: config.retention.deadMs })
        },
        intervalMs: config.retention.intervalMs,
        batchSize: config.retention.batchSize
      },
      onPruned: (state, count) => observe?.({ type: 'tasks.pruned', state, count })
    })
    : null

  const worker = options.worker === false || !config.worker.enabled
    ? null
    : createWorker({
      backend,
      handlers,
      events,
      log: app.log,
      options: {
        queues: config.worker.queues,
        concurrency: config.worker.concurrency,
        batchSize: config.worker.batchSize,
        leaseMs: config.worker.leaseTimeoutMs,
        leaseRenewMs: config.worker.leaseRenewIntervalMs,
        pollMs: config.worker.pollIntervalMs,
        recoveryMs: config.worker.recoveryIntervalMs,
        heartbeatMs: config.worker.heartbeatIntervalMs,
        shutdownGraceMs: config.worker.shutdownGraceMs,
        retry: config.worker.retry,
        weightOf: (queue, stored) => stored ?? config.queues[queue]?.weight ?? 1,
        version: VERSION,
        backendTimeoutMs: config.admin.requestTimeoutMs,
        resultMaxBytes: config.tasks.resultMaxBytes
      }
    })

  if (worker !== null) {
    observeWorker(worker, counted)
    worker.on('task:recovered-dead', o => history.noteDeadLetters([o.queue]))
  }
  // dependency cascades run inside the backend; the call of this process that ran one reports it
  const stopWatchingCascades = backend.watchCascades?.(history.noteCascade) ?? null
  // Every worker takes job tasks; without a container runtime plugin it fails them
  // with an error naming the plugin, instead of leaving runs queued without a word.
  const jobRunner = worker === null
    ? null
    : createJobRunner({
      backend,
      hooks: registry,
      workerId: worker.id,
      log: app.log,
      options: { workdir: config.jobs.workdir, outputBytes: config.jobs.outputBytes, network: config.jobs.network, ...options.jobRunner }
    })
  if (jobRunner !== null && !handlers.has(JOB_TASK_HANDLER)) handlers.register(JOB_TASK_HANDLER, jobRunner.handler)
  const service = createAdminService({
    backend,
    events,
    enqueuer,
    ...(scheduler === null ? {} : { scheduler }),
    auditSinks: registry.auditSinks(),
    metricsExporters: registry.metricsExporters(),
    jobs: {
      defaults: config.jobs.defaults,
      adminTarballDir: config.jobs.adminTarballDir,
      artifactStore: registry.artifactStores()[0] ?? null,
      eventStore: registry.eventStores()[0] ?? null
    },
    onError: (err, context) => app.log.warn({ err, context }, 'admin background work failed'),
    log: app.log,
    ...(observe === null ? {} : { observe }),
    history,
    options: {
      readOnly: config.admin.readOnly,
      requireApproval: config.admin.requireApproval,
      ...(config.admin.approvalToken === null ? {} : { approvalToken: config.admin.approvalToken }),
      roles: config.admin.roles,
      requestTimeoutMs: config.admin.requestTimeoutMs,
      replayLimitMax: config.admin.guardrails.replayLimitMax,
      replayIdsMax: config.admin.guardrails.replayIdsMax,
      purgeLimitMax: config.admin.guardrails.purgeLimitMax,
      auditExportLimitMax: config.admin.audit.exportLimitMax,
      auditEventLimit: config.admin.audit.eventLimit,
      scheduleRunMax: config.admin.guardrails.scheduleRunMax,
      scheduleRunWindowMs: config.admin.guardrails.scheduleRunWindowMs,
      bulkMax: config.admin.guardrails.bulkMax,
      ...(config.admin.audit.retentionMs === null ? {} : { auditRetentionMs: config.admin.audit.retentionMs })
    },
    info: {
      version: VERSION,
      commit: await readCommit(options.env ?? process.env),
      backendName: backend.name,
      startedAt: Date.now(),
      weightDefaults: (queue) => config.queues[queue]?.weight ?? 1,
      defaultQueue: config.defaultQueue,
      taskDefaults: defaults,
      queues: Object.keys(config.queues)
    }
  })
  // Timed around the service, so calls through either transport are counted once.
  const admin = observe === null ? service : timedAdmin(service, observe)

  let listeners: AdminListeners | null = null
  const frontends: RunningAdminFrontend[] = []
  let devCertificates: { paths: CertPaths, created: boolean } | null = null
  if (options.listen === true) {
    const { tls: tlsPaths, dev } = await resolveTls(config)
    devCertificates = dev
    app.addHook('onReady', async () => {
      const { startAdminListeners } = await (transportModule ?? import('./transport/index.ts'))
      try {
        listeners = await startAdminListeners({ service: admin, config: { ...config.admin, tls: tlsPaths }, log: app.log, version: VERSION })
      } catch (err) {
        throw listenErrorOf(adminListenSettings(config.admin, { grpc: true }), err) ?? err
      }
      phases?.mark('admin listeners')
      for (const frontend of registry.adminFrontends()) {
        frontends.push(await frontend.start({ admin, tls: tlsPaths, version: VERSION, backend: sy.describeBackend() }))
      }
      if (frontends.length > 0) phases?.mark('admin front ends')
    })
    // Added before the worker's hook so that, closing in reverse, listeners stop first.
  }

  let stopDepths: (() => void) | null = null
  if (observe !== null) {
    app.addHook('onReady', async () => {
      stopDepths = observeQueueDepths(backend, observe, QUEUE_DEPTH_INTERVAL_MS, (err) => app.log.warn({ err }, 'reading queue depths for metrics failed'))
    })
  }

  if (retention !== null) app.addHook('onReady', async () => { retention.start() })
  // Only processes started to work sample, roll up and trim; every process adds its counts.
  app.addHook('onReady', async () => { history.start({ leader: options.worker !== false }) })

  let stopDemo: (() => void) | null = null
  if (worker !== null) {
    if (config.worker.rateLimit !== null) await backend.setRateLimit(config.worker.rateLimit)
    await applyFlowLimits(backend, config.flowControl)
    app.addHook('onReady', async () => {
      await worker.start()
      jobRunner?.start()
      await scheduler?.start()
      if (demoEnabled) {
        stopDemo = startDemoTrickle({
          intervalMs: config.demo.intervalMs,
          enqueue,
          onError: (err) => app.log.warn({ err }, 'demo enqueue failed')
        })
      }
      phases?.mark('worker')
    })
  }
  // Registered after the backend's own hook, so it runs first on close.
  app.addHook('onClose', async () => {
    await scheduler?.stop()
    await retention?.stop()
    for (const frontend of frontends.splice(0).reverse()) await frontend.close()
    await listeners?.close()
    stopDepths?.()
    stopDemo?.()
    await worker?.stop()
    await jobRunner?.stop()
    await admin.close()
    stopWatchingCascades?.()
    await history.close()
    await events.close()
  })

  phases?.mark('services')
  const sy: Switchyard = {
    version: VERSION,
    config,
    configFile: loaded.source.file,
    backend,
    handlers,
    events,
    worker,
    demoEnabled,
    app,
    admin,
    scheduler,
    jobRunner,
    get listeners () { return listeners },
    frontends,
    devCertificates,
    handle (name, handler) {
      handlers.register(name, handler)
      return sy
    },
    scheduleFactory (name, factory, factoryOptions) {
      if (scheduler === null) throw Errors.validation('scheduleFactory: the scheduler is disabled in this process (scheduler.enabled: false)')
      scheduler.scheduleFactory(name, factory, factoryOptions)
      return sy
    },
    enqueue,
    describeBackend () {
      const spec = config.plugins.find((p) => p.name.startsWith('backend-')) ?? config.plugins[0]
      const embedded = (spec?.options as { embedded?: { dataDir?: string } } | undefined)?.embedded
      if (backend.name === 'pglite' && embedded !== undefined) return `pglite (embedded Postgres, data in ${embedded.dataDir ?? 'memory'})`
      return backend.name
    },
    async start () { await app.ready() },
    async close () { await app.close() }
  }
  return sy
}

/** The configured TLS files, or development certificates in <dataDir>/certs when none are configured. */
export async function resolveTls (config: ResolvedConfig): Promise<{ tls: TlsPaths, dev: { paths: CertPaths, created: boolean } | null }> {
  const { cert, key, ca } = config.admin.tls
  if (cert !== null && key !== null && ca !== null) return { tls: { cert, key, ca }, dev: null }
  if (cert !== null || key !== null || ca !== null) {
    const missing = Object.entries({ cert, key, ca }).filter(([, v]) => v === null).map(([k]) => `admin.tls.${k}`)
    throw Errors.validation(`${missing.join(', ')}: required when any admin TLS file is configured (WORKER_ADMIN_TLS_CERT, WORKER_ADMIN_TLS_KEY, WORKER_ADMIN_TLS_CA)`)
  }
  const dev = await ensureDevCertificates(join(config.dataDir, 'certs'))
  return { tls: { cert: dev.paths.server, key: dev.paths.serverKey, ca: dev.paths.ca }, dev }
}

/** A backend-only handle for CLI commands: no worker, no demo. */
export async function openClient (configFile: string | undefined): Promise<Switchyard> {
  return await createSwitchyard({ configFile, worker: false, demo: false })
}
