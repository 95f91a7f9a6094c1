// The hook registry: the only way plugins reach the platform, and the only place
// core looks up what plugins contributed. It lives on the Fastify instance
// (app.switchyard), so two apps in one process never share registrations.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { withArgumentChecks } from '../backend/argument-guard.ts'
import type { Backend } from '../backend/types.ts'
import { Errors } from '../errors.ts'
import { PluginErrors } from './errors.ts'
import type { AdminFrontend, ArtifactStore, AuditSink, BackendFactory, ContainerRuntime, EventStore, JobSource, MetricsExporter } from './kinds.ts'

export type HookKind = 'backend' | 'jobSource' | 'auditSink' | 'metricsExporter' | 'artifactStore' | 'eventStore' | 'containerRuntime' | 'adminFrontend'

// Whoever registers outside a plugin (core itself, tests).
const APP_OWNER = '(app)'
const DEFAULT_BACKEND_INIT_TIMEOUT_MS = 30_000
const DEFAULT_BACKEND_CLOSE_TIMEOUT_MS = 10_000

interface Entry<T> {
  value: T
  owner: string
}

/** One kind's registrations, in registration order. */
class Slot<T> {
  readonly #entries = new Map<string, Entry<T>>()
  readonly #kind: HookKind

  constructor (kind: HookKind) {
    this.#kind = kind
  }

  add (name: string, value: T, owner: string): void {
    if (typeof name !== 'string' || name === '') throw PluginErrors.invalid(`${this.#kind} registered by ${owner} has no name`)
    const existing = this.#entries.get(name)
    if (existing !== undefined) {
      throw PluginErrors.hookDuplicate(`${this.#kind} "${name}" registered by ${owner} is already registered by ${existing.owner}`, { details: { kind: this.#kind, name, owner, registeredBy: existing.owner } })
    }
    this.#entries.set(name, { value, owner })
  }

  get (name: string): T {
    const entry = this.#entries.get(name)
    if (entry === undefined) {
      const known = this.names()
      throw PluginErrors.hookNotFound(`no ${this.#kind} named "${name}" is registered (registered: ${known.length === 0 ? 'none' : known.join(', ')})`, { details: { kind: this.#kind, name } })
    }
    return entry.value
  }

  names (): string[] {
    return [...this.#entries.keys()]
  }

  values (): T[] {
    return [...this.#entries.values()].map(entry => entry.value)
  }
}

function withTimeout<T> (promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(onTimeout()), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Lookups core (and plugins that build on other plugins) use. */
export interface HookQueries {
  backendNames (): string[]
  /** the named backend, or the only one when `name` is omitted; created and init()ed on first use */
  getBackend (name?: string): Promise<Backend>
  jobSources (): JobSource[]
  getJobSource (name: string): JobSource
  auditSinks (): AuditSink[]
  metricsExporters (): MetricsExporter[]
  artifactStores (): ArtifactStore[]
  getArtifactStore (name: string): ArtifactStore
  eventStores (): EventStore[]
  getEventStore (name: string): EventStore
  containerRuntimes (): ContainerRuntime[]
  getContainerRuntime (name: string): ContainerRuntime
  adminFrontends (): AdminFrontend[]
}

/** What a plugin's register() receives. */
export interface PluginHooks extends HookQueries {
  registerBackend (name: string, backend: Backend | BackendFactory): void
  registerJobSource (source: JobSource): void
  registerAuditSink (sink: AuditSink): void
  registerMetricsExporter (exporter: MetricsExporter): void
  registerArtifactStore (store: ArtifactStore): void
  registerEventStore (store: EventStore): void
  registerContainerRuntime (runtime: ContainerRuntime): void
  registerAdminFrontend (frontend: AdminFrontend): void
  /** runs when the app is ready (after every plugin registered) */
  onReady (fn: () => Promise<void>): void
  /** runs at shutdown; hooks run in reverse registration order, so dependents close first */
  onClose (fn: () => Promise<void>): void
}

export interface HookRegistryOptions {
  log?: FastifyBaseLogger
  backendInitTimeoutMs?: number
  backendCloseTimeoutMs?: number
}

type BackendSource = { kind: 'instance', backend: Backend } | { kind: 'factory', factory: BackendFactory }

export class HookRegistry implements HookQueries {
  readonly #backends = new Slot<BackendSource>('backend')
  readonly #jobSources = new Slot<JobSource>('jobSource')
  readonly #auditSinks = new Slot<AuditSink>('auditSink')
  readonly #metricsExporters = new Slot<MetricsExporter>('metricsExporter')
  readonly #artifactStores = new Slot<ArtifactStore>('artifactStore')
  readonly #eventStores = new Slot<EventStore>('eventStore')
  readonly #containerRuntimes = new Slot<ContainerRuntime>('containerRuntime')
  readonly #adminFrontends = new Slot<AdminFrontend>('adminFrontend')
  /** backends ready for use, by registration name; a pending init is shared by concurrent callers */
  readonly #ready = new Map<string, Promise<Backend>>()
  /** backends this registry built from factories, which it therefore closes */
  readonly #created: Array<{ name: string, backend: Backend }> = []
  readonly #log: FastifyBaseLogger | undefined
  readonly #initTimeoutMs: number
  readonly #closeTimeoutMs: number

  constructor (options: HookRegistryOptions = {}) {
    this.#log = options.log
    this.#initTimeoutMs = options.backendInitTimeoutMs ?? DEFAULT_BACKEND_INIT_TIMEOUT_MS
    this.#closeTimeoutMs = options.backendCloseTimeoutMs ?? DEFAULT_BACKEND_CLOSE_TIMEOUT_MS
  }

  registerBackend (name: string, backend: Backend | BackendFactory, owner = APP_OWNER): void {
    if (typeof backend === 'function') this.#backends.add(name, { kind: 'factory', factory: backend }, owner)
    else if (backend !== null && typeof backend === 'object') this.#backends.add(name, { kind: 'instance', backend }, owner)
    else throw PluginErrors.invalid(`backend "${name}" registered by ${owner} is neither a backend nor a factory`)
  }

  registerJobSource (source: JobSource, owner = APP_OWNER): void { this.#jobSources.add(source?.name, source, owner) }
  registerAuditSink (sink: AuditSink, owner = APP_OWNER): void { this.#auditSinks.add(sink?.name, sink, owner) }
  registerMetricsExporter (exporter: MetricsExporter, owner = APP_OWNER): void { this.#metricsExporters.add(exporter?.name, exporter, owner) }
  registerArtifactStore (store: ArtifactStore, owner = APP_OWNER): void { this.#artifactStores.add(store?.name, store, owner) }
  registerEventStore (store: EventStore, owner = APP_OWNER): void { this.#eventStores.add(store?.name, store, owner) }
  registerContainerRuntime (runtime: ContainerRuntime, owner = APP_OWNER): void { this.#containerRuntimes.add(runtime?.name, runtime, owner) }
  registerAdminFrontend (frontend: AdminFrontend, owner = APP_OWNER): void { this.#adminFrontends.add(frontend?.name, frontend, owner) }

  backendNames (): string[] { return this.#backends.names() }

  getBackend (name?: string): Promise<Backend> {
    const names = this.#backends.names()
    if (name === undefined) {
      if (names.length !== 1) {
        return Promise.reject(PluginErrors.hookNotFound(names.length === 0
          ? 'no backend is registered (add a backend plugin to the config)'
          : `several backends are registered (${names.join(', ')}): name the one to use`))
      }
      name = names[0] as string
    }
    const chosen = name
    let ready = this.#ready.get(chosen)
    if (ready === undefined) {
      ready = this.#prepareBackend(chosen)
      this.#ready.set(chosen, ready)
      // A failed start can be retried (the database may come up later).
      ready.catch(() => { this.#ready.delete(chosen) })
    }
    return ready
  }

  async #prepareBackend (name: string): Promise<Backend> {
    const source = this.#backends.get(name)
    const backend = source.kind === 'instance' ? source.backend : await source.factory()
    if (source.kind === 'factory') this.#created.push({ name, backend })
    try {
      await withTimeout(backend.init(), this.#initTimeoutMs, () =>
        Errors.backendTimeout(`backend "${name}" did not finish init() within ${this.#initTimeoutMs} ms`))
    } catch (err) {
      if (source.kind === 'factory') await this.#closeCreated(name)
      throw err
    }
    // every consumer (core and plugins) gets the contract's argument checks in front of it
    return withArgumentChecks(backend)
  }

  async #closeCreated (name: string): Promise<void> {
    const index = this.#created.findIndex(entry => entry.name === name)
    if (index < 0) return
    const [{ backend }] = this.#created.splice(index, 1) as [{ name: string, backend: Backend }]
    try {
      await withTimeout(backend.close(), this.#closeTimeoutMs, () => new Error(`backend "${name}" did not close within ${this.#closeTimeoutMs} ms`))
    } catch (err) {
      this.#log?.error({ err, backend: name }, 'closing backend failed')
    }
  }

  jobSources (): JobSource[] { return this.#jobSources.values() }
  getJobSource (name: string): JobSource { return this.#jobSources.get(name) }
  auditSinks (): AuditSink[] { return this.#auditSinks.values() }
  metricsExporters (): MetricsExporter[] { return this.#metricsExporters.values() }
  artifactStores (): ArtifactStore[] { return this.#artifactStores.values() }
  getArtifactStore (name: string): ArtifactStore { return this.#artifactStores.get(name) }
  eventStores (): EventStore[] { return this.#eventStores.values() }
  getEventStore (name: string): EventStore { return this.#eventStores.get(name) }
  containerRuntimes (): ContainerRuntime[] { return this.#containerRuntimes.values() }
  getContainerRuntime (name: string): ContainerRuntime { return this.#containerRuntimes.get(name) }
  adminFrontends (): AdminFrontend[] { return this.#adminFrontends.values() }

  /** Closes the backends this registry created, newest first; failures are logged, not thrown, so shutdown completes. */
  async close (): Promise<void> {
    while (this.#created.length > 0) await this.#closeCreated((this.#created.at(-1) as { name: string }).name)
    this.#ready.clear()
  }

  /** The view handed to one plugin: registrations are attributed to it, lifecycle hooks go to `app`. */
  forPlugin (pluginName: string, app: FastifyInstance): PluginHooks {
    const owner = `plugin "${pluginName}"`
    return {
      registerBackend: (name, backend) => this.registerBackend(name, backend, owner),
      registerJobSource: source => this.registerJobSource(source, owner),
      registerAuditSink: sink => this.registerAuditSink(sink, owner),
      registerMetricsExporter: exporter => this.registerMetricsExporter(exporter, owner),
      registerArtifactStore: store => this.registerArtifactStore(store, owner),
      registerEventStore: store => this.registerEventStore(store, owner),
      registerContainerRuntime: runtime => this.registerContainerRuntime(runtime, owner),
      registerAdminFrontend: frontend => this.registerAdminFrontend(frontend, owner),
      onReady: fn => { app.addHook('onReady', async () => { await fn() }) },
      onClose: fn => { app.addHook('onClose', async () => { await fn() }) },
      backendNames: () => this.backendNames(),
      getBackend: name => this.getBackend(name),
      jobSources: () => this.jobSources(),
      getJobSource: name => this.getJobSource(name),
      auditSinks: () => this.auditSinks(),
      metricsExporters: () => this.metricsExporters(),
      artifactStores: () => this.artifactStores(),
      getArtifactStore: name => this.getArtifactStore(name),
      eventStores: () => this.eventStores(),
      getEventStore: name => this.getEventStore(name),
      containerRuntimes: () => this.containerRuntimes(),
      getContainerRuntime: name => this.getContainerRuntime(name),
      adminFrontends: () => this.adminFrontends()
    }
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    switchyard: HookRegistry
  }
}

/**
 * The app's registry, created on first call. Its own onClose hook is added first,
 * so it runs last: backends close after everything that uses them.
 */
export function ensureHookRegistry (app: FastifyInstance, options: HookRegistryOptions = {}): HookRegistry {
  if (app.hasDecorator('switchyard')) return app.switchyard
  const registry = new HookRegistry({ log: app.log, ...options })
  app.decorate('switchyard', registry)
  app.addHook('onClose', async () => { await registry.close() })
  return registry
}
