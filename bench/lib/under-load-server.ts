// The server side of the under-load benchmark: `switchyard start` as a user runs it,
// in its own process (so its resident memory is its own and the load generators do
// not share its event loop), on the embedded PGlite default or a server backend.
// The worker, the demo and the scheduler are off: the gateway serves operators, and
// the event log holds only what the benchmark caused.
import { readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CERT_FILES } from '../../core/transport/certs.ts'
import { assertPostgresReachable, dropSchema, freshSchema, POSTGRES_URL } from './postgres.ts'
import { assertRedisReachable, deleteKeysContaining, freshToken, REDIS_URL } from './redis.ts'
import { childEnv, freePort, startAndWait, type RunningStart } from './startup-process.ts'

export const BACKENDS = ['pglite', 'pglite-thread', 'postgres', 'redis', 'bullmq'] as const
export type UnderLoadBackend = typeof BACKENDS[number]

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'core', 'bin', 'switchyard.js')
/** a fresh embedded data directory is created and migrated first: minutes on a loaded two-core machine */
const START_TIMEOUT_MS = 300_000
const SOURCE_NODE_ARGS = ['--conditions=switchyard-source', `--import=${import.meta.resolve('tsx')}`]
const STOP_TIMEOUT_MS = 30_000
/** diagnostics: more node arguments for the server, space-separated (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof) */
const SERVER_NODE_ARGS_ENV = 'SWITCHYARD_BENCH_SERVER_NODE_ARGS'

export interface ClientTls { ca: string, cert: string, key: string }

export interface UnderLoadServer {
  readonly pid: number
  /** https://host:port of the admin gateway */
  readonly url: string
  readonly tls: ClientTls
  readonly backendName: UnderLoadBackend
  /** throws with the server's output if it exited (crashed) */
  assertRunning (): void
  /** SIGINT, wait for the exit, then drop the schema / delete the keys the run created */
  stop (): Promise<void>
}

/** the backend plugin entry of the config file, and how to remove what it stored */
function backendPlugin (backend: UnderLoadBackend, dataDir: string): { yaml: string, cleanup: () => Promise<void> } {
  switch (backend) {
    case 'pglite':
      return { yaml: '', cleanup: async () => {} }
    case 'pglite-thread':
      // the default plugins, with PGlite on a thread of its own (embedded.thread: worker)
      return {
        yaml: `plugins:\n  - name: backend-postgres\n    options:\n      embedded: { dataDir: ${JSON.stringify(join(dataDir, 'pglite'))}, thread: worker }\n  - name: metrics\n  - name: admin-console\n`,
        cleanup: async () => {}
      }
    case 'postgres': {
      const schema = freshSchema('sy_bench_ul')
      return {
        yaml: `plugins:\n  - name: backend-postgres\n    options:\n      connectionString: ${JSON.stringify(POSTGRES_URL)}\n      schema: ${schema}\n`,
        cleanup: async () => { await dropSchema(schema) }
      }
    }
    case 'redis': {
      const token = freshToken()
      return {
        yaml: `plugins:\n  - name: backend-redis\n    options:\n      url: ${JSON.stringify(REDIS_URL)}\n      prefix: ${JSON.stringify(`sy${token}:`)}\n`,
        cleanup: async () => { await deleteKeysContaining(token) }
      }
    }
    case 'bullmq': {
      const token = freshToken()
      return {
        yaml: `plugins:\n  - name: backend-bullmq\n    options:\n      url: ${JSON.stringify(REDIS_URL)}\n      prefix: ${token}\n`,
        cleanup: async () => { await deleteKeysContaining(token) }
      }
    }
  }
}

/** diagnostics the benchmark asks of the server: more node arguments (e.g. an --import) and environment */
export interface ServerDiagnostics { nodeArgs: string[], env: Record<string, string> }

export async function startUnderLoadServer (backend: UnderLoadBackend, dir: string, diagnostics: ServerDiagnostics = { nodeArgs: [], env: {} }): Promise<UnderLoadServer> {
  if (backend === 'postgres') await assertPostgresReachable()
  if (backend === 'redis' || backend === 'bullmq') await assertRedisReachable()
  const dataDir = join(dir, 'data')
  const plugin = backendPlugin(backend, dataDir)
  const configFile = join(dir, 'switchyard.yaml')
  await writeFile(configFile, [
    `dataDir: ${JSON.stringify(dataDir)}`,
    'log:\n  level: warn\n  format: json',
    'worker:\n  enabled: false',
    'demo:\n  enabled: false',
    'scheduler:\n  enabled: false',
    plugin.yaml
  ].join('\n'))
  const httpPort = await freePort()
  const env = childEnv({
    SWITCHYARD_CONFIG: configFile,
    WORKER_ADMIN_HTTP_ADDR: `127.0.0.1:${httpPort}`,
    WORKER_ADMIN_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
    SWITCHYARD_CONSOLE_ADDR: `127.0.0.1:${await freePort()}`,
    ...diagnostics.env
  })
  const url = `https://127.0.0.1:${httpPort}`
  const certDir = join(dataDir, 'certs')
  let running: RunningStart
  try {
    // The sources of this checkout (as the tests run them), never a dist/ built earlier.
    running = await startAndWait(BIN, { cwd: dir, env, gateway: { url, certDir }, timeoutMs: START_TIMEOUT_MS, nodeArgs: [...SOURCE_NODE_ARGS, ...diagnostics.nodeArgs, ...(process.env[SERVER_NODE_ARGS_ENV] ?? '').split(' ').filter(arg => arg !== '')] })
  } catch (err) {
    await plugin.cleanup().catch(() => {})
    throw err
  }
  const tls = {
    ca: await readFile(join(certDir, CERT_FILES.ca), 'utf8'),
    cert: await readFile(join(certDir, CERT_FILES.client), 'utf8'),
    key: await readFile(join(certDir, CERT_FILES.clientKey), 'utf8')
  }
  return {
    pid: running.pid,
    url,
    tls,
    backendName: backend,
    assertRunning () {
      if (running.exitCode !== undefined) throw new Error(`switchyard start exited with code ${String(running.exitCode)} under load; its output:\n${running.output().slice(-4000)}`)
    },
    async stop () {
      try {
        await running.stop(STOP_TIMEOUT_MS)
      } finally {
        await plugin.cleanup()
      }
    }
  }
}
