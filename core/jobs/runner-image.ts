import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, readdir, readlink, realpath } from 'node:fs/promises'
import { isAbsolute, join, relative, sep } from 'node:path'
import type { FetchedJobSource } from '../plugin/kinds.ts'

// The build cache: an image is tagged by a key derived from what it was built from —
// the source's digest (git commit, or the archive's SHA-256), the context path and
// the Dockerfile — so a second run of the same tag finds its image and builds nothing.

/** the repository part of every job image tag */
export const JOB_IMAGE_REPOSITORY = 'localhost/switchyard-job'
/** files hashed at most when a source reports no digest of its own */
const TREE_MAX_FILES = 100_000

export interface BuildContext {
  /** absolute directory sent to the build */
  contextDir: string
  /** Dockerfile relative to contextDir, '/'-separated */
  dockerfile: string
}

/**
 * The build context and Dockerfile of a definition inside a fetched source. Both must
 * stay inside the source after symbolic links are resolved (the definition was
 * validated, but the source's content was not).
 */
export async function resolveBuildContext (source: FetchedJobSource, path: string, dockerfile: string): Promise<BuildContext> {
  const root = await realpath(source.dir)
  const contextDir = await realpathInside(root, path, 'path')
  const file = await realpathInside(contextDir, dockerfile, 'dockerfile')
  const stat = await lstat(file)
  if (!stat.isFile()) throw new Error(`dockerfile "${dockerfile}" is not a regular file in the build context`)
  return { contextDir, dockerfile: relative(contextDir, file).split(sep).join('/') }
}

async function realpathInside (root: string, rel: string, field: string): Promise<string> {
  if (isAbsolute(rel)) throw new Error(`${field} "${rel}" must be relative to the source`)
  let resolved: string
  try {
    resolved = await realpath(join(root, rel))
  } catch {
    throw new Error(`${field} "${rel}" does not exist in the fetched source`)
  }
  const inside = relative(root, resolved)
  if (inside.startsWith('..') || isAbsolute(inside)) throw new Error(`${field} "${rel}" leads outside the fetched source`)
  return resolved
}

/** what identifies the fetched content: the commit, the archive digest, or a digest of the files */
export async function sourceDigest (source: FetchedJobSource): Promise<string> {
  if (source.revision !== null) return `git:${source.revision}`
  if (source.sha256 !== null) return `sha256:${source.sha256}`
  return `tree:${await treeDigest(source.dir)}`
}

export function cacheKey (digest: string, path: string, dockerfile: string): string {
  return createHash('sha256').update(JSON.stringify([digest, path, dockerfile])).digest('hex')
}

export function imageTag (key: string): string {
  return `${JOB_IMAGE_REPOSITORY}:${key.slice(0, 40)}`
}

/** SHA-256 over the names, kinds, executable bits and contents of every entry under `dir`, in name order */
export async function treeDigest (dir: string): Promise<string> {
  const hash = createHash('sha256')
  let files = 0
  const walk = async (current: string): Promise<void> => {
    const entries = (await readdir(current)).sort()
    for (const name of entries) {
      const path = join(current, name)
      const rel = relative(dir, path).split(sep).join('/')
      const stat = await lstat(path)
      if (++files > TREE_MAX_FILES) throw new Error(`the fetched source holds more than ${TREE_MAX_FILES} entries`)
      if (stat.isDirectory()) {
        hash.update(`d ${rel}\n`)
        await walk(path)
      } else if (stat.isSymbolicLink()) {
        hash.update(`l ${rel} ${await readlink(path)}\n`)
      } else if (stat.isFile()) {
        hash.update(`f ${rel} ${(stat.mode & 0o111) !== 0 ? 'x' : '-'} ${stat.size}\n`)
        for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
      }
    }
  }
  await walk(dir)
  return hash.digest('hex')
}
