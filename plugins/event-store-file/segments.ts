// The files of the store: events-<first id>.jsonl segments, each a run of consecutive
// ids, one JSON event per line. Ids are sequence numbers written with 16 digits, so
// they sort as strings the way they sort as numbers and segment names sort with them.
import { open, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { StoredEvent } from '@switchyard/core'

const SEGMENT_NAME = /^events-(\d{16})\.jsonl$/
const ID_DIGITS = 16
export const ID_PATTERN = /^\d{16}$/

export interface Segment {
  name: string
  path: string
  /** sequence number of its first event */
  first: number
}

export function formatId (seq: number): string {
  return String(seq).padStart(ID_DIGITS, '0')
}

export function segmentName (first: number): string {
  return `events-${formatId(first)}.jsonl`
}

/** Segments oldest first; a missing directory has none. */
export async function listSegments (dir: string): Promise<Segment[]> {
  let names: string[]
  try { names = await readdir(dir) } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const segments: Segment[] = []
  for (const name of names) {
    const match = SEGMENT_NAME.exec(name)
    if (match !== null) segments.push({ name, path: join(dir, name), first: Number(match[1]) })
  }
  return segments.sort((a, b) => a.first - b.first)
}

/** The complete events of a segment; a torn last line (a crash mid-write) is left out. */
export async function readSegment (path: string): Promise<StoredEvent[]> {
  let text: string
  try { text = await readFile(path, 'utf8') } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const events: StoredEvent[] = []
  const complete = text.slice(0, text.lastIndexOf('\n') + 1)
  for (const line of complete.split('\n')) {
    if (line === '') continue
    try { events.push(JSON.parse(line) as StoredEvent) } catch { /* a line torn by a crash */ }
  }
  return events
}

/** Cuts a torn last line off a segment (the writer does this once, when it takes over). */
export async function repairSegment (path: string): Promise<void> {
  const file = await open(path, 'r+')
  try {
    const { size } = await file.stat()
    if (size === 0) return
    const text = (await file.readFile()).toString('utf8')
    const keep = Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1))
    if (keep < size) await file.truncate(keep)
  } finally {
    await file.close()
  }
}
