// The podman engine lock (engine-lock.ts) in a directory of the test's own: shared
// holders coexist, the exclusive holder waits for them and keeps new ones out, files
// of dead processes are stale, and a wait that is too long fails with who holds it.
import { spawnSync } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { acquireEngineLock } from './engine-lock.ts'

const dir = await mkdtemp(join(tmpdir(), 'sy-engine-lock-'))
process.env.SWITCHYARD_ENGINE_LOCK_DIR = dir
t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })

/** a pid no process has any more */
function deadPid (): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8', env: { PATH: process.env.PATH } }).stdout)
}

const settledWithin = async (promise: Promise<unknown>, ms: number): Promise<boolean> =>
  await Promise.race([promise.then(() => true, () => true), new Promise<boolean>(resolve => setTimeout(() => resolve(false), ms))])

t.test('shared holders coexist; the exclusive one waits for them, and new shared ones wait for it', async t => {
  const a = await acquireEngineLock('shared', 1_000)
  const b = await acquireEngineLock('shared', 1_000)
  t.equal((await readdir(dir)).length, 2, 'one file per shared hold')

  const writer = acquireEngineLock('exclusive', 10_000)
  t.notOk(await settledWithin(writer, 600), 'the exclusive holder waits while shared ones hold it')
  a.release()
  t.notOk(await settledWithin(writer, 600), 'and while one of them still does')
  b.release()
  const w = await writer
  t.ok(w.waitedMs >= 1_000, `it waited for both (${w.waitedMs} ms)`)

  // this process holds nothing now: a new shared hold waits for the writer
  const reader = acquireEngineLock('shared', 10_000)
  t.notOk(await settledWithin(reader, 600), 'a new shared hold waits while the exclusive one holds it')
  w.release()
  const r = await reader
  const left = await readdir(dir)
  t.equal(left.length, 1, 'one file left')
  t.match(left[0], /^reader-/, 'the reader\'s')
  r.release()
  t.same(await readdir(dir), [], 'released: no file left')
})

t.test('a process that holds it shared gets another shared hold while a writer waits', async t => {
  const first = await acquireEngineLock('shared', 1_000)
  const writer = acquireEngineLock('exclusive', 10_000)
  await new Promise(resolve => setTimeout(resolve, 300))
  const second = await acquireEngineLock('shared', 1_000)
  t.pass('granted at once: the writer waits for this process anyway')
  second.release()
  first.release()
  ;(await writer).release()
  t.same(await readdir(dir), [])
})

t.test('the files of processes that are gone do not hold it', async t => {
  await writeFile(join(dir, 'writer'), `${deadPid()}\n`)
  await writeFile(join(dir, 'reader-1-0'), `${deadPid()}\n`)
  const w = await acquireEngineLock('exclusive', 2_000)
  t.ok(w.waitedMs < 2_000, 'the stale writer and reader are taken over')
  t.same(await readdir(dir), ['writer'])
  w.release()
})

t.test('a wait longer than the bound fails and says who holds it', async t => {
  const w = await acquireEngineLock('exclusive', 1_000)
  await t.rejects(acquireEngineLock('shared', 700), /engine lock \(shared\) was not free within 700 ms: an image build holds it; holders in .*writer \(pid \d+\)/)
  w.release()
  t.same(await readdir(dir), [], 'the waiting reader left nothing behind')
})
