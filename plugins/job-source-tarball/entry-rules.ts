// What an archive entry may be. Only regular files and directories; a path that is
// relative, free of '..', not deeper than the cap, and that neither collides with
// another entry (also when compared case- and Unicode-insensitively, as on macOS or
// Windows file systems) nor runs through an entry that is a file. Counts, declared
// sizes and depth are capped here, from the headers, before any body is read.
//
// The same rules run twice: once over the whole archive before anything is written
// (a refused archive has no effect), and again as the extraction filter.
import { TarballErrors } from './errors.ts'

export interface ArchiveLimits {
  /** entries (files and directories) in the archive */
  maxEntries: number
  /** path segments of an entry */
  maxDepth: number
  /** declared file sizes added up */
  maxUnpackedBytes: number
}

/** the header fields the rules look at (node-tar's ReadEntry has them) */
export interface EntryHeader {
  path: string
  type: string
  size: number
  mode?: number | undefined
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile'])
const DIRECTORY_TYPE = 'Directory'
const MAX_PATH_LENGTH = 4096
const MAX_SEGMENT_BYTES = 255
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

type Kind = 'file' | 'directory'

export class EntryRules {
  entries = 0
  unpackedBytes = 0
  readonly #limits: ArchiveLimits
  /** folded path → the entry's own spelling and kind (implied parent directories too) */
  readonly #seen = new Map<string, { path: string, kind: Kind }>()

  constructor (limits: ArchiveLimits) {
    this.#limits = limits
  }

  /**
   * Checks one entry; returns its normalized relative path (null for the archive's
   * root directory "./", which names the destination itself) or throws JOB_SOURCE_REFUSED.
   */
  check (entry: EntryHeader): string | null {
    const shown = JSON.stringify(entry.path)
    const kind: Kind | null = FILE_TYPES.has(entry.type) ? 'file' : entry.type === DIRECTORY_TYPE ? 'directory' : null
    if (kind === null) throw TarballErrors.refused(`archive entry ${shown} is a ${describeType(entry.type)}; only regular files and directories are accepted`)
    const segments = normalizeSegments(entry.path, shown)
    if (segments.length === 0) {
      if (kind !== 'directory') throw TarballErrors.refused(`archive entry ${shown} names the destination itself`)
      return null
    }
    this.entries++
    if (this.entries > this.#limits.maxEntries) throw TarballErrors.tooLarge(`archive has more than ${this.#limits.maxEntries} entries`)
    if (segments.length > this.#limits.maxDepth) throw TarballErrors.refused(`archive entry ${shown} is ${segments.length} levels deep, over the limit of ${this.#limits.maxDepth}`)
    if (kind === 'file') {
      if (!Number.isSafeInteger(entry.size) || entry.size < 0) throw TarballErrors.refused(`archive entry ${shown} declares an invalid size`)
      this.unpackedBytes += entry.size
      if (this.unpackedBytes > this.#limits.maxUnpackedBytes) {
        throw TarballErrors.tooLarge(`archive unpacks to more than ${this.#limits.maxUnpackedBytes} bytes (at entry ${shown})`)
      }
    }
    this.#claim(segments, kind, shown)
    return segments.join('/')
  }

  #claim (segments: string[], kind: Kind, shown: string): void {
    for (let i = 1; i <= segments.length; i++) {
      const path = segments.slice(0, i).join('/')
      const key = fold(path)
      const own = i === segments.length
      const wanted: Kind = own ? kind : 'directory'
      const prior = this.#seen.get(key)
      if (prior === undefined) {
        this.#seen.set(key, { path, kind: wanted })
        continue
      }
      if (prior.path !== path) {
        throw TarballErrors.refused(`archive entry ${shown} collides with ${JSON.stringify(prior.path)} on a case-insensitive or Unicode-normalizing file system`)
      }
      if (!own && prior.kind === 'file') throw TarballErrors.refused(`archive entry ${shown} goes through ${JSON.stringify(prior.path)}, which is a file`)
      if (own && (prior.kind !== wanted || kind === 'file')) {
        // A second file at one path would silently replace the first; a file where a
        // directory is (or the reverse) changes what earlier entries meant.
        throw TarballErrors.refused(`archive entry ${shown} appears more than once (or as both a file and a directory)`)
      }
    }
  }
}

function fold (path: string): string {
  return path.normalize('NFC').toLowerCase()
}

function describeType (type: string): string {
  switch (type) {
    case 'SymbolicLink': return 'symbolic link'
    case 'Link': return 'hard link'
    case 'CharacterDevice': return 'character device'
    case 'BlockDevice': return 'block device'
    case 'FIFO': return 'FIFO'
    default: return `"${type}" entry`
  }
}

/** The path's segments, refusing everything that could point outside the destination. */
function normalizeSegments (path: string, shown: string): string[] {
  if (path.length > MAX_PATH_LENGTH) throw TarballErrors.refused(`archive entry path is longer than ${MAX_PATH_LENGTH} characters`)
  if (CONTROL.test(path)) throw TarballErrors.refused(`archive entry ${shown} contains a control character`)
  if (path.includes('\\')) throw TarballErrors.refused(`archive entry ${shown} contains a backslash (a path separator on Windows)`)
  if (path.startsWith('/')) throw TarballErrors.refused(`archive entry ${shown} is an absolute path`)
  if (/^[A-Za-z]:/.test(path)) throw TarballErrors.refused(`archive entry ${shown} starts with a drive letter`)
  const segments: string[] = []
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') throw TarballErrors.refused(`archive entry ${shown} contains '..'`)
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) throw TarballErrors.refused(`archive entry ${shown} has a name longer than ${MAX_SEGMENT_BYTES} bytes`)
    segments.push(segment)
  }
  return segments
}

/** The mode a file or directory gets: no setuid/setgid/sticky, not writable by others. */
export function saneMode (kind: 'file' | 'directory', mode: number | undefined): number {
  if (kind === 'directory') return 0o755
  return ((mode ?? 0) & 0o111) !== 0 ? 0o755 : 0o644
}

export function isDirectoryType (type: string): boolean {
  return type === DIRECTORY_TYPE
}
