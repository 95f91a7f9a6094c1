// What a checkout will hold, read from the commit's tree before anything is written
// (`git ls-tree -r -l -z`), and checked again on disk after: no symlinks, and within
// the byte and file caps. Submodules (gitlinks) are never fetched; they stay empty.
import { lstat, readdir } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { StringDecoder } from 'node:string_decoder'
import { GitSourceErrors } from './errors.ts'

export interface TreeLimits {
  maxBytes: number
  maxFiles: number
}

export interface TreeTotals {
  files: number
  bytes: number
}

/**
 * Parses `git ls-tree -r -l -z` output as it streams: "<mode> <type> <object> <size>\t<path>\0".
 * Throws (through `fail`) on the first symlink or when a cap is passed, so the caller can stop git.
 */
export class TreeScanner {
  readonly totals: TreeTotals = { files: 0, bytes: 0 }
  private pending = ''
  // a path's multi-byte character may be split between two chunks
  private readonly decoder = new StringDecoder('utf8')
  failure: Error | null = null

  constructor (private readonly limits: TreeLimits, private readonly describe: string) {}

  push (chunk: Buffer): void {
    if (this.failure !== null) return
    this.pending += this.decoder.write(chunk)
    let end = this.pending.indexOf('\0')
    while (end !== -1 && this.failure === null) {
      this.entry(this.pending.slice(0, end))
      this.pending = this.pending.slice(end + 1)
      end = this.pending.indexOf('\0')
    }
  }

  private entry (record: string): void {
    const tab = record.indexOf('\t')
    const [mode = '', , , size = ''] = record.slice(0, tab).split(/ +/)
    const path = record.slice(tab + 1)
    if (mode === '120000') {
      this.failure = GitSourceErrors.refused(`${this.describe} holds a symbolic link (${path}); symlinks are refused in a job's source`, { details: { field: 'tag', path } })
      return
    }
    if (mode === '160000') return // a submodule: never fetched, left as an empty directory
    this.totals.files++
    this.totals.bytes += Number(size) || 0
    this.check()
  }

  private check (): void {
    if (this.totals.files > this.limits.maxFiles) {
      this.failure = GitSourceErrors.tooLarge(`${this.describe} has more than ${this.limits.maxFiles} files (maxFiles)`, { details: { maxFiles: this.limits.maxFiles } })
    } else if (this.totals.bytes > this.limits.maxBytes) {
      this.failure = GitSourceErrors.tooLarge(`${this.describe} is larger than ${this.limits.maxBytes} bytes (maxBytes)`, { details: { maxBytes: this.limits.maxBytes } })
    }
  }
}

/** Walks a checkout: refuses a symlink or anything but files and directories, and enforces the caps. */
export async function checkCheckout (root: string, limits: TreeLimits, describe: string): Promise<TreeTotals> {
  const totals: TreeTotals = { files: 0, bytes: 0 }
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      const info = await lstat(path)
      if (info.isDirectory()) { await walk(path); continue }
      if (!info.isFile()) {
        throw GitSourceErrors.refused(`${describe}: the checkout holds ${relative(root, path)}, which is not a regular file or directory`, { details: { field: 'tag', path: relative(root, path) } })
      }
      totals.files++
      totals.bytes += info.size
      if (totals.files > limits.maxFiles) throw GitSourceErrors.tooLarge(`${describe} has more than ${limits.maxFiles} files (maxFiles)`, { details: { maxFiles: limits.maxFiles } })
      if (totals.bytes > limits.maxBytes) throw GitSourceErrors.tooLarge(`${describe} is larger than ${limits.maxBytes} bytes (maxBytes)`, { details: { maxBytes: limits.maxBytes } })
    }
  }
  await walk(root)
  return totals
}

/** Bytes under `dir` (the fetched objects while a fetch runs); missing entries count as nothing. */
export async function directoryBytes (dir: string): Promise<number> {
  let total = 0
  let entries
  try { entries = await readdir(dir, { withFileTypes: true }) } catch { return 0 }
  for (const entry of entries) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) total += await directoryBytes(path)
    else {
      try { total += (await lstat(path)).size } catch {}
    }
  }
  return total
}
