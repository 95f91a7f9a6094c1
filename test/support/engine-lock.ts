// A machine-wide readers/writer lock around podman's storage, taken by every process
// that starts a podman API service for tests or benchmarks (test/support/podman.ts).
// The image build (test/deploy/image.test.ts) writes hundreds of megabytes of layers
// and podman holds its storage lock while it applies them: an engine call made meanwhile
// waits as long (a job runtime's version query once timed out after 30 s while the
// image was being built, and its test failed). So the build takes the lock
// exclusively, every other engine user shares it, and each waits for the other side
// (bounded).
//
// The lock is a directory of files: `writer` (created with O_EXCL) and one
// `reader-<pid>-<n>` per shared hold, each holding its owner's pid. A file whose
// process is gone is stale and removed, so a killed test never blocks the next run.
// A waiting writer keeps new readers out, so a stream of readers cannot starve it;
// a process that holds the lock shared already gets another shared hold at once (the
// writer waits for that process anyway, and it would otherwise wait for itself).
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** next to the containers.conf scripts/container/setup-podman.sh writes: one per machine, like podman's storage */
export function engineLockDir (): string {
  return process.env.SWITCHYARD_ENGINE_LOCK_DIR ?? '/var/tmp/switchyard-podman/engine-lock'
}

export type EngineLockMode = 'shared' | 'exclusive'

export interface EngineLock {
  /** how long acquiring it waited for the other side (ms) */
  waitedMs: number
  release: () => void
}

const WRITER = 'writer'
const POLL_MS = 250
let counter = 0
/** this process's shared holds */
let sharedHeld = 0

function alive (pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists but belongs to another user
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function ownerOf (file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim())
  } catch {
    return NaN
  }
}

/** true when `name` is held by a live process; a stale file is removed */
function held (dir: string, name: string): boolean {
  const file = join(dir, name)
  const pid = ownerOf(file)
  // gone meanwhile, or created and not written yet: its owner looks at the other side after writing
  if (Number.isNaN(pid)) return false
  if (alive(pid)) return true
  try { unlinkSync(file) } catch { /* another process removed it */ }
  return false
}

function liveReaders (dir: string): number {
  return readdirSync(dir).filter(name => name.startsWith('reader-') && held(dir, name)).length
}

function tryCreate (dir: string, name: string): boolean {
  try {
    writeFileSync(join(dir, name), `${process.pid}\n`, { flag: 'wx' })
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}

function remove (dir: string, name: string): void {
  try { unlinkSync(join(dir, name)) } catch { /* already gone */ }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/**
 * Takes the engine lock, waiting at most `timeoutMs` for the other side, else throws
 * naming the holders. Released by release(), or when the process exits.
 */
export async function acquireEngineLock (mode: EngineLockMode, timeoutMs: number): Promise<EngineLock> {
  const dir = engineLockDir()
  mkdirSync(dir, { recursive: true })
  const started = Date.now()
  const deadline = started + timeoutMs
  const giveUp = (what: string): never => {
    const holders = readdirSync(dir).map(name => `${name} (pid ${ownerOf(join(dir, name))})`)
    throw new Error(`the podman engine lock (${mode}) was not free within ${timeoutMs} ms: ${what}; holders in ${dir}: ${holders.join(', ') || 'none'}`)
  }
  let name: string
  if (mode === 'exclusive') {
    name = WRITER
    while (!tryCreate(dir, WRITER)) {
      if (!held(dir, WRITER) && tryCreate(dir, WRITER)) break
      if (Date.now() > deadline) giveUp('another image build holds it')
      await sleep(POLL_MS)
    }
    // The writer file is written before the readers are counted, and a reader writes its
    // file before it looks for a writer: of two that arrive together, one sees the other.
    while (liveReaders(dir) > 0) {
      if (Date.now() > deadline) { remove(dir, WRITER); giveUp('engine users still hold it shared') }
      await sleep(POLL_MS)
    }
  } else {
    name = `reader-${process.pid}-${counter++}`
    for (;;) {
      if (!tryCreate(dir, name)) throw new Error(`engine lock file ${name} exists already`)
      if (sharedHeld > 0 || !held(dir, WRITER)) break
      remove(dir, name)
      if (Date.now() > deadline) giveUp('an image build holds it')
      await sleep(POLL_MS)
    }
    sharedHeld++
  }
  const onExit = (): void => { remove(dir, name) }
  process.once('exit', onExit)
  let released = false
  return {
    waitedMs: Date.now() - started,
    release: () => {
      if (released) return
      released = true
      if (mode === 'shared') sharedHeld--
      process.removeListener('exit', onExit)
      remove(dir, name)
    }
  }
}
