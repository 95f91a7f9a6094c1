// The tarball JobSource: gets the archive into the run's directory (download or local
// copy), checks its SHA-256 when the definition gives one, scans it, extracts it into
// a temporary directory and renames that into place. What it leaves in destDir on
// success:
//   destDir/source.tar.gz (or source.tar)   the archive, byte for byte (archivePath)
//   destDir/context/                        the extracted tree (dir)
// and on any failure nothing: destDir is left empty.
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readdir, realpath, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { FetchedJobSource, JobSource, JobSourceKind, JobSourceRequest } from '@switchyard/core/plugin'
import { extractArchive, scanArchive, sniffFormat, type ExtractLimits } from './archive.ts'
import { downloadTarball, type Resolver } from './download.ts'
import { TarballErrors } from './errors.ts'
import { normalizeAddress } from './address.ts'
import { copyLocalTarball } from './local.ts'
import type { HostAllowlist } from './url-rules.ts'

export const SOURCE_NAME = 'tarball'
export const CONTEXT_DIR = 'context'

export interface TarballSourceOptions extends ExtractLimits {
  allowlist: HostAllowlist
  allowPrivateAddresses: boolean
  /** exact non-public addresses tarball hosts may still resolve to (an internal mirror) */
  allowAddresses?: readonly string[]
  /** absolute; null: tarball_path sources are refused */
  dir: string | null
  maxBytes: number
  timeoutMs: number
  maxRedirects: number
  /** PEM certificates trusted beside the system's */
  ca?: string[]
  /** tests only: a resolver standing in for DNS (a rebinding answer cannot be made for real) */
  resolve?: Resolver
}

const SHA256 = /^[0-9a-f]{64}$/

export class TarballJobSource implements JobSource {
  readonly name = SOURCE_NAME
  readonly kinds: readonly JobSourceKind[] = ['tarball_url', 'tarball_path']
  readonly options: TarballSourceOptions
  readonly #allowAddresses: ReadonlySet<string>

  constructor (options: TarballSourceOptions) {
    this.options = options
    this.#allowAddresses = new Set((options.allowAddresses ?? []).map(normalizeAddress))
  }

  async fetch (request: JobSourceRequest): Promise<FetchedJobSource> {
    const expected = request.tarballSha256?.toLowerCase()
    if (expected !== undefined && !SHA256.test(expected)) throw TarballErrors.refused('tarballSha256 must be 64 hexadecimal characters')
    if (request.kind !== 'tarball_url' && request.kind !== 'tarball_path') throw TarballErrors.refused(`the tarball source does not fetch "${request.kind}" sources`)
    const destDir = await realpath(request.destDir)
    if (!(await stat(destDir)).isDirectory() || (await readdir(destDir)).length > 0) {
      throw TarballErrors.failed(`destDir ${destDir} must be an empty directory`)
    }
    request.signal.throwIfAborted()
    try {
      return await this.#fetchInto(request, destDir, expected)
    } catch (err) {
      // Nothing of a refused or failed source stays: not the archive, not a partial tree.
      for (const name of await readdir(destDir).catch(() => [])) await rm(join(destDir, name), { recursive: true, force: true })
      throw err
    }
  }

  async #fetchInto (request: JobSourceRequest, destDir: string, expected: string | undefined): Promise<FetchedJobSource> {
    const o = this.options
    const partial = join(destDir, '.archive.partial')
    let got: { bytes: number, sha256: string }
    if (request.kind === 'tarball_url') {
      if (request.tarballUrl === undefined) throw TarballErrors.refused('a tarball_url source needs tarballUrl')
      got = await downloadTarball(request.tarballUrl, partial, {
        allowlist: o.allowlist,
        allowPrivateAddresses: o.allowPrivateAddresses,
        allowAddresses: this.#allowAddresses,
        maxBytes: o.maxBytes,
        timeoutMs: o.timeoutMs,
        maxRedirects: o.maxRedirects,
        ...(o.ca === undefined ? {} : { ca: o.ca }),
        ...(o.resolve === undefined ? {} : { resolve: o.resolve })
      }, request.signal)
    } else {
      if (request.tarballPath === undefined) throw TarballErrors.refused('a tarball_path source needs tarballPath')
      if (o.dir === null) throw TarballErrors.refused('tarball_path sources are off: no tarball directory is configured (jobs.tarballDir / WORKER_JOB_TARBALL_DIR)')
      got = await copyLocalTarball(o.dir, request.tarballPath, partial, o.maxBytes, request.signal)
    }
    if (expected !== undefined && got.sha256 !== expected) {
      throw TarballErrors.refused(`the tarball's SHA-256 is ${got.sha256}, not the tarballSha256 ${expected} the definition names; nothing was extracted`, {
        details: { expected, actual: got.sha256 }
      })
    }
    const format = await sniffFormat(partial)
    const archivePath = join(destDir, format === 'gzip' ? 'source.tar.gz' : 'source.tar')
    await rename(partial, archivePath)
    await scanArchive(archivePath, format, got.bytes, o, request.signal)
    const staging = join(destDir, `.extract-${randomBytes(6).toString('hex')}`)
    await mkdir(staging, { mode: 0o700 })
    await extractArchive(archivePath, format, got.bytes, staging, o, request.signal)
    await chmod(staging, 0o755)
    const dir = join(destDir, CONTEXT_DIR)
    await rename(staging, dir)
    return { dir, revision: null, sha256: got.sha256, archivePath }
  }
}
