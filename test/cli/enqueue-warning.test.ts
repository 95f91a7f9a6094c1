// `switchyard enqueue` stores a task whose handler no live worker runs, and says so:
// stdout stays the JSON answer (with its warnings), stderr repeats each warning.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPostgresBackend } from '@switchyard/backend-postgres'
import { dropSchema, TEST_POSTGRES_URL as URL } from '../../plugins/backend-postgres/test-support.ts'
import { runCli } from './support.ts'

t.test('enqueue warns when no live worker runs the handler, and is quiet once one does', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-cli-'))
  const schema = `sy_cli_${randomBytes(5).toString('hex')}`
  const backend = createPostgresBackend({ connectionString: URL, schema })
  await backend.init()
  t.teardown(async () => {
    await backend.close()
    await dropSchema(schema)
    await rm(dir, { recursive: true, force: true })
  })
  await writeFile(join(dir, 'sy.yaml'), [
    `dataDir: ${join(dir, 'data')}`,
    'plugins:',
    '  - name: backend-postgres',
    '    options:',
    `      connectionString: ${URL}`,
    `      schema: ${schema}`
  ].join('\n') + '\n')

  const unserved = await runCli(['enqueue', 'send_email', '--local', '--config', 'sy.yaml', '--json'], dir)
  t.equal(unserved.code, 0, unserved.stderr)
  const answer = JSON.parse(unserved.stdout.trim()) as { id: string, created: boolean, warnings: string[] }
  t.ok(answer.created, 'the task is stored')
  t.match(answer.warnings, [/no live worker runs handler send_email/], 'the answer names the handler')
  t.match(unserved.stderr, /^warning: no live worker runs handler send_email/m, 'printed for the person at the terminal')
  t.match(await backend.getTask(answer.id), { state: 'ready', attempts: 0, handler: 'send_email' })

  await backend.heartbeatWorker({
    id: 'mailer-1', host: 'h', pid: 1, version: 'v', queues: ['default'], handlers: ['send_email'], concurrency: 1, inFlight: 0, startedAt: Date.now(), lastHeartbeatAt: Date.now()
  }, 60_000)
  const served = await runCli(['enqueue', 'send_email', '--local', '--config', 'sy.yaml', '--json'], dir)
  t.equal(served.code, 0, served.stderr)
  t.same((JSON.parse(served.stdout.trim()) as { warnings: string[] }).warnings, [], 'no warning once a live worker runs it')
  t.notMatch(served.stderr, /warning:/)
})
