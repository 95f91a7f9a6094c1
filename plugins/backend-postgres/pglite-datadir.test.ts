// The embedded data-directory lock: PGlite corrupts a directory two processes open,
// so a second open must be refused with a one-line message, and a lock left by a
// dead process must not keep the directory closed forever.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { isSwitchyardError } from '@switchyard/core'
import { createPostgresBackend, LOCK_FILE_NAME, PGLITE_DATADIR_LOCKED } from './index.ts'
import { lockDataDir } from './datadir-lock.ts'
import { task } from './test-support.ts'

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'sy-pglite-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

/** a real live process that is not us, and a way to make it dead */
async function otherProcess (): Promise<{ pid: number, stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  await new Promise<void>((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject) })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  return { pid: child.pid as number, stop: async () => { child.kill('SIGKILL'); await exited } }
}

t.test('a second open of a persistent dataDir is refused while the first is open; close releases it', { timeout: 120_000 }, async t => {
  const dataDir = join(tempDir(t), 'db')
  const first = createPostgresBackend({ embedded: { dataDir } })
  await first.init()
  t.teardown(async () => { await first.close() })
  await first.enqueue([task('persisted')])
  const lockPath = join(dataDir, LOCK_FILE_NAME)
  t.equal(readFileSync(lockPath, 'utf8').trim(), String(process.pid), 'the lock file holds our pid')

  const second = createPostgresBackend({ embedded: { dataDir } })
  try {
    await second.init()
    t.fail('the second open succeeded')
  } catch (err) {
    t.ok(isSwitchyardError(err), 'a SwitchyardError')
    t.equal((err as { code?: string }).code, PGLITE_DATADIR_LOCKED)
    const message = (err as Error).message
    t.notMatch(message, /\n/, 'one line')
    t.match(message, String(process.pid), 'names the pid holding it')
    t.match(message, 'stop the other switchyard process, or point the CLI at its gateway', 'says what to do')
  }
  await first.close()
  t.notOk(existsSync(lockPath), 'close removes the lock file')
})

t.test('a lock held by another live process refuses; once that process is dead the lock is taken over', async t => {
  const dir = tempDir(t)
  const other = await otherProcess()
  t.teardown(other.stop)
  writeFileSync(join(dir, LOCK_FILE_NAME), `${other.pid}\n`)
  t.throws(() => lockDataDir(dir), { code: PGLITE_DATADIR_LOCKED, message: new RegExp(`process ${other.pid}`) }, 'live holder: refused')
  await other.stop()
  const lock = lockDataDir(dir)
  t.equal(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8').trim(), String(process.pid), 'stale lock taken over')
  lock.release()
  t.notOk(existsSync(join(dir, LOCK_FILE_NAME)), 'released')
  writeFileSync(join(dir, LOCK_FILE_NAME), 'garbage')
  lockDataDir(dir).release()
  t.pass('an unreadable lock file is taken over')
})
