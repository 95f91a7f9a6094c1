import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { defineError } from '@switchyard/core'

// PGlite has no postmaster to keep a second process out of its data directory, and
// two processes writing one directory corrupt it. A pid file keeps the directory to
// one Switchyard process; a file left behind by a dead process is taken over.

export const PGLITE_DATADIR_LOCKED = 'PGLITE_DATADIR_LOCKED' as const
export const pgliteDataDirLocked = defineError(PGLITE_DATADIR_LOCKED)

export const LOCK_FILE_NAME = 'switchyard.lock'

export interface DataDirLock {
  readonly path: string
  release (): void
}

function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the pid exists but belongs to another user, so it is alive
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readHolder (path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : null
  } catch {
    return null
  }
}

/** Takes the data-directory lock or throws PGLITE_DATADIR_LOCKED naming the holder. */
export function lockDataDir (dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true })
  const path = join(dataDir, LOCK_FILE_NAME)
  // two attempts: the second follows removal of a stale file
  // the pid is written to a private file first and linked into place, so the lock
  // file never exists without its content (link fails if the lock already exists)
  const staging = `${path}.${process.pid}.tmp`
  writeFileSync(staging, `${process.pid}\n`)
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(staging, path)
        return {
          path,
          release () {
            if (readHolder(path) === process.pid) {
              try { unlinkSync(path) } catch {}
            }
          }
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const holder = readHolder(path)
      if (holder !== null && processAlive(holder)) {
        throw pgliteDataDirLocked(
          `embedded database ${dataDir} is in use by switchyard process ${holder}${holder === process.pid ? ' (this process)' : ''}: stop the other switchyard process, or point the CLI at its gateway`,
          { details: { dataDir, pid: holder, lockFile: path } }
        )
      }
      // stale (its process is gone) or unreadable: remove it unless someone replaced it meanwhile
      if (readHolder(path) === holder) {
        try { unlinkSync(path) } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        }
      }
    }
  } finally {
    try { unlinkSync(staging) } catch {}
  }
  throw pgliteDataDirLocked(`embedded database ${dataDir}: could not take ${path}: stop the other switchyard process, or point the CLI at its gateway`, { details: { dataDir, lockFile: path } })
}
