// Archive file names: one file per UTC day, audit-YYYYMMDD.jsonl, continued in
// audit-YYYYMMDD.1.jsonl, .2 ... when a part reaches the size limit. Files are only
// ever appended to, never renamed, so a reader tailing one is never surprised.
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

const ARCHIVE_NAME = /^audit-([0-9]{8})(?:\.([1-9][0-9]{0,8}))?\.jsonl$/

export interface ArchiveFile {
  name: string
  path: string
  /** YYYYMMDD, UTC */
  day: string
  /** 0 for audit-YYYYMMDD.jsonl, N for audit-YYYYMMDD.N.jsonl */
  part: number
}

export function archiveFileName (day: string, part: number): string {
  return part === 0 ? `audit-${day}.jsonl` : `audit-${day}.${part}.jsonl`
}

/** The UTC day of an epoch-ms time as YYYYMMDD. */
export function utcDay (time: number): string {
  const date = new Date(time)
  const y = date.getUTCFullYear()
  const m = date.getUTCMonth() + 1
  const d = date.getUTCDate()
  return `${y}${m < 10 ? '0' : ''}${m}${d < 10 ? '0' : ''}${d}`
}

function compareFiles (a: ArchiveFile, b: ArchiveFile): number {
  return a.day === b.day ? a.part - b.part : (a.day < b.day ? -1 : 1)
}

/** Archive files in `dir`, oldest first (by day, then part); none when the directory does not exist. */
export async function listArchiveFiles (dir: string): Promise<ArchiveFile[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const files: ArchiveFile[] = []
  for (const name of names) {
    const match = ARCHIVE_NAME.exec(name)
    if (match !== null) files.push({ name, path: join(dir, name), day: match[1] as string, part: match[2] === undefined ? 0 : Number(match[2]) })
  }
  return files.sort(compareFiles)
}

/** Size in bytes, 0 when the file does not exist yet. */
export async function fileSize (path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
}
