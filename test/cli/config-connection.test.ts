// `switchyard <admin command> --config f` talks to the deployment `switchyard start
// --config f` runs: the gateway address (admin.httpAddr) and the certificates
// (admin.tls: ca, clientCert/clientKey) come from the file, relative to it, so the
// command works from another directory too. A deployment on a Postgres server.
import t from 'tap'
import { createServer } from 'node:net'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureDevCertificates } from '../../core/transport/certs.ts'
import { runCli, startCli } from './support.ts'

/** a port free a moment ago (the config must name a real port for the CLI to find it) */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

t.test('admin commands read the gateway address and certificates from the config start uses', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-config-conn-'))
  const schema = `sy_cc_${Math.random().toString(36).slice(2, 10)}`
  t.teardown(async () => {
    const { default: pg } = await import('pg')
    const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' })
    await client.connect()
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await client.end()
    await rm(dir, { recursive: true, force: true })
  })
  const deploy = join(dir, 'deploy')
  await mkdir(deploy)
  // certificates of this deployment only, nowhere a default would find them
  const certs = await ensureDevCertificates(join(deploy, 'tls'))
  const port = await freePort()
  await writeFile(join(deploy, 'switchyard.yaml'), [
    'plugins:',
    '  - name: backend-postgres',
    `    options: { connectionString: "postgres://postgres@127.0.0.1:5432/test", schema: ${schema} }`,
    'admin:',
    `  httpAddr: 0.0.0.0:${port}`,
    '  grpcAddr: 127.0.0.1:0',
    '  tls: { cert: tls/server.pem, key: tls/server-key.pem, ca: tls/ca.pem, clientCert: tls/client.pem, clientKey: tls/client-key.pem }',
    ''
  ].join('\n'))
  t.ok(certs.created)

  const proc = startCli(['start', '--config', 'switchyard.yaml'], deploy)
  t.teardown(() => { if (proc.child.exitCode === null) proc.child.kill('SIGKILL') })
  await proc.waitFor('Press Ctrl-C to stop.', 120_000)

  // from another directory, by flag and by variable; a wildcard listen address is dialled on loopback
  const elsewhere = join(dir, 'elsewhere')
  await mkdir(elsewhere)
  const paused = await runCli(['pause', 'default', '--config', join(deploy, 'switchyard.yaml')], elsewhere)
  t.equal(paused.code, 0, paused.stderr)
  t.match(paused.stdout, 'queue default paused')
  const queues = await runCli(['queues'], elsewhere, { SWITCHYARD_CONFIG: join(deploy, 'switchyard.yaml') })
  t.equal(queues.code, 0, queues.stderr)
  t.match(queues.stdout, /^default +.* yes$/m, 'the pause is seen through the same gateway')
  // the mutation reached the running process: its log has the line, with the client certificate's identity
  await proc.waitFor(/"msg":"admin queue\.pause default by [^"]+: ok"/, 10_000, 'stderr')

  // without the file the command would look for <cwd>/.switchyard/certs and the default port: not this deployment
  const resumed = await runCli(['resume', 'default', '--config', join(deploy, 'switchyard.yaml')], elsewhere)
  t.match(resumed.stdout, 'queue default running', resumed.stderr)
  proc.child.kill('SIGINT')
  t.equal(await proc.exited, 0)
})
