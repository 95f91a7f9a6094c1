// One writer per directory: a lock file naming the writing process. A lock left by a
// process that is gone is taken over; one held by a live process is refused.
import { open, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { EventStoreErrors } from './errors.ts'

export const LOCK_FILE = 'writer.lock'

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export async function acquireWriterLock (dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE)
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await open(path, 'wx', 0o644)
      await file.writeFile(`${process.pid}\n`)
      await file.close()
      return async () => { await unlink(path).catch(() => {}) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10)
    // this process counts as live too: a second store on one directory in one process is refused as well
    if (Number.isSafeInteger(holder) && holder > 0 && alive(holder)) {
      throw EventStoreErrors.locked(`process ${holder} writes to the event store in ${dir}; one process writes to a directory`, { details: { dir, pid: holder } })
    }
    await unlink(path).catch(() => {})
  }
  throw EventStoreErrors.locked(`could not take the writer lock of ${dir}`, { details: { dir } })
}
