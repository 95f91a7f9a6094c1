import t, { type Test } from 'tap'
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { archiveFileName, createFileAuditSink, listArchiveFiles, utcDay, type FileAuditSinkOptions } from './index.ts'
import { auditEvent, DAY_MS, NOON, readLines, waitFor } from './test-support.ts'

const root = await mkdtemp(join(tmpdir(), 'sy-audit-file-'))
t.teardown(() => rm(root, { recursive: true, force: true }))
let counter = 0
const DAY = utcDay(NOON)

function freshDir (): string {
  return join(root, `d${++counter}`)
}

function sinkFor (t: Test, options: Partial<FileAuditSinkOptions> = {}) {
  const sink = createFileAuditSink({ dir: freshDir(), flushIntervalMs: 60_000, maxFileBytes: 64 * 1024 * 1024, maxBufferedEvents: 10_000, ...options })
  // Tests that break the directory close the sink themselves; this only stops the timer.
  t.teardown(() => sink.close().catch(() => {}))
  return sink
}

async function allLines (dir: string) {
  const lines = []
  for (const file of await listArchiveFiles(dir)) lines.push(...await readLines(file.path))
  return lines
}

t.test('utcDay and file names', async t => {
  t.equal(utcDay(NOON), '20240305')
  t.equal(utcDay(Date.UTC(2024, 11, 31, 23, 59, 59, 999)), '20241231')
  t.equal(archiveFileName('20240305', 0), 'audit-20240305.jsonl')
  t.equal(archiveFileName('20240305', 3), 'audit-20240305.3.jsonl')
})

t.test('events appear as JSON lines in write order', async t => {
  const sink = sinkFor(t)
  const events = Array.from({ length: 50 }, (_, i) => auditEvent(i))
  for (const event of events) await sink.write(event)
  t.equal(sink.buffered, 50)
  await sink.flush()
  t.equal(sink.buffered, 0)
  t.same(await readdir(sink.dir), [`audit-${DAY}.jsonl`])
  t.same(await readLines(join(sink.dir, `audit-${DAY}.jsonl`)), events)
  await sink.write(auditEvent(50))
  await sink.flush()
  t.same((await readLines(join(sink.dir, `audit-${DAY}.jsonl`))).map(e => e.id), events.map(e => e.id).concat('00000050'), 'later flushes append')
})

t.test('the timer flushes every flushInterval', async t => {
  const sink = sinkFor(t, { flushIntervalMs: 100 })
  await sink.write(auditEvent(1))
  await sink.write(auditEvent(2))
  t.equal(sink.buffered, 2, 'buffered until the timer fires')
  const path = join(sink.dir, `audit-${DAY}.jsonl`)
  await waitFor(async () => sink.buffered === 0, 5000, 'the timer flush')
  t.equal((await readLines(path)).length, 2)
  await sink.write(auditEvent(3))
  await waitFor(async () => sink.buffered === 0, 5000, 'the second timer flush')
  t.equal((await readLines(path)).length, 3)
})

t.test('a file that would pass maxFileBytes is continued in the next part', async t => {
  const lineBytes = Buffer.byteLength(JSON.stringify(auditEvent(0)) + '\n')
  const maxFileBytes = lineBytes * 4 + 10
  const sink = sinkFor(t, { maxFileBytes })
  const events = Array.from({ length: 18 }, (_, i) => auditEvent(i))
  for (const event of events.slice(0, 7)) await sink.write(event)
  await sink.flush()
  for (const event of events.slice(7)) await sink.write(event)
  await sink.flush()
  const files = await listArchiveFiles(sink.dir)
  t.same(files.map(f => f.name), [`audit-${DAY}.jsonl`, `audit-${DAY}.1.jsonl`, `audit-${DAY}.2.jsonl`, `audit-${DAY}.3.jsonl`, `audit-${DAY}.4.jsonl`])
  for (const file of files) t.ok((await stat(file.path)).size <= maxFileBytes, `${file.name} is within the limit`)
  t.same((await readLines(files[0]!.path)).length, 4)
  t.same(await allLines(sink.dir), events, 'read in part order, the events are complete and in order')

  const big = { ...auditEvent(99), params: { blob: 'x'.repeat(maxFileBytes * 2) } }
  await sink.write(big)
  await sink.write(auditEvent(100))
  await sink.flush()
  const after = await listArchiveFiles(sink.dir)
  t.same(await readLines(after.at(-2)!.path), [big], 'a line larger than the limit gets a file of its own')
  t.same(await readLines(after.at(-1)!.path), [auditEvent(100)])
})

t.test('a new sink continues the newest part of the day', async t => {
  const dir = freshDir()
  const lineBytes = Buffer.byteLength(JSON.stringify(auditEvent(0)) + '\n')
  const first = createFileAuditSink({ dir, flushIntervalMs: 60_000, maxFileBytes: lineBytes * 2 + 10, maxBufferedEvents: 100 })
  for (let i = 0; i < 5; i++) await first.write(auditEvent(i))
  await first.close()
  const second = createFileAuditSink({ dir, flushIntervalMs: 60_000, maxFileBytes: lineBytes * 2 + 10, maxBufferedEvents: 100 })
  for (let i = 5; i < 8; i++) await second.write(auditEvent(i))
  await second.close()
  t.same((await listArchiveFiles(dir)).map(f => f.part), [0, 1, 2, 3])
  t.same((await allLines(dir)).map(e => e.id), Array.from({ length: 8 }, (_, i) => auditEvent(i).id))
})

t.test('each UTC day gets its own file', async t => {
  const sink = sinkFor(t)
  const late = Date.UTC(2024, 2, 5, 23, 59, 59, 999)
  await sink.write(auditEvent(1, late))
  await sink.write(auditEvent(2, late + 1))
  await sink.write(auditEvent(3, late + 1 + DAY_MS))
  await sink.flush()
  const files = await listArchiveFiles(sink.dir)
  t.same(files.map(f => f.name), ['audit-20240305.jsonl', 'audit-20240306.jsonl', 'audit-20240307.jsonl'])
  t.same((await readLines(files[1]!.path)).map(e => e.id), ['00000002'])
})

t.test('retention by count keeps the newest finished files', async t => {
  const lineBytes = Buffer.byteLength(JSON.stringify(auditEvent(0)) + '\n')
  const sink = sinkFor(t, { maxFileBytes: lineBytes, retentionFiles: 2 })
  for (let i = 0; i < 6; i++) {
    await sink.write(auditEvent(i))
    await sink.flush()
  }
  const files = await listArchiveFiles(sink.dir)
  t.same(files.map(f => f.part), [3, 4, 5], 'two finished parts and the one being written')
  t.same((await allLines(sink.dir)).map(e => e.id), ['00000003', '00000004', '00000005'])
})

t.test('retention by age deletes finished files last written before the cutoff', async t => {
  const sink = sinkFor(t, { retentionMs: 3_600_000 })
  await mkdir(sink.dir, { recursive: true })
  const old = join(sink.dir, 'audit-20200101.jsonl')
  const recent = join(sink.dir, 'audit-20240304.jsonl')
  const unrelated = join(sink.dir, 'notes.txt')
  for (const path of [old, recent, unrelated]) await writeFile(path, '{}\n')
  const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000)
  await utimes(old, twoHoursAgo, twoHoursAgo)
  await utimes(unrelated, twoHoursAgo, twoHoursAgo)
  await sink.write(auditEvent(1))
  await sink.flush()
  t.same((await readdir(sink.dir)).sort(), ['audit-20240304.jsonl', `audit-${DAY}.jsonl`, 'notes.txt'], 'the first flush pruned the old archive only')
  await utimes(recent, twoHoursAgo, twoHoursAgo)
  t.same(await sink.prune(), ['audit-20240304.jsonl'])
  t.same(await sink.prune(), [], 'the file being written is never pruned')
})

t.test('close() flushes everything buffered: 1000 writes then close', async t => {
  const dir = freshDir()
  const sink = createFileAuditSink({ dir, flushIntervalMs: 60_000, maxFileBytes: 64 * 1024, maxBufferedEvents: 10_000 })
  const events = Array.from({ length: 1000 }, (_, i) => auditEvent(i))
  await Promise.all(events.map(event => sink.write(event)))
  await sink.close()
  t.equal(sink.buffered, 0)
  const lines = await allLines(dir)
  t.equal(lines.length, 1000)
  t.same(lines.map(e => e.id), events.map(e => e.id))
  t.ok((await listArchiveFiles(dir)).length > 1, 'rotated along the way')
  await t.rejects(sink.write(auditEvent(1001)), { code: 'AUDIT_ARCHIVE_CLOSED' })
})

t.test('concurrent writes and flushes are serialized: no line twice, none missing', async t => {
  const sink = sinkFor(t, { maxFileBytes: 4096 })
  const pending: Array<Promise<void>> = []
  for (let i = 0; i < 300; i++) {
    pending.push(sink.write(auditEvent(i)))
    if (i % 7 === 0) pending.push(sink.flush())
  }
  await Promise.all(pending)
  await sink.flush()
  t.same((await allLines(sink.dir)).map(e => e.id), Array.from({ length: 300 }, (_, i) => auditEvent(i).id))
})

t.test('a write error surfaces on flush and close; the events stay buffered until it clears', async t => {
  const parent = join(root, `blocker${++counter}`)
  await writeFile(parent, 'a file where the archive directory should be')
  const dir = join(parent, 'archive')
  const sink = createFileAuditSink({ dir, flushIntervalMs: 60_000, maxFileBytes: 1024 * 1024, maxBufferedEvents: 100 })
  const events = Array.from({ length: 20 }, (_, i) => auditEvent(i))
  for (const event of events) await sink.write(event)
  await t.rejects(sink.flush(), { code: 'AUDIT_ARCHIVE_WRITE_FAILED', message: /appending 20 audit events/ })
  t.equal(sink.buffered, 20, 'nothing lost')
  await t.rejects(sink.close(), { code: 'AUDIT_ARCHIVE_WRITE_FAILED' })
  t.equal(sink.buffered, 20)

  await rm(parent)
  await sink.close()
  t.equal(sink.buffered, 0)
  t.same(await allLines(dir), events, 'the retry wrote every event once, in order')
})

t.test('a full buffer makes write() wait for a flush; if that fails the new event is refused, not dropped silently', async t => {
  const parent = join(root, `blocker${++counter}`)
  await writeFile(parent, 'x')
  const dir = join(parent, 'archive')
  const sink = createFileAuditSink({ dir, flushIntervalMs: 60_000, maxFileBytes: 1024 * 1024, maxBufferedEvents: 10 })
  t.teardown(() => sink.close().catch(() => {}))
  for (let i = 0; i < 10; i++) await sink.write(auditEvent(i))
  await t.rejects(sink.write(auditEvent(10)), { code: 'AUDIT_ARCHIVE_BUFFER_FULL', message: /buffer is full \(10 events\)/ })
  t.equal(sink.buffered, 10, 'bounded')
  await rm(parent)
  await sink.write(auditEvent(10))
  t.equal(sink.buffered, 1, 'the full buffer was flushed to make room')
  t.equal((await allLines(dir)).length, 10)
  await sink.close()
  t.same((await allLines(dir)).map(e => e.id), Array.from({ length: 11 }, (_, i) => auditEvent(i).id))
})

t.test('timer flush failures go to onError', async t => {
  const parent = join(root, `blocker${++counter}`)
  await writeFile(parent, 'x')
  const errors: unknown[] = []
  const sink = createFileAuditSink({ dir: join(parent, 'archive'), flushIntervalMs: 30, maxFileBytes: 1024, maxBufferedEvents: 10, onError: err => errors.push(err) })
  t.teardown(() => sink.close().catch(() => {}))
  await sink.write(auditEvent(1))
  await waitFor(() => errors.length > 0, 5000, 'a timer flush error')
  t.match(errors[0], { code: 'AUDIT_ARCHIVE_WRITE_FAILED' })
  t.equal(sink.buffered, 1)
})

t.test('bad settings are refused naming the field', async t => {
  t.throws(() => createFileAuditSink({ dir: '', flushIntervalMs: 1, maxFileBytes: 1, maxBufferedEvents: 1 }), { code: 'VALIDATION_FAILED', message: /dir/ })
  t.throws(() => createFileAuditSink({ dir: 'x', flushIntervalMs: 0, maxFileBytes: 1, maxBufferedEvents: 1 }), { code: 'VALIDATION_FAILED', message: /flushInterval/ })
  t.throws(() => createFileAuditSink({ dir: 'x', flushIntervalMs: 1, maxFileBytes: 1.5, maxBufferedEvents: 1 }), { code: 'VALIDATION_FAILED', message: /maxFileBytes/ })
})
