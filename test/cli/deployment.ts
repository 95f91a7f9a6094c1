// A real deployment for CLI tests: `switchyard start` on a PostgreSQL schema of its
// own, its admin listeners on ports the OS picks, handlers from a module in the test
// directory (`ok` succeeds, `boom` always throws). CLI calls go through its gateway
// with the development client certificate it generated, found through --config.
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dropSchema, TEST_POSTGRES_URL } from '../../plugins/backend-postgres/test-support.ts'
import { createHttpAdminClient, type HttpAdminClient } from '../../core/transport/http-client.ts'
import { EPHEMERAL_LISTENERS, gatewayAddress, runCli, startCli, type RunResult, type Running } from './support.ts'

export interface Deployment {
  dir: string
  /** host:port of the gateway */
  gateway: string
  /** env that points the CLI at this deployment's gateway */
  env: NodeJS.ProcessEnv
  proc: Running
  /** the admin contract in this process, for setting up and polling without a CLI process each time */
  admin: HttpAdminClient
  /** runs `switchyard <args> --config sy.yaml` against it */
  cli: (args: string[], options?: { env?: NodeJS.ProcessEnv, stdin?: string }) => Promise<RunResult>
  /** the one JSON line a --json command printed */
  json: <T = Record<string, unknown>>(args: string[], options?: { env?: NodeJS.ProcessEnv, stdin?: string }) => Promise<T>
  stop: () => Promise<void>
}

interface Teardown { teardown: (fn: () => unknown) => void }

/** workerQueues: the queues the deployment's worker serves (default: every queue); extraPlugins: more entries of its plugin list (YAML lines) */
export async function startDeployment (t: Teardown, options: { extraConfig?: string[], workerQueues?: string[], extraPlugins?: string[] } = {}): Promise<Deployment> {
  const dir = await mkdtemp(join(tmpdir(), 'sy-cli-deploy-'))
  const schema = `sy_cli_${randomBytes(5).toString('hex')}`
  await writeFile(join(dir, 'handlers.mjs'), [
    'export const handlers = {',
    '  ok: async () => {},',
    '  boom: async () => { throw new Error(\'boom on purpose\') }',
    '}'
  ].join('\n') + '\n')
  await writeFile(join(dir, 'sy.yaml'), [
    'dataDir: data',
    'plugins:',
    '  - name: backend-postgres',
    `    options: { connectionString: "${TEST_POSTGRES_URL}", schema: ${schema} }`,
    '  - name: metrics',
    ...(options.extraPlugins ?? []),
    'handlers: [./handlers.mjs]',
    `worker: { ${options.workerQueues === undefined ? '' : `queues: [${options.workerQueues.join(', ')}], `}pollInterval: 100ms, retry: { baseDelay: 100ms, maxDelay: 200ms } }`,
    'scheduler: { durableHandlers: [ok] }',
    ...(options.extraConfig ?? [])
  ].join('\n') + '\n')
  const proc = startCli(['start', '--config', 'sy.yaml'], dir, EPHEMERAL_LISTENERS)
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    if (proc.child.exitCode === null) {
      proc.child.kill('SIGTERM')
      await proc.exited
    }
  }
  t.teardown(async () => {
    await stop()
    await dropSchema(schema)
    await rm(dir, { recursive: true, force: true })
  })
  await proc.waitFor('Press Ctrl-C to stop.', 120_000)
  const gateway = gatewayAddress(proc.stdout())
  const env = { WORKER_ADMIN_HTTP_ADDR: gateway }
  const certs = join(dir, 'data', 'certs')
  const admin = createHttpAdminClient({
    url: `https://${gateway}`,
    ca: await readFile(join(certs, 'ca.pem'), 'utf8'),
    cert: await readFile(join(certs, 'client.pem'), 'utf8'),
    key: await readFile(join(certs, 'client-key.pem'), 'utf8')
  })
  t.teardown(() => { admin.close() })
  const cli: Deployment['cli'] = async (args, runOptions = {}) =>
    await runCli([...args, '--config', 'sy.yaml'], dir, { ...env, ...runOptions.env }, 60_000, runOptions.stdin)
  const json: Deployment['json'] = async <T>(args: string[], runOptions: { env?: NodeJS.ProcessEnv, stdin?: string } = {}) => {
    const result = await cli([...args, '--json'], runOptions)
    if (result.code !== 0) throw new Error(`switchyard ${args.join(' ')} exited ${String(result.code)}: ${result.stderr}`)
    const lines = result.stdout.trimEnd().split('\n')
    if (lines.length !== 1) throw new Error(`switchyard ${args.join(' ')} --json printed ${lines.length} lines:\n${result.stdout}`)
    return JSON.parse(lines[0] as string) as T
  }
  return { dir, gateway, env, proc, admin, cli, json, stop }
}
