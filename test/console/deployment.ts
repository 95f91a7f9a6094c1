// A real `switchyard start` with its console, for the browser tests and the benchmark:
// embedded (PGlite in a temp directory) or on the PostgreSQL server (a schema of its own),
// every listener on a port the OS picks. The start banner prints the console's address
// and the one-time sign-in URL.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dropSchema, TEST_POSTGRES_URL } from '../../plugins/backend-postgres/test-support.ts'
import { EPHEMERAL_LISTENERS, startCli, type Running } from '../cli/support.ts'

export interface ConsoleDeployment {
  /** http://host:port of the console */
  origin: string
  /** the banner's one-time sign-in URL */
  signInUrl: string
  proc: Running
  dir: string
  stop: () => Promise<void>
}

interface Teardown { teardown: (fn: () => unknown) => void }

export const CONSOLE_LISTENER: NodeJS.ProcessEnv = { ...EPHEMERAL_LISTENERS, SWITCHYARD_CONSOLE_ADDR: '127.0.0.1:0' }

/** the console URLs a running `switchyard start` printed in its banner */
export function consoleUrls (stdout: string): { origin: string, signInUrl: string } {
  const origin = /console: +(https?:\/\/[^/\s]+)/.exec(stdout)?.[1]
  const signInUrl = /open once to sign in as [^:]+: (https?:\/\/\S+)/.exec(stdout)?.[1]
  if (origin === undefined || signInUrl === undefined) throw new Error(`no console URL in the start banner:\n${stdout}`)
  return { origin, signInUrl }
}

/** where the deployment's backend keeps its data, for preparing it before the start */
export interface DeploymentStore { dir: string, pgliteDir: string, connectionString?: string, schema: string }

/** options.plugins: more entries of the plugins list (YAML lines), on the Postgres server only */
export async function startConsoleDeployment (t: Teardown, options: { backend: 'embedded' | 'postgres', config?: string[], env?: NodeJS.ProcessEnv, plugins?: string[], beforeStart?: (store: DeploymentStore) => Promise<void> }): Promise<ConsoleDeployment> {
  if (options.plugins !== undefined && options.backend !== 'postgres') throw new Error('startConsoleDeployment: plugins can be added on the postgres backend only')
  const dir = await mkdtemp(join(tmpdir(), 'sy-console-'))
  const schema = `sy_console_${randomBytes(5).toString('hex')}`
  const config = [
    'dataDir: data',
    ...(options.backend === 'postgres'
      ? ['plugins:', '  - name: backend-postgres', `    options: { connectionString: "${TEST_POSTGRES_URL}", schema: ${schema} }`, '  - name: metrics', '  - name: admin-console', ...(options.plugins ?? [])]
      : []),
    'worker: { pollInterval: 100ms, retry: { baseDelay: 100ms, maxDelay: 200ms } }',
    // the demo handlers (noop, sleep, fail) are what the flows enqueue; options.config may set demo itself
    ...((options.config ?? []).some(line => line.startsWith('demo:')) ? [] : ['demo: { enabled: true, interval: 10s }']),
    ...(options.config ?? [])
  ]
  await writeFile(join(dir, 'sy.yaml'), config.join('\n') + '\n')
  if (options.beforeStart !== undefined) {
    try {
      await options.beforeStart(options.backend === 'postgres'
        ? { dir, pgliteDir: join(dir, 'data', 'pglite'), connectionString: TEST_POSTGRES_URL, schema }
        : { dir, pgliteDir: join(dir, 'data', 'pglite'), schema: 'switchyard' })
    } catch (err) {
      if (options.backend === 'postgres') await dropSchema(schema)
      await rm(dir, { recursive: true, force: true })
      throw err
    }
  }
  const proc = startCli(['start', '--config', 'sy.yaml'], dir, { ...CONSOLE_LISTENER, ...options.env })
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    if (proc.child.exitCode === null) { proc.child.kill('SIGTERM'); await proc.exited }
  }
  t.teardown(async () => {
    await stop()
    if (options.backend === 'postgres') await dropSchema(schema)
    await rm(dir, { recursive: true, force: true })
  })
  await proc.waitFor('Press Ctrl-C to stop.', 180_000)
  return { ...consoleUrls(proc.stdout()), proc, dir, stop }
}
