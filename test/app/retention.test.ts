// The running platform prunes finished tasks by itself: with a short retention in the
// config, an old succeeded task disappears, a younger one and a dead one (no dead
// retention) stay, and the queue counts follow.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { createSwitchyard, PermanentError } from '../../core/index.ts'
import { waitFor } from '../../core/backend/conformance/index.ts'
import { TEST_REDIS_URL, deleteKeys } from '../../plugins/backend-redis/testing.ts'

const RETENTION_MS = 1500

t.test('a running Switchyard deletes finished tasks past their retention, and only those', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-retention-'))
  const prefix = `sy:retention:${randomBytes(6).toString('hex')}:`
  await writeFile(join(dir, 'switchyard.yaml'), [
    'plugins:',
    '  - name: backend-redis',
    '    options:',
    `      url: ${TEST_REDIS_URL}`,
    `      prefix: "${prefix}"`,
    'worker:',
    '  pollInterval: 50ms',
    'retention:',
    `  succeeded: ${RETENTION_MS}ms`,
    `  canceled: ${RETENTION_MS}ms`,
    '  interval: 100ms',
    ''
  ].join('\n'))
  const sy = await createSwitchyard({ configFile: join(dir, 'switchyard.yaml') })
  t.teardown(async () => {
    await sy.close()
    const cleaner = new Redis(TEST_REDIS_URL)
    try { await deleteKeys(cleaner, `{${prefix}}`) } finally { await cleaner.quit() }
    await rm(dir, { recursive: true, force: true })
  })
  sy.handle('work', async () => {})
  sy.handle('refuse', async () => { throw new PermanentError('refused') })
  await sy.start()

  const state = async (id: string): Promise<string | null> => (await sy.backend.getTask(id))?.state ?? null
  const [old] = await sy.enqueue({ handler: 'work', queue: 'kept' })
  const [refused] = await sy.enqueue({ handler: 'refuse', queue: 'kept' })
  await waitFor(async () => await state(old!.id) === 'succeeded', { what: 'the old task to succeed' })
  await waitFor(async () => await state(refused!.id) === 'dead', { what: 'the refused task to die' })
  const oldFinished = (await sy.backend.getTask(old!.id))?.finishedAt ?? 0
  // the young task finishes well after the old one, so it is still young when the old one goes
  await waitFor(async () => (await sy.backend.now()) > oldFinished + RETENTION_MS / 2, { what: 'half the retention to pass' })
  const [young] = await sy.enqueue({ handler: 'work', queue: 'kept' })
  await waitFor(async () => await state(young!.id) === 'succeeded', { what: 'the young task to succeed' })
  t.equal(await state(old!.id), 'succeeded', 'nothing is pruned before its retention has passed')

  await waitFor(async () => await state(old!.id) === null, { timeoutMs: 10_000, what: 'the old task to be pruned' })
  t.equal(await state(young!.id), 'succeeded', 'the young task stays')
  t.equal(await state(refused!.id), 'dead', 'dead tasks stay without a dead retention')
  t.match((await sy.backend.queueStats(['kept']))[0], { succeeded: 1, dead: 1, ready: 0, processing: 0 }, 'the counts follow')
  await waitFor(async () => await state(young!.id) === null, { timeoutMs: 10_000, what: 'the young task to be pruned in its turn' })
  t.match((await sy.backend.queueStats(['kept']))[0], { succeeded: 0, dead: 1 })
})
