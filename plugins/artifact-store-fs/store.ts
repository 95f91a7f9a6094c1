// Artifacts on a local directory: content under data/<key>, its metadata (size,
// SHA-256, content type, time) as JSON under meta/<key>.json. A put streams into a
// temporary file in the same directory tree, hashing and counting as it goes, and
// only a complete, in-cap file is renamed into place, so a reader never sees half an
// artifact and an oversized one leaves nothing behind.
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename, rm, rmdir, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { ArtifactMeta, ArtifactStore } from '@switchyard/core'
import { ArtifactStoreErrors } from './errors.ts'
import { checkContentType, checkKey } from './keys.ts'

export const STORE_NAME = 'fs'

export interface FsArtifactStoreOptions {
  /** absolute directory of the store; created when missing */
  dir: string
  /** largest artifact accepted, enforced while streaming */
  maxBytes: number
}

export class FsArtifactStore implements ArtifactStore {
  readonly name = STORE_NAME
  readonly dir: string
  readonly maxBytes: number

  constructor (options: FsArtifactStoreOptions) {
    this.dir = options.dir
    this.maxBytes = options.maxBytes
  }

  private dataPath (key: string): string { return join(this.dir, 'data', key) }
  private metaPath (key: string): string { return join(this.dir, 'meta', `${key}.json`) }

  async put (key: string, body: Uint8Array | AsyncIterable<Uint8Array>, meta: { contentType: string }): Promise<ArtifactMeta> {
    checkKey(key)
    checkContentType(meta?.contentType)
    if (body instanceof Uint8Array && body.byteLength > this.maxBytes) throw this.tooLarge(key)
    const tmpDir = join(this.dir, 'tmp')
    await mkdir(tmpDir, { recursive: true })
    const tmp = join(tmpDir, `.put-${randomBytes(8).toString('hex')}`)
    const hash = createHash('sha256')
    let size = 0
    try {
      const file = await open(tmp, 'wx', 0o640)
      try {
        for await (const chunk of body instanceof Uint8Array ? [body] : body) {
          size += chunk.byteLength
          if (size > this.maxBytes) throw this.tooLarge(key)
          hash.update(chunk)
          await file.write(chunk)
        }
        await file.sync()
      } finally {
        await file.close()
      }
      const stored: ArtifactMeta = { key, size, sha256: hash.digest('hex'), contentType: meta.contentType, createdAt: Date.now() }
      await this.placeFile(tmp, this.dataPath(key), key)
      const metaTmp = `${tmp}.json`
      await writeSynced(metaTmp, JSON.stringify(stored) + '\n')
      await this.placeFile(metaTmp, this.metaPath(key), key)
      return stored
    } catch (err) {
      await rm(tmp, { force: true })
      await rm(`${tmp}.json`, { force: true })
      throw err
    }
  }

  async stat (key: string): Promise<ArtifactMeta | null> {
    checkKey(key)
    let text: string
    try {
      text = await readFile(this.metaPath(key), 'utf8')
    } catch (err) {
      if (isMissing(err)) return null
      throw err
    }
    return JSON.parse(text) as ArtifactMeta
  }

  async open (key: string): Promise<AsyncIterable<Uint8Array> | null> {
    if (await this.stat(key) === null) return null
    try {
      const file = await open(this.dataPath(key), 'r')
      return file.createReadStream({ autoClose: true })
    } catch (err) {
      if (isMissing(err)) return null
      throw err
    }
  }

  async delete (key: string): Promise<boolean> {
    checkKey(key)
    const removedMeta = await unlinkIfThere(this.metaPath(key))
    const removedData = await unlinkIfThere(this.dataPath(key))
    await this.pruneEmptyParents(key)
    return removedMeta || removedData
  }

  /** Renames a finished temporary file into place, making the key's directories first. */
  private async placeFile (from: string, to: string, key: string): Promise<void> {
    try {
      await mkdir(dirname(to), { recursive: true })
      await rename(from, to)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST') {
        throw ArtifactStoreErrors.invalid(`artifact key "${key}" clashes with another key: a key cannot be both an artifact and a folder of artifacts`, { details: { field: 'key' }, cause: err })
      }
      throw err
    }
  }

  /** Removes the key's now-empty directories (a run's folder goes with its last artifact). */
  private async pruneEmptyParents (key: string): Promise<void> {
    const parts = key.split('/').slice(0, -1)
    for (let depth = parts.length; depth > 0; depth--) {
      const relative = parts.slice(0, depth).join('/')
      for (const base of ['data', 'meta']) {
        try { await rmdir(join(this.dir, base, relative)) } catch {}
      }
    }
  }

  private tooLarge (key: string) {
    return ArtifactStoreErrors.tooLarge(`artifact "${key}" is larger than ${this.maxBytes} bytes (maxBytes)`, { details: { key, maxBytes: this.maxBytes } })
  }
}

function isMissing (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

async function unlinkIfThere (path: string): Promise<boolean> {
  try {
    await unlink(path)
    return true
  } catch (err) {
    if (isMissing(err)) return false
    throw err
  }
}

async function writeSynced (path: string, text: string): Promise<void> {
  const file = await open(path, 'wx', 0o640)
  try {
    await file.writeFile(text)
    await file.sync()
  } finally {
    await file.close()
  }
}

export function createFsArtifactStore (options: FsArtifactStoreOptions): FsArtifactStore {
  return new FsArtifactStore(options)
}
