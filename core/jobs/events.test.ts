// ListJobEvents by run on a busy log, against real backends: a recent run's events lie
// beyond the forward scan's bound (from the oldest retained event), so they are found
// from the newest end, answered oldest first, and paging on
// with afterId continues where the page ended. A backend without a backward read keeps
// the forward scan. The bounds are set ten times lower than the defaults
// (JOB_EVENT_SCAN_BOUNDS), so a busy log of a few thousand events is beyond them.
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { createPgliteClient, createPostgresBackend, createPostgresBackendFromClient } from '@switchyard/backend-postgres'
import { createRedisBackend, type RedisBackend } from '@switchyard/backend-redis'
import { createBullMQBackend, type BullMQBackend } from '@switchyard/backend-bullmq'
import { FileEventStore } from '@switchyard/event-store-file'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deleteKeys, TEST_REDIS_URL } from '../../plugins/backend-redis/testing.ts'
import { dropSchema, POSTGRES_URL, randomSchema } from '../../test/worker/support.ts'
import type { Backend, StoredEvent } from '../backend/types.ts'
import { JOB_EVENT_SCAN_BOUNDS, JobEvents, type JobEventInput, type JobEventScanBounds } from './events.ts'
import { newRunId } from './types.ts'

// retains every event these tests append (the defaults keep 10,000)
const RETAINED = 200_000
const BOUNDS: JobEventScanBounds = { forward: JOB_EVENT_SCAN_BOUNDS.forward / 10, backward: JOB_EVENT_SCAN_BOUNDS.backward / 10 }
const BUSY = 2_500

type Kind = 'postgres' | 'pglite' | 'redis' | 'bullmq'

async function openBackend (t: Test, kind: Kind): Promise<Backend> {
  let backend: Backend
  if (kind === 'postgres') {
    const schema = randomSchema()
    backend = createPostgresBackend({ connectionString: POSTGRES_URL, schema, poolSize: 2, maxEvents: RETAINED })
    t.teardown(async () => { await backend.close(); await dropSchema(schema) })
  } else if (kind === 'pglite') {
    const client = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 30_000, settings: {} })
    backend = createPostgresBackendFromClient(client, { schema: randomSchema(), maxEvents: RETAINED })
    t.teardown(async () => { await backend.close(); await client.close() })
  } else if (kind === 'redis') {
    const redis = createRedisBackend({ url: TEST_REDIS_URL, prefix: `sy:test:${randomBytes(5).toString('hex')}:`, maxEvents: RETAINED }) as RedisBackend
    backend = redis
    t.teardown(async () => { await deleteKeys(redis.redis, redis.keys.base); await redis.close() })
  } else {
    const bullmq = createBullMQBackend({ url: TEST_REDIS_URL, prefix: `sytest${randomBytes(5).toString('hex')}`, maxEvents: RETAINED }) as BullMQBackend
    backend = bullmq
    t.teardown(async () => { await bullmq.destroyAllData(); await bullmq.close() })
  }
  await backend.init()
  return backend
}

/** `count` task events (the busy part of the log), in appends of 1000 */
async function appendBusy (backend: Backend, count: number): Promise<void> {
  for (let done = 0; done < count; done += 1000) {
    const n = Math.min(1000, count - done)
    await backend.appendEvents(Array.from({ length: n }, (_, i) => ({ type: 'task.succeeded', data: { id: `t${done + i}`, queue: 'busy' } })))
  }
}

/**
 * Waits until everything appended so far is readable: on Postgres an event becomes
 * readable once the transactions running when it committed have ended, and other
 * clients of the shared server may hold one open for a moment.
 */
async function settled (backend: Backend): Promise<void> {
  const [mark] = await backend.appendEvents([{ type: 'test.mark', data: {} }])
  const deadline = Date.now() + 15_000
  while ((await backend.readEventsNewestFirst?.({ beforeId: null, limit: 1 }))?.[0]?.id !== mark?.id) {
    if (Date.now() > deadline) throw new Error('appended events did not become readable within 15 s')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

function runEvents (job: string, runId: string, outputs: number): JobEventInput[] {
  return [
    { type: 'job.queued', data: { job, runId, taskId: 'task-1', trigger: 'api', queue: 'jobs' } },
    { type: 'job.fetching', data: { job, runId } },
    { type: 'job.started', data: { job, runId } },
    ...Array.from({ length: outputs }, (_, i): JobEventInput => ({ type: 'job.output', data: { job, runId, seq: i } })),
    { type: 'job.finished', data: { job, runId, state: 'succeeded' } }
  ]
}

const shape = (events: StoredEvent[]): string[] => events.map(event => {
  const seq = (event.data as { seq?: number }).seq
  return seq === undefined ? event.type : `${event.type}#${seq}`
})

for (const kind of ['postgres', 'pglite', 'redis', 'bullmq'] as const) {
  t.test(`${kind}: a recent run's events are found behind ${BUSY} other events, oldest first, and paged on with afterId`, async t => {
    const backend = await openBackend(t, kind)
    const events = new JobEvents(backend, null, BOUNDS)
    const job = 'busy-job'
    const older = newRunId()
    await events.append(runEvents(job, older, 2))
    await appendBusy(backend, BUSY)
    const runId = newRunId()
    const expected = runEvents(job, runId, 40)
    // the run's events interleaved with more task events and another run of the same job
    const other = newRunId()
    for (let i = 0; i < expected.length; i++) {
      await events.append([expected[i] as JobEventInput, { type: 'job.output', data: { job, runId: other, seq: i } }])
      if (i % 10 === 0) await appendBusy(backend, 300)
    }
    await settled(backend)
    const retained = await backend.readEvents({ afterId: null, limit: 1 })
    t.equal((retained[0]?.data as { runId?: string }).runId, older, 'the log retains everything appended')
    const forward = await backend.readEvents({ afterId: null, limit: 1000 })
    t.ok(BUSY > BOUNDS.forward && forward.every(event => (event.data as { runId?: string }).runId !== runId), 'the run lies beyond the forward scan')

    const all = await events.list({ runId, limit: 1000 })
    t.same(shape(all), shape(expected.map(e => ({ id: '', time: 0, ...e }))), 'every event of the run, oldest first')
    t.ok(all.every((event, i) => i === 0 || event.id !== all[i - 1]?.id))

    const first = await events.list({ runId, job, limit: 10 })
    t.same(first.map(e => e.id), all.slice(0, 10).map(e => e.id), 'a short page is the oldest events of the run')
    const paged: StoredEvent[] = [...first]
    for (let rounds = 0; rounds < 20; rounds++) {
      const next = await events.list({ runId, limit: 10, afterId: paged.at(-1)?.id ?? null })
      if (next.length === 0) break
      paged.push(...next)
    }
    t.same(paged.map(e => e.id), all.map(e => e.id), 'paging with afterId continues without a gap or a repeat')

    t.same(shape(await events.list({ runId: older, limit: 100 })), ['job.queued', 'job.fetching', 'job.started', 'job.output#0', 'job.output#1', 'job.finished'],
      'an old run is still found (the walk back reaches it or the forward scan does)')
    t.same(await events.list({ runId, job: 'another-job', limit: 100 }), [], 'the job filter still applies')
    t.same(await events.list({ runId: newRunId(), limit: 100 }), [], 'a run without events has none')
  })
}

t.test('events of a run appended before its job.queued (a fast worker) are still listed', async t => {
  const backend = await openBackend(t, 'postgres')
  const events = new JobEvents(backend, null, BOUNDS)
  const runId = newRunId()
  await appendBusy(backend, 2000)
  await events.append([{ type: 'job.fetching', data: { job: 'race', runId } }])
  await appendBusy(backend, 50)
  await events.append([{ type: 'job.queued', data: { job: 'race', runId } }])
  await appendBusy(backend, 2000)
  await events.append([{ type: 'job.finished', data: { job: 'race', runId } }])
  await settled(backend)
  t.same((await events.list({ runId, limit: 10 })).map(e => e.type), ['job.fetching', 'job.queued', 'job.finished'])
})

t.test('without a backward read the forward scan answers as before', async t => {
  const backend = await openBackend(t, 'pglite')
  const forwardOnly: Backend = Object.create(backend, { readEventsNewestFirst: { value: undefined } })
  t.equal(forwardOnly.readEventsNewestFirst, undefined)
  const events = new JobEvents(forwardOnly, null, BOUNDS)
  const runId = newRunId()
  await appendBusy(backend, 1500)
  await events.append(runEvents('forward', runId, 3))
  t.same(shape(await events.list({ runId, limit: 100 })), ['job.queued', 'job.fetching', 'job.started', 'job.output#0', 'job.output#1', 'job.output#2', 'job.finished'])
  const page = await events.list({ runId, limit: 2 })
  t.same(shape(page), ['job.queued', 'job.fetching'])
  t.same(shape(await events.list({ runId, limit: 100, afterId: page[1]?.id ?? null })), ['job.started', 'job.output#0', 'job.output#1', 'job.output#2', 'job.finished'])
})

t.test(`with the file event store: a recent run behind ${BUSY} job events of other runs, paged on with afterId`, async t => {
  const backend = await openBackend(t, 'pglite')
  const dir = await mkdtemp(join(tmpdir(), 'sy-job-events-'))
  const store = new FileEventStore({ dir, maxEntries: RETAINED, cacheTtlMs: 10_000, pollIntervalMs: 1000 })
  t.teardown(async () => { await store.close(); await rm(dir, { recursive: true, force: true }) })
  const events = new JobEvents(backend, store, BOUNDS)
  for (let done = 0; done < BUSY; done += 1000) {
    await store.append(Array.from({ length: 1000 }, (_, i) => ({ type: 'job.output', data: { job: 'other', runId: `run-${(done + i) % 50}`, seq: done + i } })))
  }
  const runId = newRunId()
  const expected = runEvents('stored', runId, 30)
  await events.append(expected)
  t.equal((await backend.readEvents({ afterId: null, limit: 100 })).length, expected.length, 'the backend\'s log has them too')
  const first = await events.list({ runId, limit: 20 })
  t.same(shape(first), shape(expected.slice(0, 20).map(e => ({ id: '', time: 0, ...e }))))
  t.match(first[0]?.id, /^\d{16}$/, 'read from the event store')
  const rest = await events.list({ runId, limit: 100, afterId: first.at(-1)?.id ?? null })
  t.same(shape([...first, ...rest]), shape(expected.map(e => ({ id: '', time: 0, ...e }))))
})

t.test('without a run: the newest events of the job, oldest first, and paging on forward', async t => {
  const backend = await openBackend(t, 'redis')
  const events = new JobEvents(backend, null, BOUNDS)
  const old = newRunId()
  await events.append(runEvents('tail', old, 5))
  await appendBusy(backend, BUSY)
  const recent = newRunId()
  await events.append(runEvents('tail', recent, 5))
  await events.append(runEvents('elsewhere', newRunId(), 1))
  const newest = await events.list({ job: 'tail', limit: 4 })
  t.same(shape(newest), ['job.output#2', 'job.output#3', 'job.output#4', 'job.finished'], 'the newest four, oldest first')
  t.ok(newest.every(e => (e.data as { runId: string }).runId === recent))
  t.same(await events.list({ job: 'tail', limit: 4, afterId: newest.at(-1)?.id ?? null }), [], 'nothing newer yet')
  await events.append([{ type: 'job.cancel_requested', data: { job: 'tail', runId: recent } }])
  t.same(shape(await events.list({ job: 'tail', limit: 4, afterId: newest.at(-1)?.id ?? null })), ['job.cancel_requested'], 'paging on returns what came after')
  const all = await events.list({ job: 'tail', limit: 1000 })
  t.equal(all.length, 19, 'both runs of the job, whole')
  t.equal((all[0]?.data as { runId: string }).runId, old)
  t.same(shape(await events.list({ limit: 1 })), ['job.cancel_requested'], 'without a job either: the newest job event')
})
