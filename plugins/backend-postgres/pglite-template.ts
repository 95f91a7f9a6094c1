// A new embedded database starts from a copy of a freshly initialized cluster instead
// of running initdb again. PGlite's initdb is a WebAssembly program of its own and the
// largest part of opening a new database: about 4.5 s of CPU, where loading the same
// cluster from an archive costs about 1 s. The first new database on a machine runs
// initdb as before and saves its cluster, as PGlite's clone() does, before anything
// else touches it; later ones load that archive. Every new database, persistent or in
// memory, is then exactly what initdb would have made, except the cluster's system
// identifier, which nothing embedded reads.
//
// The archive lives in the user's cache directory ($XDG_CACHE_HOME or ~/.cache,
// switchyard/), named after PGlite's version, so a new PGlite never loads an older
// cluster, and after the archive's format: archives without the "-2" were dumped from
// a data directory and so held that process's data-directory lock file, which loading
// unpacked over the new directory's own lock; they are never read, and the first save
// of a "-2" archive removes the old one. Archives are now only dumped from in-memory
// databases, where no lock file exists; gzipped, it is 5 MB instead of 40 (unpacking costs about 0.1 s). It is written to a temporary file and renamed into place, so a reader sees
// a whole archive or none; anything that goes wrong with it (no cache directory, a
// read-only home, a damaged file) only means initdb runs as before.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import type { PGlite } from '@electric-sql/pglite'

/** turns the archive off (initdb for every new database): SWITCHYARD_PGLITE_TEMPLATE=0 */
const TEMPLATE_ENV = 'SWITCHYARD_PGLITE_TEMPLATE'

let pgliteVersion: string | null | undefined

function version (): string | null {
  if (pgliteVersion !== undefined) return pgliteVersion
  try {
    const require = createRequire(import.meta.url)
    // the package's main entry resolves; its package.json sits two levels above dist/
    const entry = require.resolve('@electric-sql/pglite')
    const manifest = join(entry.slice(0, entry.lastIndexOf('/dist/')), 'package.json')
    const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string, version?: string }
    pgliteVersion = parsed.name === '@electric-sql/pglite' && typeof parsed.version === 'string' ? parsed.version : null
  } catch {
    pgliteVersion = null
  }
  return pgliteVersion
}

/** where the cluster archive for this PGlite version lives, or null when there is no place for it */
export function templatePath (): string | null {
  if (process.env[TEMPLATE_ENV] === '0') return null
  const v = version()
  if (v === null) return null
  let cacheHome = process.env.XDG_CACHE_HOME
  if (cacheHome === undefined || cacheHome === '') {
    try {
      cacheHome = join(homedir(), '.cache')
    } catch {
      return null
    }
  }
  return join(cacheHome, 'switchyard', `pglite-cluster-${v}-2.tar.gz`)
}

/**
 * The unpacked archive as a Blob whose arrayBuffer() answers the bytes it was made from.
 * PGlite reads the archive it loads with arrayBuffer(), and Node 20's Blob answers that
 * by reading its 40 MB back in chunks and joining them: about 0.25 s of CPU for every
 * new database. Every other Blob method reads the Blob's own copy as usual.
 */
class ArchiveBlob extends Blob {
  readonly #bytes: ArrayBuffer

  constructor (bytes: Uint8Array) {
    super([bytes])
    // gunzipSync's result normally owns its whole buffer; a view into a larger one is copied
    this.#bytes = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? bytes.buffer as ArrayBuffer
      : bytes.slice().buffer
  }

  override async arrayBuffer (): Promise<ArrayBuffer> {
    return this.#bytes
  }
}

/** the saved cluster, or undefined when there is none (yet) */
export function loadTemplate (): Blob | undefined {
  const path = templatePath()
  if (path === null) return undefined
  try {
    return new ArchiveBlob(gunzipSync(readFileSync(path)))
  } catch {
    return undefined
  }
}

/**
 * Saves db's cluster as the template and answers the archive (undefined when it could
 * not be dumped). db must be a new IN-MEMORY database nothing has used yet: a data
 * directory's dump would carry its lock file. Never throws.
 */
export async function saveTemplate (db: PGlite): Promise<Blob | undefined> {
  let archive: Blob
  try {
    archive = await db.dumpDataDir('none')
  } catch {
    return undefined
  }
  const path = templatePath()
  if (path === null) return archive
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`
  try {
    mkdirSync(join(path, '..'), { recursive: true })
    writeFileSync(temp, gzipSync(new Uint8Array(await archive.arrayBuffer()), { level: 1 }))
    renameSync(temp, path)
    // the archive of the format before (see above), never read again
    rmSync(path.replace(/-2\.tar\.gz$/, '.tar.gz'), { force: true })
  } catch {
    rmSync(temp, { force: true })
  }
  return archive
}

/** Drops a template that failed to load, so the next new database runs initdb and saves a good one. */
export function discardTemplate (): void {
  const path = templatePath()
  if (path !== null) rmSync(path, { force: true })
}
