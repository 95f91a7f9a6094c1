import t from 'tap'
import Fastify from 'fastify'
import { spawnSync } from 'node:child_process'
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, loadPlugins } from '@switchyard/core'
import { ensureHookRegistry } from '@switchyard/core/plugin'
import { FileEventStore, LOCK_FILE, type FileEventStoreOptions } from './index.ts'

const root = await mkdtemp(join(tmpdir(), 'sy-event-store-'))
t.teardown(() => rm(root, { recursive: true, force: true }))
let counter = 0

function newDir (): string { return join(root, `d${++counter}`) }

function open (dir: string, options: Partial<FileEventStoreOptions> = {}): FileEventStore {
  const store = new FileEventStore({ dir, maxEntries: 10_000, cacheTtlMs: 10_000, pollIntervalMs: 20, ...options })
  t.teardown(() => store.close())
  return store
}

function jobEvents (from: number, count: number) {
  return Array.from({ length: count }, (_, i) => ({ type: 'job.output', data: { job: 'build', runId: 'r1', n: from + i } }))
}

async function waitFor (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

t.test('ids are monotonic and sort; read from the start, after an id, with a limit', async t => {
  const store = open(newDir())
  const first = await store.append(jobEvents(1, 3))
  const second = await store.append(jobEvents(4, 2))
  const ids = [...first, ...second].map(e => e.id)
  t.same(ids, ['0000000000000001', '0000000000000002', '0000000000000003', '0000000000000004', '0000000000000005'])
  t.same([...ids].sort(), ids)
  t.match(first[0], { type: 'job.output', data: { job: 'build', runId: 'r1', n: 1 } })
  t.type(first[0]?.time, 'number')
  t.same(await store.read({ afterId: null, limit: 100 }), [...first, ...second])
  t.same(await store.read({ afterId: ids[1] as string, limit: 2 }), [first[2], second[0]])
  t.same(await store.read({ afterId: ids[4] as string, limit: 10 }), [])
  t.same(await store.append([]), [])
  await t.rejects(store.read({ afterId: 'abc', limit: 1 }), { code: 'VALIDATION_FAILED', details: { field: 'afterId' } })
})

t.test('events survive a restart: write, close, reopen, read after an id, ids continue', async t => {
  const dir = newDir()
  const before = open(dir)
  const written = await before.append(jobEvents(1, 1500))
  await before.close()
  const after = open(dir)
  t.same(await after.read({ afterId: written[1199]?.id as string, limit: 1000 }), written.slice(1200), 'read past the in-memory tail, from disk')
  t.same(await after.read({ afterId: written[9]?.id as string, limit: 3 }), written.slice(10, 13))
  const more = await after.append(jobEvents(1501, 1))
  t.equal(more[0]?.id, '0000000000001501')
  t.equal((await after.read({ afterId: written[1499]?.id as string, limit: 5 }))[0]?.id, '0000000000001501')
})

t.test('newest first: pages back from the newest or before an id, meeting a forward read without a gap', async t => {
  const dir = newDir()
  const writer = open(dir, { maxEntries: 2000 })
  const written = await writer.append(jobEvents(1, 1500))
  const ids = written.map(e => e.id)
  t.same(await writer.readNewestFirst({ beforeId: null, limit: 3 }), written.slice(-3).reverse())
  t.same(await writer.readNewestFirst({ beforeId: ids[10] as string, limit: 4 }), written.slice(6, 10).reverse())
  t.same(await writer.readNewestFirst({ beforeId: ids[2] as string, limit: 10 }), written.slice(0, 2).reverse(), 'stops at the oldest')
  t.same(await writer.readNewestFirst({ beforeId: ids[0] as string, limit: 10 }), [])
  t.same(await writer.readNewestFirst({ beforeId: null, limit: 0 }), [])
  const page = await writer.readNewestFirst({ beforeId: ids[1200] as string, limit: 5 })
  t.same(await writer.read({ afterId: page[0]?.id as string, limit: 5 }), written.slice(1200, 1205), 'a forward read from the page\'s newest continues after it')
  await t.rejects(writer.readNewestFirst({ beforeId: 'abc', limit: 1 }), { code: 'VALIDATION_FAILED', details: { field: 'beforeId' } })
  // another process: the older part is read from disk, past the in-memory tail
  await writer.close()
  const reader = open(dir, { maxEntries: 2000 })
  const back: string[] = []
  let beforeId: string | null = null
  for (;;) {
    const next = await reader.readNewestFirst({ beforeId, limit: 400 })
    if (next.length === 0) break
    back.push(...next.map(e => e.id))
    beforeId = next.at(-1)?.id as string
  }
  t.same(back, [...ids].reverse(), 'every event once, newest first')
  const trimmed = open(newDir(), { maxEntries: 25 })
  for (let i = 0; i < 10; i++) await trimmed.append(jobEvents(i * 5 + 1, 5))
  t.same((await trimmed.readNewestFirst({ beforeId: '0000000000000030', limit: 100 })).map(e => e.id).at(-1), '0000000000000026', 'never older than what is kept')
})

t.test('older events are trimmed past maxEntries, on disk too', async t => {
  const dir = newDir()
  const store = open(dir, { maxEntries: 25 })
  t.equal(store.segmentEntries, 3)
  for (let i = 0; i < 20; i++) await store.append(jobEvents(i * 5 + 1, 5))
  const kept = await store.read({ afterId: null, limit: 1000 })
  t.equal(kept.length, 25)
  t.equal(kept[0]?.id, '0000000000000076')
  t.equal(kept.at(-1)?.id, '0000000000000100')
  t.same(await store.read({ afterId: '0000000000000003', limit: 2 }).then(e => e.map(x => x.id)), ['0000000000000076', '0000000000000077'], 'resuming from a trimmed id starts at the oldest kept')
  const segments = (await readdir(dir)).filter(name => name.endsWith('.jsonl'))
  t.ok(segments.length <= Math.ceil(25 / 3) + 2, `old segments deleted (${segments.length} left)`)
  const reopened = open(dir, { maxEntries: 25 })
  await store.close()
  t.same(await reopened.read({ afterId: null, limit: 1000 }), kept, 'the same after a restart')
})

t.test('another process\'s view: the tail is cached for cacheTtl, and a subscriber sees new events', async t => {
  const dir = newDir()
  const writer = open(dir)
  await writer.append(jobEvents(1, 2))
  const cached = open(dir, { cacheTtlMs: 3_600_000 })
  t.equal((await cached.read({ afterId: null, limit: 10 })).length, 2)
  await writer.append(jobEvents(3, 1))
  t.equal((await cached.read({ afterId: null, limit: 10 })).length, 2, 'served from the cached tail, no disk read')
  const fresh = open(dir, { cacheTtlMs: 0 })
  t.equal((await fresh.read({ afterId: null, limit: 10 })).length, 3, 'without a cache, every read looks at the files')
  let calls = 0
  const unsubscribe = await cached.subscribe(() => { calls++ })
  await writer.append(jobEvents(4, 1))
  await waitFor(() => calls > 0, 'the poll to notice the append')
  t.equal((await cached.read({ afterId: null, limit: 10 })).length, 4, 'a noticed change drops the cached tail')
  await unsubscribe()
  let own = 0
  await writer.subscribe(() => { own++ })
  await writer.append(jobEvents(5, 1))
  t.equal(own, 1, "the writer's own subscribers hear at once")
})

t.test('one writer per directory; a lock left by a dead process is taken over', async t => {
  const dir = newDir()
  const first = open(dir)
  await first.append(jobEvents(1, 1))
  const second = open(dir)
  await t.rejects(second.append(jobEvents(2, 1)), { code: 'EVENT_STORE_LOCKED', message: new RegExp(`process ${process.pid} writes`) })
  t.equal((await second.read({ afterId: null, limit: 10 })).length, 1, 'reading needs no lock')
  await first.close()
  t.match(await second.append(jobEvents(2, 1)), [{ id: '0000000000000002' }], 'after the writer closed')
  await second.close()
  const dead = spawnSync('true').pid as number
  await writeFile(join(dir, LOCK_FILE), `${dead}\n`)
  const third = open(dir)
  t.match(await third.append(jobEvents(3, 1)), [{ id: '0000000000000003' }])
  t.equal((await readFile(join(dir, LOCK_FILE), 'utf8')).trim(), String(process.pid))
  await third.close()
  await t.rejects(third.append(jobEvents(4, 1)), { code: 'EVENT_STORE_CLOSED' })
  t.same((await readdir(dir)).filter(name => name === LOCK_FILE), [], 'closing released the lock')
})

t.test('a line torn by a crash is left out and cut off when the next writer starts', async t => {
  const dir = newDir()
  const store = open(dir)
  const written = await store.append(jobEvents(1, 3))
  await store.close()
  const [segment] = (await readdir(dir)).filter(name => name.endsWith('.jsonl'))
  await appendFile(join(dir, segment as string), '{"id":"0000000000000004","type":"job.out')
  const reader = open(dir, { cacheTtlMs: 0 })
  t.same(await reader.read({ afterId: null, limit: 10 }), written)
  const next = open(dir)
  t.match(await next.append(jobEvents(4, 1)), [{ id: '0000000000000004' }])
  const lines = (await readFile(join(dir, segment as string), 'utf8')).trim().split('\n').map(line => JSON.parse(line) as { id: string })
  t.same(lines.map(l => l.id), ['0000000000000001', '0000000000000002', '0000000000000003', '0000000000000004'])
})

t.test('the plugin: loads by built-in name, options and defaults, closed with the app', async t => {
  await mkdir(join(root, 'cfg'), { recursive: true })
  const { config } = await loadConfig({ env: {}, cwd: join(root, 'cfg') })
  const load = async (options: Record<string, unknown>) => {
    const app = Fastify({ logger: false })
    const registry = ensureHookRegistry(app)
    await loadPlugins(app, [{ name: 'event-store-file', options }], { config, configDir: join(root, 'cfg') })
    return { app, store: registry.eventStores()[0] as FileEventStore }
  }
  const { app, store } = await load({ dir: 'events', maxEntries: 50, cacheTtl: '1s', pollInterval: 100 })
  t.ok(store instanceof FileEventStore)
  t.match(store, { name: 'file', dir: join(root, 'cfg', 'events'), maxEntries: 50, cacheTtlMs: 1000, pollIntervalMs: 100 })
  await store.append(jobEvents(1, 1))
  await app.close()
  t.same((await readdir(store.dir)).filter(name => name === LOCK_FILE), [], 'the app closed the store')
  const defaults = await load({})
  t.teardown(() => defaults.app.close())
  const jobs = (config as unknown as { jobs?: { eventDir?: string | null, eventMaxEntries?: number, eventCacheTtlMs?: number } }).jobs
  t.match(defaults.store, { dir: jobs?.eventDir ?? join(config.dataDir, 'job-events'), maxEntries: jobs?.eventMaxEntries ?? 10_000, cacheTtlMs: jobs?.eventCacheTtlMs ?? 10_000 })
  await t.rejects(load({ maxEntries: 0 }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.maxEntries/ })
})
