import t from 'tap'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:https'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import type Docker from 'dockerode'
import { buildImage, containerLogs, ensureBaseImage, execIn, podmanMissing, REPO_ROOT, startPodmanService } from './podman.ts'

// The image as an operator runs it: built from the Dockerfile through podman's
// Docker-compatible API, started on the host's network against the host's Postgres,
// with certificates and a config mounted read-only. It must answer the health route
// over mutual TLS, run a task, pass its own HEALTHCHECK and stop cleanly on SIGTERM.

const run = promisify(execFile)
const IMAGE = 'localhost/switchyard:test'
const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test'
/** the uid of the image's `node` user, who must be able to read the mounted keys */
const IMAGE_UID = 1000

// A cold build installs every dependency from the registry: minutes, not seconds.
t.setTimeout(20 * 60_000)

const missing = await podmanMissing()
if (missing !== null) {
  t.plan(0, `skipped: ${missing}`)
} else {
  await main()
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

interface Certs { ca: Buffer, cert: Buffer, key: Buffer }

function httpsJson (port: number, path: string, certs: Partial<Certs>, body?: unknown): Promise<{ status: number, json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = request({
      host: '127.0.0.1', port, path, method: payload === undefined ? 'GET' : 'POST', servername: 'localhost', timeout: 10_000, ...certs,
      headers: payload === undefined ? {} : { 'content-type': 'application/json' }
    }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString() })
      res.on('end', () => {
        try { resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }) } catch (err) { reject(new Error(`${path}: not JSON (${res.statusCode}): ${text.slice(0, 300)}`, { cause: err })) }
      })
    })
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer in 10 s`)))
    req.on('error', reject)
    req.end(payload)
  })
}

/** Thrown by a probe when waiting longer cannot help (the container exited). */
class GaveUp extends Error {}

async function waitUntil<T> (what: string, probe: () => Promise<T | null>, timeoutMs: number, context: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError = ''
  for (;;) {
    try {
      const value = await probe()
      if (value !== null) return value
    } catch (err) {
      if (err instanceof GaveUp) throw new Error(`${what}: ${err.message}\n${await context()}`)
      lastError = (err as Error).message
    }
    if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms (last: ${lastError})\n${await context()}`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

async function main (): Promise<void> {
  // Exclusive: the build's layer commits hold podman's storage, which would stall the
  // other container tests' engine calls; they wait for this file instead (engine-lock.ts).
  const podman = await startPodmanService({ engineLock: 'exclusive' })
  t.teardown(() => podman.close())
  const { docker } = podman
  const commit = (await run('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT }).catch(() => ({ stdout: 'unknown' }))).stdout.trim()

  let built = 0
  t.test('the image builds from the Dockerfile through the API', async t => {
    const started = Date.now()
    // The first build on a machine (a fresh CI machine's every build) finds no layers to
    // reuse: it stores none either, and the next one keeps its layers for the ones after.
    const builtBefore = await docker.getImage(IMAGE).inspect().then(() => true, () => false)
    const base = await ensureBaseImage(podman.env)
    const baseMs = Date.now() - started
    // The context carries the workspace's build output (`npm run build`, which CI has run):
    // the build stage's own `npm run build` checks it against the sources and compiles
    // only what is stale, instead of the whole workspace again in the container.
    const { log } = await buildImage(docker, IMAGE, { BASE_IMAGE: base, SWITCHYARD_COMMIT: commit }, { reuseHostBuild: true, layers: builtBefore })
    built = Date.now() - started
    t.comment(`base image ${base} ready in ${baseMs} ms; switchyard image built in ${built - baseMs} ms (${builtBefore ? 'reusing and keeping layers' : 'first build here: no layers kept'})`)
    t.match(log, /npm ci/, 'the build stage installs with the lockfile')

    const image = await docker.getImage(IMAGE).inspect()
    t.equal(image.Config.User, 'node', 'the processes run as the unprivileged node user')
    t.same(image.Config.Entrypoint, ['node', '/app/core/bin/switchyard.js'])
    t.ok(image.Config.Env.includes(`SWITCHYARD_COMMIT=${commit}`), 'the build records the commit for the health route')
    // glibc reads it at each process's start: the memory an SSE burst frees goes back (bench/README.md)
    t.ok(image.Config.Env.includes('MALLOC_TRIM_THRESHOLD_=131072'), 'the processes run with a fixed malloc trim threshold')

    // Only production dependencies: the test and build tooling is not in the runtime stage.
    const probe = await docker.createContainer({
      Image: IMAGE,
      Entrypoint: ['node', '-e', `console.log('sources=' + require('child_process').execSync('find /app/core /app/plugins -name "*.ts" ! -name "*.d.ts" | wc -l').toString().trim()); for (const m of ['typescript','tap','vite','playwright-core','graphile-worker','fastify','pg','@electric-sql/pglite','bullmq','ioredis']) { let found = true; try { require.resolve(m, { paths: ['/app/core', '/app/plugins/backend-postgres', '/app/plugins/backend-bullmq'] }) } catch { found = false } console.log(m + '=' + found) }`],
      HostConfig: { NetworkMode: 'none', AutoRemove: false }
    })
    try {
      // (podman's image inspect leaves the health check out; a container made from the image shows it)
      const healthcheck = (await probe.inspect()).Config.Healthcheck
      t.same(healthcheck?.Test, ['CMD', 'node', '/app/deploy/container/healthcheck.mjs'], 'the image carries its health check')
      await probe.start()
      await probe.wait()
      const out = await containerLogs(probe)
      for (const dev of ['typescript', 'tap', 'vite', 'playwright-core', 'graphile-worker']) t.match(out, `${dev}=false`, `no ${dev} in the runtime image`)
      t.match(out, /sources=0\b/, 'no TypeScript sources: the packages as npm pack publishes them')
      for (const prod of ['fastify', 'pg', '@electric-sql/pglite', 'bullmq', 'ioredis']) t.match(out, `${prod}=true`, `${prod} is there`)
    } finally {
      await probe.remove({ force: true, v: true })
    }
  })

  t.test('a container answers the health route over mutual TLS and runs a task on the host\'s Postgres', async t => {
    const dir = await mkdtemp(join(tmpdir(), 'switchyard-image-'))
    const schema = `deploy_${randomBytes(4).toString('hex')}`
    const queue = `image-${randomBytes(4).toString('hex')}`
    let container: Docker.Container | null = null
    t.teardown(async () => {
      if (container !== null) await container.remove({ force: true, v: true }).catch(() => {})
      const client = new pg.Client({ connectionString: POSTGRES_URL })
      await client.connect()
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => client.end())
      await rm(dir, { recursive: true, force: true })
    })

    // Certificates as `switchyard certs` makes them, readable by the image's user (the keys stay 0600).
    await run(process.execPath, [join(REPO_ROOT, 'core/bin/switchyard.js'), 'certs', '--dir', join(dir, 'certs')], { cwd: dir, timeout: 60_000 })
    await chmod(dir, 0o755)
    await chmod(join(dir, 'certs'), 0o755)
    for (const file of ['ca.pem', 'server.pem', 'server-key.pem', 'client.pem', 'client-key.pem']) await chown(join(dir, 'certs', file), IMAGE_UID, IMAGE_UID)
    await writeFile(join(dir, 'handlers.mjs'), [
      '// A handler the container runs: it answers with where it ran.',
      'import { hostname } from "node:os"',
      'export const handlers = { container_echo: async (payload) => ({ echoed: payload, user: process.getuid(), dataDir: process.env.SWITCHYARD_DATA_DIR, hostname: hostname() }) }',
      ''
    ].join('\n'))
    await writeFile(join(dir, 'switchyard.yaml'), [
      'plugins:',
      '  - name: backend-postgres',
      '    options:',
      `      connectionString: ${POSTGRES_URL}`,
      `      schema: ${schema}`,
      '  - name: metrics',
      'handlers: [./handlers.mjs]',
      'worker:',
      '  pollInterval: 200ms',
      ''
    ].join('\n'))
    await chmod(join(dir, 'handlers.mjs'), 0o644)
    await chmod(join(dir, 'switchyard.yaml'), 0o644)

    const httpPort = await freePort()
    const grpcPort = await freePort()
    const certs: Certs = {
      ca: await readFile(join(dir, 'certs', 'ca.pem')),
      cert: await readFile(join(dir, 'certs', 'client.pem')),
      key: await readFile(join(dir, 'certs', 'client-key.pem'))
    }
    // Host networking: the container reaches Postgres on the host's 127.0.0.1:5432, and
    // the test reaches the container's listeners there too.
    container = await docker.createContainer({
      Image: IMAGE,
      Cmd: ['start', '--config', '/etc/switchyard/switchyard.yaml'],
      Env: [
        `WORKER_ADMIN_HTTP_ADDR=127.0.0.1:${httpPort}`,
        `WORKER_ADMIN_GRPC_ADDR=127.0.0.1:${grpcPort}`,
        'WORKER_ADMIN_TLS_CA=/etc/switchyard/certs/ca.pem',
        'WORKER_ADMIN_TLS_CERT=/etc/switchyard/certs/server.pem',
        'WORKER_ADMIN_TLS_KEY=/etc/switchyard/certs/server-key.pem',
        'SWITCHYARD_CLIENT_CERT=/etc/switchyard/certs/client.pem',
        'SWITCHYARD_CLIENT_KEY=/etc/switchyard/certs/client-key.pem'
      ],
      HostConfig: { NetworkMode: 'host', Binds: [`${dir}:/etc/switchyard:ro`] }
    })
    const ctr = container
    await ctr.start()
    const logs = async (): Promise<string> => `container log:\n${(await containerLogs(ctr).catch(() => '')).slice(-4_000)}`

    const health = await waitUntil('GET /admin/v1/health', async () => {
      const state = (await ctr.inspect()).State
      if (!state.Running) throw new GaveUp(`the container exited with ${state.ExitCode}`)
      const answer = await httpsJson(httpPort, '/admin/v1/health', certs)
      return answer.status === 200 ? answer.json : null
    }, 90_000, logs)
    t.match(health, { status: 'ok', backend: String, commit }, 'healthy, on its backend, reporting the built commit')

    const refused = await httpsJson(httpPort, '/admin/v1/health', { ca: certs.ca }).then(() => 'answered', (err: Error) => err.message)
    t.not(refused, 'answered', 'a client without a certificate is refused at the handshake')

    // The image's own CLI enqueues through the container's gateway.
    const enqueued = await execIn(ctr, ['switchyard', 'enqueue', 'container_echo', '--queue', queue, '--payload', '{"n":42}',
      '--url', `https://127.0.0.1:${httpPort}`, '--cacert', '/etc/switchyard/certs/ca.pem', '--json'])
    t.equal(enqueued.exitCode, 0, `switchyard enqueue in the container: ${enqueued.output}`)
    const answer = JSON.parse(enqueued.output.trim().split('\n').find(line => line.startsWith('{')) ?? '{}') as { task?: { id?: string }, id?: string }
    const id = answer.task?.id ?? answer.id
    t.type(id, 'string', 'the enqueue answer names the task')

    const task = await waitUntil('the task to succeed', async () => {
      const got = await httpsJson(httpPort, `/admin/v1/tasks/${encodeURIComponent(id as string)}`, certs)
      const view = (got.json.task ?? got.json) as Record<string, unknown>
      return view.state === 'succeeded' ? view : null
    }, 60_000, logs)
    t.match(task, { queue, handler: 'container_echo', state: 'succeeded' }, 'a worker in the container ran it')
    const rows = await (async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL })
      await client.connect()
      try { return (await client.query(`SELECT count(*)::int AS n FROM "${schema}".tasks WHERE queue = $1`, [queue])).rows } finally { await client.end() }
    })().catch((err: Error) => [{ n: `unreadable: ${err.message}` }])
    t.same(rows, [{ n: 1 }], 'the task is stored in the host\'s Postgres, in the configured schema')

    // The image's HEALTHCHECK command, as the engine would run it.
    const check = await execIn(ctr, ['node', '/app/deploy/container/healthcheck.mjs'])
    t.equal(check.exitCode, 0, `the health check passes: ${check.output}`)
    t.match(check.output, /healthy: .*"status":"ok"/)

    await ctr.stop({ t: 30 })
    const stopped = (await ctr.inspect()).State
    t.equal(stopped.ExitCode, 0, 'SIGTERM stops it with exit code 0')
    t.match(await containerLogs(ctr), /switchyard stopped cleanly/)
  })
}
