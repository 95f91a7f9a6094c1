// A listener address another process holds fails start-up in one line that names the
// setting and its environment variable, before the backend opens (no embedded
// database is created), for `start` and for `gateway`.
import t, { type Test } from 'tap'
import { createServer, type Server } from 'node:net'
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from './support.ts'

async function occupyPort (t: Test): Promise<string> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as { port: number }
  return `127.0.0.1:${port}`
}

async function exists (path: string): Promise<boolean> {
  try { await access(path); return true } catch { return false }
}

t.test('start: a taken admin.httpAddr is one line naming the setting and WORKER_ADMIN_HTTP_ADDR', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-port-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const taken = await occupyPort(t)
  await writeFile(join(dir, 'sy.yaml'), `admin:\n  httpAddr: ${taken}\n  grpcAddr: 127.0.0.1:0\n`)
  const run = await runCli(['start', '--config', 'sy.yaml'], dir)
  t.equal(run.code, 1)
  t.equal(run.stderr.trim().split('\n').length, 1, `one line: ${run.stderr}`)
  t.match(run.stderr, `ADDRESS_IN_USE: admin.httpAddr ${taken} is in use by another process`)
  t.match(run.stderr, /admin\.httpAddr or WORKER_ADMIN_HTTP_ADDR/)
  t.notOk(await exists(join(dir, '.switchyard', 'pglite')), 'failed before the embedded database was created')
})

t.test('start: a taken admin.grpcAddr set through its variable names WORKER_ADMIN_GRPC_ADDR', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-port-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const taken = await occupyPort(t)
  const run = await runCli(['start'], dir, { WORKER_ADMIN_HTTP_ADDR: '127.0.0.1:0', WORKER_ADMIN_GRPC_ADDR: taken })
  t.equal(run.code, 1)
  t.equal(run.stderr.trim().split('\n').length, 1, `one line: ${run.stderr}`)
  t.match(run.stderr, `ADDRESS_IN_USE: admin.grpcAddr ${taken} is in use`)
  t.match(run.stderr, /WORKER_ADMIN_GRPC_ADDR/)
  t.notOk(await exists(join(dir, '.switchyard')), 'nothing was created')
})

t.test('start: a taken console.addr names SWITCHYARD_CONSOLE_ADDR before the backend opens', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-port-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const taken = await occupyPort(t)
  const run = await runCli(['start'], dir, { WORKER_ADMIN_HTTP_ADDR: '127.0.0.1:0', WORKER_ADMIN_GRPC_ADDR: '127.0.0.1:0', SWITCHYARD_CONSOLE_ADDR: taken })
  t.equal(run.code, 1)
  t.equal(run.stderr.trim().split('\n').length, 1, `one line: ${run.stderr}`)
  t.match(run.stderr, `ADDRESS_IN_USE: console.addr ${taken} is in use`)
  t.match(run.stderr, /console\.addr or SWITCHYARD_CONSOLE_ADDR/)
  t.notOk(await exists(join(dir, '.switchyard', 'pglite')), 'failed before the embedded database was created')
})

t.test('gateway: a taken admin.httpAddr is refused the same way', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-port-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const taken = await occupyPort(t)
  const run = await runCli(['gateway'], dir, { WORKER_ADMIN_HTTP_ADDR: taken, WORKER_ADMIN_GRPC_TARGET: '127.0.0.1:1' })
  t.equal(run.code, 1)
  t.equal(run.stderr.trim().split('\n').length, 1, `one line: ${run.stderr}`)
  t.match(run.stderr, `ADDRESS_IN_USE: admin.httpAddr ${taken} is in use`)
})
