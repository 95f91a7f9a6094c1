import { Errors, type Backend, type BackendCapabilities, type LeasedTask, type PushWaitRequest, type Unsubscribe } from '@switchyard/core'
import { createContext } from './context.ts'
import { dependencyMethods } from './dependencies.ts'
import { coordinationMethods } from './coordination.ts'
import { eventMethods } from './event-store.ts'
import { flowMethods } from './flow.ts'
import { migrate } from './migrate.ts'
import { overviewMethods } from './overview-read.ts'
import { resolveOptions, type PostgresBackendOptions, type ResolvedOptions } from './options.ts'
import { createPgClient } from './pg-client.ts'
import { createPgliteClient } from './pglite-client.ts'
import { PushWaiters } from './pglite-push.ts'
import { queueMethods } from './queues.ts'
import { recordMethods } from './records.ts'
import type { SqlClient } from './sql-client.ts'
import { COUNT_CAP, taskAdminMethods } from './task-admin.ts'
import { taskActionMethods } from './task-actions.ts'
import { taskKeyMethods } from './task-keys.ts'
import { workMethods } from './work.ts'
import { workerOpsMethods } from './worker-ops.ts'

// Assembles the Backend from its method groups over one SqlClient. The client is
// opened by init() (PGlite opens asynchronously), or handed in ready-made.

/** how soon readers that found events held back by a running transaction read again */
const HELD_BACK_REWAKE_MS = 25

/** tasks a worker's lease call asks for on PGlite while a queue of short tasks stays deep */
const PGLITE_DEEP_LEASE_CALL = 1000

function capabilitiesFor (notify: boolean, push: boolean): BackendCapabilities {
  return {
    taskFilters: ['state', 'queue', 'handler', 'query', 'since', 'until', 'timeField', 'tenant', 'correlationId'],
    // handler and text filters are counted row by row, up to COUNT_CAP matches
    taskCount: { exact: ['state', 'queue'], examineUpTo: COUNT_CAP },
    priorities: true,
    delayedTasks: true,
    idempotencyKeys: true,
    idempotencyModes: ['replace', 'preserve_run_at'],
    cancel: true,
    queuePause: true,
    globalPause: true,
    queueWeights: true,
    rateLimit: true,
    leaderLock: true,
    workerRegistry: true,
    eventLog: true,
    enqueueEvents: true,
    audit: true,
    workNotifications: notify,
    // embedded only: every worker of the database is in this process (pglite-push.ts)
    pushDelivery: push,
    // embedded only: complete-and-lease costs PGlite about 1 ms per call, so deep queues
    // are leased in calls of up to 1,000 (bench/README.md, "larger lease calls")
    ...(push ? { deepLeaseCall: PGLITE_DEEP_LEASE_CALL } : {}),
    records: true,
    dependencies: true,
    flowControl: true,
    flowScopeKinds: ['queue', 'handler', 'tenant']
  }
}

function sessionSettings (options: ResolvedOptions): Record<string, string> {
  // read by the notify trigger: with notify off, statements skip pg_notify entirely
  return { 'switchyard.notify': options.notify ? 'on' : 'off' }
}

async function openClient (options: ResolvedOptions): Promise<SqlClient> {
  if (options.connectionString !== null) {
    return createPgClient({
      connectionString: options.connectionString,
      poolSize: options.poolSize,
      statementTimeoutMs: options.statementTimeoutMs,
      settings: sessionSettings(options)
    })
  }
  return await createPgliteClient({ dataDir: options.dataDir, statementTimeoutMs: options.statementTimeoutMs, settings: sessionSettings(options), optimizeWasm: options.optimizeWasm, thread: options.thread })
}

// asyncCommit applies to a server only. PGlite is Postgres in single-user mode, with no
// WAL writer: an asynchronous commit's WAL stays in the process' memory until a later
// synchronous commit or a full WAL buffer writes it, so killing the process lost leases
// and acks already answered (tasks acked `ok` came back `ready`), against what the
// README promises for the embedded database (written to its files before the answer).
// PGlite runs with fsync off, so a synchronous commit costs one write to the WAL file
// and no flush to the disk: measured, no CPU difference (bench/README.md, "PGlite:
// asynchronous commit lost acks on a process kill").
function assemble (options: ResolvedOptions, name: string, open: () => Promise<SqlClient>, closeClient: boolean, embedded: boolean): Backend {
  let client: SqlClient | null = null
  let opening: Promise<void> | null = null
  const push = embedded ? new PushWaiters() : null
  const ctx = createContext(options.schema, { ...options, asyncCommit: options.asyncCommit && !embedded }, () => client, push)
  const eventListeners = new Set<() => void>()
  let rewake: NodeJS.Timeout | null = null
  ctx.eventsHeldBack = () => {
    if (rewake !== null || eventListeners.size === 0) return
    rewake = setTimeout(() => {
      rewake = null
      for (const listener of [...eventListeners]) listener()
    }, HELD_BACK_REWAKE_MS)
    rewake.unref()
  }

  async function subscribe (channel: string, onNotify: (payload: string) => void): Promise<Unsubscribe> {
    if (!options.notify) throw Errors.unsupported('notifications are off for this backend (notify: false)')
    return await ctx.db().listen(channel, onNotify)
  }

  const queues = queueMethods(ctx)
  const flow = flowMethods(ctx)
  const work = workMethods(ctx)

  return {
    name,
    capabilities: capabilitiesFor(options.notify, push !== null),

    async init () {
      if (client !== null) return
      opening ??= (async () => {
        const opened = await open()
        try {
          await migrate(opened, options.schema)
        } catch (err) {
          if (closeClient) await opened.close().catch(() => {})
          throw err
        }
        client = opened
      })().finally(() => { opening = null })
      await opening
    },

    async close () {
      if (rewake !== null) { clearTimeout(rewake); rewake = null }
      push?.endAll()
      if (opening !== null) await opening.catch(() => {})
      const current = client
      client = null
      if (current !== null && closeClient) await current.close()
    },

    async now () {
      const [row] = await ctx.db().query<{ now: number }>(`SELECT ${ctx.s}.ms(clock_timestamp()) AS now`)
      return row?.now as number
    },

    ...work,
    // PGlite: lease once on registering, then wait for an enqueue to lease tasks to this worker
    ...(push === null
      ? {}
      : {
          async awaitPushedTasks (req: PushWaitRequest): Promise<LeasedTask[]> {
            const leased = await work.leaseTasks(req)
            if (leased.length > 0) return leased
            return await push.wait(req)
          }
        }),
    ...taskAdminMethods(ctx),
    ...taskActionMethods(ctx),
    ...taskKeyMethods(ctx),
    ...queues,
    async queueStats (names) {
      const stats = await queues.queueStats(names)
      await flow.throttledByQueue(stats)
      return stats
    },
    ...overviewMethods(ctx, flow.throttledByQueue),
    ...coordinationMethods(ctx),
    ...workerOpsMethods(ctx),
    setFlowLimit: flow.setFlowLimit,
    clearFlowLimit: flow.clearFlowLimit,
    listFlowLimits: flow.listFlowLimits,
    ...eventMethods(ctx),
    ...recordMethods(ctx),
    ...dependencyMethods(ctx),
    watchCascades: ctx.cascades.watch,

    async subscribeWork (listener) {
      return await subscribe(ctx.workChannel, payload => listener(payload))
    },

    async subscribeEvents (listener) {
      const unsubscribe = await subscribe(ctx.eventsChannel, () => listener())
      const local = (): void => listener()
      eventListeners.add(local)
      return async () => {
        eventListeners.delete(local)
        await unsubscribe()
      }
    }
  }
}

/** A Backend over a Postgres server (connectionString) or embedded PGlite (embedded). */
export function createPostgresBackend (options: PostgresBackendOptions): Backend {
  const resolved = resolveOptions(options)
  const embedded = resolved.connectionString === null
  return assemble(resolved, embedded ? 'pglite' : 'postgres', async () => await openClient(resolved), true, embedded)
}

/**
 * A Backend over a client the caller opened (and closes: close() leaves it open).
 * Connection options in `options` are ignored; schema, maxEvents and notify apply.
 */
export function createPostgresBackendFromClient (client: SqlClient, options: Omit<PostgresBackendOptions, 'connectionString' | 'embedded'> = {}): Backend {
  const resolved = resolveOptions(options)
  return assemble(resolved, client.kind, async () => client, false, client.kind === 'pglite')
}
