// The programmatic API as the README shows it: createSwitchyard, handle, start,
// enqueue (with an idempotency key), PermanentError to the DLQ, close.
import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSwitchyard, PermanentError } from '../../core/index.ts'

async function waitFor (check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

t.test('handle, start, enqueue, close on a Postgres server', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-api-'))
  const schema = `sy_api_${Math.random().toString(36).slice(2, 10)}`
  await writeFile(join(dir, 'switchyard.yaml'), [
    'plugins:',
    '  - name: backend-postgres',
    '    options:',
    '      connectionString: postgres://postgres@127.0.0.1:5432/test',
    `      schema: ${schema}`,
    'worker:',
    '  concurrency: 4',
    '  retry:',
    '    baseDelay: 10ms',
    '    maxDelay: 50ms',
    ''
  ].join('\n'))
  const sy = await createSwitchyard({ configFile: join(dir, 'switchyard.yaml') })
  t.teardown(async () => {
    const { default: pg } = await import('pg')
    const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' })
    await client.connect()
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await client.end()
    await rm(dir, { recursive: true, force: true })
  })

  const seen: string[] = []
  sy.handle('send_email', async (payload: { to: string }, ctx) => {
    if (!payload.to.includes('@')) throw new PermanentError('no address')
    t.ok(ctx.signal instanceof AbortSignal)
    seen.push(payload.to)
  })
  await sy.start()
  const [first] = await sy.enqueue({ handler: 'send_email', payload: { to: 'ops@example.com' }, idempotencyKey: 'welcome:42' })
  const [again] = await sy.enqueue({ handler: 'send_email', payload: { to: 'ops@example.com' }, idempotencyKey: 'welcome:42' })
  t.equal(again?.id, first?.id, 'the idempotency key deduplicates')
  t.equal(again?.created, false)
  const [bad] = await sy.enqueue({ handler: 'send_email', payload: { to: 'nobody' } })

  await waitFor(async () => (await sy.backend.getTask(first!.id))?.state === 'succeeded')
  await waitFor(async () => (await sy.backend.getTask(bad!.id))?.state === 'dead')
  t.same(seen, ['ops@example.com'], 'ran once')
  const dead = await sy.backend.getTask(bad!.id)
  t.equal(dead?.attempts, 1, 'PermanentError skips the retries')
  t.match(dead?.lastError, /no address/)

  await t.rejects(sy.enqueue({ handler: 'bad name!' }), { code: 'VALIDATION_FAILED', message: /task\.handler/ })
  await sy.close()
})
