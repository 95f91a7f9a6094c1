// The resident part of a process's brk heap (the `[heap]` mapping of /proc/<pid>/smaps):
// glibc's main malloc arena, where a Node process's main thread allocates its native
// memory (TLS records, socket write buffers). It shows how much of the resident memory
// a burst leaves is malloc's: that arena is returned to the kernel only from its top
// (and by malloc_trim), so freed chunks below a live one stay resident.
import { readFile } from 'node:fs/promises'

const MAPPING_HEADER = /^[0-9a-f]+-[0-9a-f]+ /

/** MiB resident in the `[heap]` mapping; null when /proc cannot tell (not Linux, process gone) */
export async function brkHeapMb (pid: number): Promise<number | null> {
  const text = await readFile(`/proc/${pid}/smaps`, 'utf8').catch(() => null)
  if (text === null) return null
  let inHeap = false
  let kb = 0
  for (const line of text.split('\n')) {
    if (MAPPING_HEADER.test(line)) {
      inHeap = line.trimEnd().endsWith('[heap]')
      continue
    }
    if (inHeap && line.startsWith('Rss:')) kb += Number(/(\d+) kB/.exec(line)?.[1] ?? 0)
  }
  return Math.round(kb / 102.4) / 10
}
