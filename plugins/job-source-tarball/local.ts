// tarball_path sources: a file that must resolve, after every symlink, inside the
// configured tarball directory. The file is opened once (no following a final
// symlink, no blocking on a FIFO), the opened descriptor is checked again through
// /proc where there is one (a path swapped between the check and the open is caught),
// and its bytes are copied into the run's own directory with the size cap and the
// hash, so later steps never read the shared directory again.
import { constants, createWriteStream } from 'node:fs'
import { open, readlink, realpath } from 'node:fs/promises'
import { isAbsolute, relative, resolve, sep } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { TarballErrors } from './errors.ts'
import { ByteCap, HashingCounter } from './streams.ts'

export interface CopiedTarball {
  bytes: number
  sha256: string
  /** the resolved path the bytes came from */
  source: string
}

function inside (root: string, path: string): boolean {
  const rel = relative(root, path)
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel)
}

/** The real path of `requested` (relative to `dir`, or absolute), refused unless it lies inside `dir`. */
export async function resolveInsideDir (dir: string, requested: string): Promise<{ realDir: string, real: string }> {
  if (requested === '' || requested.includes('\0')) throw TarballErrors.refused(`tarballPath ${JSON.stringify(requested)} is not a usable path`)
  let realDir: string
  try {
    realDir = await realpath(dir)
  } catch (err) {
    throw TarballErrors.failed(`the tarball directory ${dir} (WORKER_JOB_TARBALL_DIR) cannot be read: ${(err as Error).message}`, { cause: err })
  }
  const candidate = isAbsolute(requested) ? requested : resolve(realDir, requested)
  // Refuse by the lexical path first, so a path outside is refused without touching it.
  if (!inside(realDir, resolve(candidate)) && !inside(resolve(dir), resolve(candidate))) {
    throw TarballErrors.refused(`tarballPath ${JSON.stringify(requested)} is outside the tarball directory (WORKER_JOB_TARBALL_DIR)`)
  }
  let real: string
  try {
    real = await realpath(candidate)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw TarballErrors.notFound(`tarballPath ${JSON.stringify(requested)} does not exist in the tarball directory`)
    throw TarballErrors.failed(`tarballPath ${JSON.stringify(requested)} cannot be resolved: ${(err as Error).message}`, { cause: err })
  }
  if (!inside(realDir, real)) {
    throw TarballErrors.refused(`tarballPath ${JSON.stringify(requested)} resolves (through a symlink) outside the tarball directory (WORKER_JOB_TARBALL_DIR)`)
  }
  return { realDir, real }
}

/** Copies the tarball at `requested` into `destFile` (created new), capped at maxBytes. */
export async function copyLocalTarball (dir: string, requested: string, destFile: string, maxBytes: number, signal: AbortSignal): Promise<CopiedTarball> {
  const { realDir, real } = await resolveInsideDir(dir, requested)
  const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ELOOP') throw TarballErrors.refused(`tarballPath ${JSON.stringify(requested)} changed into a symlink while it was opened`)
    throw TarballErrors.failed(`tarballPath ${JSON.stringify(requested)} cannot be opened: ${err.message}`, { cause: err })
  })
  try {
    const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => null)
    if (opened !== null && !inside(realDir, opened)) {
      throw TarballErrors.refused(`tarballPath ${JSON.stringify(requested)} was swapped for a file outside the tarball directory while it was opened`)
    }
    const info = await handle.stat()
    if (!info.isFile()) throw TarballErrors.refused(`tarballPath ${JSON.stringify(requested)} is not a regular file`)
    if (info.size > maxBytes) throw TarballErrors.tooLarge(`tarballPath ${JSON.stringify(requested)} is ${info.size} bytes, over the ${maxBytes}-byte tarball cap (WORKER_JOB_TARBALL_MAX_BYTES)`)
    const counter = new HashingCounter()
    // The file may grow after the stat; the cap holds while copying too.
    const cap = new ByteCap(maxBytes, () => TarballErrors.tooLarge(`tarballPath ${JSON.stringify(requested)} grew over the ${maxBytes}-byte tarball cap while it was copied`))
    try {
      await pipeline(handle.createReadStream({ autoClose: false }), cap, counter, createWriteStream(destFile, { flags: 'wx', mode: 0o600 }), { signal })
    } catch (err) {
      if (TarballErrors.tooLarge.is(err)) throw err
      if (signal.aborted) throw TarballErrors.timeout('copying the tarball was aborted (the run ran out of time or was canceled)', { cause: err })
      throw TarballErrors.failed(`copying tarballPath ${JSON.stringify(requested)} failed: ${(err as Error).message}`, { cause: err })
    }
    return { bytes: counter.bytes, sha256: counter.digest(), source: real }
  } finally {
    await handle.close()
  }
}
