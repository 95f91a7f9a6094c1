// The build context sent to the engine: a tar of the context directory, made by the
// `tar` library without following symbolic links (a link is sent as a link, so nothing
// outside the directory is ever read), with regular files, directories and links only
// (a FIFO could block the build, a device node has no place in a context).
import type { Stats } from 'node:fs'
import { lstat, readdir, realpath } from 'node:fs/promises'
import { isAbsolute, join, normalize, sep } from 'node:path'
import type { Readable } from 'node:stream'
import * as tar from 'tar'
import { RuntimeDockerErrors } from './errors.ts'

/** The Dockerfile path relative to the context, refused when it is absolute or leaves the context. */
export function checkedDockerfile (dockerfile: string): string {
  const rel = normalize(dockerfile === '' ? 'Dockerfile' : dockerfile)
  if (isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`) || rel === '.' || rel.includes('\0')) {
    throw RuntimeDockerErrors.invalidSpec(`dockerfile must be a file path inside the build context, got ${JSON.stringify(dockerfile)}`, { details: { field: 'dockerfile' } })
  }
  return rel.split(sep).join('/')
}

export interface BuildContext {
  /** the context directory with symbolic links of its own path resolved */
  dir: string
  dockerfile: string
  stream: Readable
}

/** Checks the context and its Dockerfile, then starts streaming the tar (nothing is buffered whole). */
export async function packBuildContext (contextDir: string, dockerfile: string): Promise<BuildContext> {
  if (!isAbsolute(contextDir)) throw RuntimeDockerErrors.invalidSpec(`contextDir must be an absolute path, got ${JSON.stringify(contextDir)}`, { details: { field: 'contextDir' } })
  const dir = await realpath(contextDir).catch((err: unknown) => {
    throw RuntimeDockerErrors.buildFailed(`the build context ${contextDir} cannot be read: ${(err as Error).message}`, { cause: err })
  })
  const rel = checkedDockerfile(dockerfile)
  const info = await lstat(join(dir, rel)).catch(() => null)
  if (info === null || !info.isFile()) {
    throw RuntimeDockerErrors.buildFailed(`the build context has no regular file ${rel} to build from (a missing file or a symbolic link)`, { details: { field: 'dockerfile' } })
  }
  const entries = (await readdir(dir)).sort()
  const stream = tar.create({
    cwd: dir,
    portable: true,
    follow: false,
    gzip: false,
    filter: (_path, entry) => {
      const stat = entry as Stats
      return stat.isFile() || stat.isDirectory() || stat.isSymbolicLink()
    }
  }, entries) as unknown as Readable
  return { dir, dockerfile: rel, stream }
}
