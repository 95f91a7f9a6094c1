import { constants } from 'node:fs'
import { lstat, open, readdir } from 'node:fs/promises'
import { extname, join } from 'node:path'
import type { ArtifactMeta, ArtifactStore } from '../plugin/kinds.ts'
import { runArtifactKey } from './types.ts'

// What a run leaves behind for operators: files its container wrote to /artifacts,
// collected after the container exited. The directory was writable by the container,
// so everything in it is untrusted: only regular files are taken (a symbolic link, a
// FIFO or a device is skipped, and files are opened with O_NOFOLLOW so a link swapped
// in cannot point the runner at a host file), under a size and a count cap per run.

/** directory levels under /artifacts that are searched */
const MAX_DEPTH = 16
const MAX_NAME_LENGTH = 200
const SAFE_NAME = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/

export interface SkippedArtifact {
  name: string
  reason: string
}

export interface CollectedArtifacts {
  stored: ArtifactMeta[]
  /** bounded: at most the count cap entries */
  skipped: SkippedArtifact[]
}

export interface CollectArtifactsInput {
  dir: string
  store: ArtifactStore
  runId: string
  maxBytes: number
  maxFiles: number
}

const CONTENT_TYPES: Record<string, string> = {
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.json': 'application/json',
  '.csv': 'text/csv; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.tar': 'application/x-tar',
  '.gz': 'application/gzip',
  '.tgz': 'application/gzip',
  '.zip': 'application/zip'
}

export function contentTypeOf (name: string): string {
  return CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream'
}

/** the key of a file the container wrote to /artifacts, named by its path there */
export function writtenArtifactKey (runId: string, name: string): string {
  return runArtifactKey(runId, `artifacts/${name}`)
}

export async function collectArtifacts (input: CollectArtifactsInput): Promise<CollectedArtifacts> {
  const stored: ArtifactMeta[] = []
  const skipped: SkippedArtifact[] = []
  let bytes = 0
  let seen = 0
  const skip = (name: string, reason: string): void => {
    if (skipped.length < input.maxFiles) skipped.push({ name, reason })
  }
  const walk = async (dir: string, prefix: string, depth: number): Promise<void> => {
    const names = (await readdir(dir)).sort()
    for (const entry of names) {
      const name = prefix === '' ? entry : `${prefix}/${entry}`
      if (++seen > input.maxFiles * 4) return skip(name, `more than ${input.maxFiles * 4} entries under /artifacts; the rest was not looked at`)
      const path = join(dir, entry)
      const stat = await lstat(path)
      if (stat.isDirectory()) {
        if (depth >= MAX_DEPTH) skip(name, `deeper than ${MAX_DEPTH} directories`)
        else await walk(path, name, depth + 1)
        continue
      }
      if (!stat.isFile()) { skip(name, 'not a regular file'); continue }
      if (name.length > MAX_NAME_LENGTH || !SAFE_NAME.test(name) || name.split('/').some(part => part === '.' || part === '..')) { skip(name, 'name not allowed (letters, digits, ".", "_", "-" and "/" only)'); continue }
      if (stored.length >= input.maxFiles) { skip(name, `more than ${input.maxFiles} files`); continue }
      if (bytes + stat.size > input.maxBytes) { skip(name, `over the artifact size cap of ${input.maxBytes} bytes per run`); continue }
      const meta = await storeRegularFile(input.store, path, writtenArtifactKey(input.runId, name), contentTypeOf(name))
      if (meta === null) { skip(name, 'not a regular file'); continue }
      bytes += meta.size
      stored.push(meta)
    }
  }
  await walk(input.dir, '', 0)
  return { stored, skipped }
}

/** stores the file at `path` unless it is (or became) anything but a regular file; reads at most its size when opened */
export async function storeRegularFile (store: ArtifactStore, path: string, key: string, contentType: string): Promise<ArtifactMeta | null> {
  let handle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') return null
    throw err
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) return null
    const body = stat.size === 0
      ? new Uint8Array(0)
      : handle.createReadStream({ start: 0, end: stat.size - 1, autoClose: false }) as AsyncIterable<Uint8Array>
    return await store.put(key, body, { contentType })
  } finally {
    await handle.close()
  }
}
