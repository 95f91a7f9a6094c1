// Reads a fetched archive (gzip-compressed or plain tar) twice: a scan that applies the
// entry rules to every header and writes nothing, then, only when the scan passed,
// an extraction into a fresh directory with the same rules as its filter. The
// decompressed stream is capped (absolute size and ratio to the packed size) before
// node-tar sees it, and must start with a valid tar header, so a nested compressed
// layer (gzip in gzip, zstd, brotli) is refused rather than unpacked by tar's own
// detection.
import { createReadStream } from 'node:fs'
import { lstat, open, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { Parser, Unpack, type ReadEntry } from 'tar'
import { EntryRules, isDirectoryType, saneMode, type ArchiveLimits } from './entry-rules.ts'
import { TarballErrors } from './errors.ts'
import { ByteCap } from './streams.ts'

export type ArchiveFormat = 'gzip' | 'tar'

export interface ExtractLimits extends ArchiveLimits {
  /** decompressed bytes per packed byte (gzip only) */
  maxRatio: number
}

/** Below this many decompressed bytes the ratio is not judged: tiny archives compress tar's padding very well. */
export const RATIO_FLOOR_BYTES = 1024 * 1024
/** tar's own bytes beside file contents: a header (often two with pax) per entry, padding, end blocks */
const TAR_OVERHEAD_PER_ENTRY = 2048
const TAR_BLOCK = 512

export interface ArchiveSummary {
  format: ArchiveFormat
  entries: number
  unpackedBytes: number
}

/** gzip by its magic bytes, tar by a valid first header; anything else is refused. */
export async function sniffFormat (file: string): Promise<ArchiveFormat> {
  const handle = await open(file, 'r')
  try {
    const block = Buffer.alloc(TAR_BLOCK)
    const { bytesRead } = await handle.read(block, 0, TAR_BLOCK, 0)
    if (bytesRead >= 3 && block[0] === 0x1f && block[1] === 0x8b && block[2] === 0x08) return 'gzip'
    if (bytesRead === TAR_BLOCK && tarHeaderValid(block)) return 'tar'
    throw TarballErrors.refused('the tarball is neither gzip-compressed nor a plain tar archive (bzip2, xz, zstd and zip are not accepted)')
  } finally {
    await handle.close()
  }
}

/** the checksum of a tar header block matches (an all-zero block, an empty archive, does not) */
function tarHeaderValid (block: Buffer): boolean {
  const field = block.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/, '').trim()
  if (!/^[0-7]+$/.test(field)) return false
  let sum = 0
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i] as number
  return sum === parseInt(field, 8)
}

/** Lets bytes through once the first 512 form a valid tar header. */
class TarHeaderGate extends Transform {
  #head: Buffer[] = []
  #length = 0
  #open = false

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#open) { callback(null, chunk); return }
    this.#head.push(chunk)
    this.#length += chunk.length
    if (this.#length < TAR_BLOCK) { callback(); return }
    const all = Buffer.concat(this.#head)
    this.#head = []
    if (!tarHeaderValid(all.subarray(0, TAR_BLOCK))) { callback(notTar()); return }
    this.#open = true
    callback(null, all)
  }

  override _flush (callback: TransformCallback): void {
    callback(this.#open ? null : notTar())
  }
}

function notTar (): Error {
  return TarballErrors.refused('the archive does not hold a tar archive (empty, damaged, or another compressed layer inside)')
}

function decompressedCap (format: ArchiveFormat, packedBytes: number, limits: ExtractLimits): ByteCap {
  const absolute = limits.maxUnpackedBytes + (limits.maxEntries + 2) * TAR_OVERHEAD_PER_ENTRY
  const byRatio = format === 'gzip' ? Math.max(RATIO_FLOOR_BYTES, packedBytes * limits.maxRatio) : Infinity
  return new ByteCap(Math.min(absolute, byRatio), () => byRatio < absolute
    ? TarballErrors.tooLarge(`the archive decompresses to more than ${limits.maxRatio} times its packed size of ${packedBytes} bytes (a compression bomb?)`)
    : TarballErrors.tooLarge(`the archive unpacks to more than ${limits.maxUnpackedBytes} bytes`))
}

/** A Writable that feeds node-tar's Parser/Unpack and finishes when it closed. */
function into (parser: Parser): Writable {
  const sink = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      if (parser.write(chunk)) callback()
      else parser.once('drain', () => { callback() })
    },
    final (callback) {
      parser.once('close', () => { callback() })
      parser.end()
    }
  })
  parser.on('error', (err: Error) => { sink.destroy(err) })
  return sink
}

async function run (file: string, format: ArchiveFormat, packedBytes: number, limits: ExtractLimits, parser: Parser, failure: () => Error | null, signal: AbortSignal): Promise<void> {
  const stages: Array<Readable | Transform | Writable> = [createReadStream(file)]
  if (format === 'gzip') stages.push(createGunzip())
  stages.push(decompressedCap(format, packedBytes, limits), new TarHeaderGate(), into(parser))
  try {
    await pipeline(stages as unknown as [Readable, Writable], { signal })
  } catch (err) {
    throw failure() ?? translate(err, signal)
  }
  const failed = failure()
  if (failed !== null) throw failed
}

function translate (err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return TarballErrors.timeout('extracting the tarball was aborted (the run ran out of time or was canceled)', { cause: err })
  if (err instanceof Error && 'code' in err && typeof err.code === 'string' && err.code.startsWith('JOB_SOURCE_')) return err
  const code = err instanceof Error && 'code' in err ? String(err.code) : ''
  if (code.startsWith('TAR_') || code.startsWith('Z_')) return TarballErrors.refused(`the archive is damaged: ${(err as Error).message}`, { cause: err })
  return TarballErrors.failed(`extracting the tarball failed: ${(err as Error).message}`, { cause: err })
}

/** Applies the entry rules to every header; writes nothing. */
export async function scanArchive (file: string, format: ArchiveFormat, packedBytes: number, limits: ExtractLimits, signal: AbortSignal): Promise<ArchiveSummary> {
  const rules = new EntryRules(limits)
  let failure: Error | null = null
  const parser = new Parser({
    strict: true,
    filter: (_path: string, entry: ReadEntry | unknown) => {
      if (failure === null) {
        try {
          rules.check(entry as ReadEntry)
        } catch (err) {
          failure = err as Error
          parser.abort(failure)
        }
      }
      return false
    }
  })
  await run(file, format, packedBytes, limits, parser, () => failure, signal)
  return { format, entries: rules.entries, unpackedBytes: rules.unpackedBytes }
}

/**
 * Extracts into `dir` (an empty directory the caller owns and removes on failure),
 * applying the entry rules again as the filter and giving every entry a sane mode.
 */
export async function extractArchive (file: string, format: ArchiveFormat, packedBytes: number, dir: string, limits: ExtractLimits, signal: AbortSignal): Promise<ArchiveSummary> {
  const rules = new EntryRules(limits)
  let failure: Error | null = null
  const unpack = new Unpack({
    cwd: dir,
    strict: true,
    preserveOwner: false,
    preservePaths: false,
    unlink: false,
    keep: true,
    maxDepth: limits.maxDepth,
    dmode: 0o755,
    fmode: 0o644,
    filter: (_path: string, entry: ReadEntry | unknown) => {
      if (failure !== null) return false
      const header = entry as ReadEntry
      try {
        if (rules.check(header) === null) return false
      } catch (err) {
        failure = err as Error
        unpack.abort(failure)
        return false
      }
      header.mode = saneMode(isDirectoryType(header.type) ? 'directory' : 'file', header.mode)
      return true
    }
  })
  await run(file, format, packedBytes, limits, unpack, () => failure, signal)
  await verifyTree(dir, limits.maxEntries)
  return { format, entries: rules.entries, unpackedBytes: rules.unpackedBytes }
}

/** After extraction: only files and directories, no more than the cap (defence in depth). */
async function verifyTree (dir: string, maxEntries: number): Promise<void> {
  let count = 0
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      if (++count > maxEntries) throw TarballErrors.tooLarge(`the extracted tree has more than ${maxEntries} entries`)
      const child = join(path, entry.name)
      const info = await lstat(child)
      if (info.isDirectory()) await walk(child)
      else if (!info.isFile()) throw TarballErrors.refused(`the extracted tree holds ${entry.name}, which is not a regular file or directory`)
      else if ((info.mode & 0o6000) !== 0) throw TarballErrors.refused(`the extracted file ${entry.name} has a setuid/setgid bit`)
    }
  }
  await walk(dir)
}
