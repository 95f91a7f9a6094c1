// The JSONL archive: audit events are buffered in memory and appended to the day's
// file by one flush at a time (timer, a full buffer, flush() or close()). An event
// leaves the buffer only after the append that holds it succeeded, so a failing disk
// delays the archive but loses nothing that write() accepted.
import { mkdir, open, stat, unlink } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Errors } from '@switchyard/core'
import type { AuditEvent } from '@switchyard/core'
import type { AuditSink } from '@switchyard/core/plugin'
import { AuditFileErrors } from './errors.ts'
import { archiveFileName, fileSize, listArchiveFiles, utcDay } from './files.ts'

export const SINK_NAME = 'audit-file'
// Age-based retention needs a look now and then even when no file rotates.
const PRUNE_EVERY_MS = 60_000

export interface FileAuditSinkOptions {
  dir: string
  flushIntervalMs: number
  maxFileBytes: number
  maxBufferedEvents: number
  /** keep at most this many finished files */
  retentionFiles?: number
  /** delete finished files last modified longer ago than this */
  retentionMs?: number
  /** failures of timer-driven work, which has no caller to throw to */
  onError?: (err: unknown) => void
}

interface BufferedLine {
  line: string
  day: string
}

interface ActiveFile {
  day: string
  part: number
  path: string
  size: number
}

function positiveInteger (value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw Errors.validation(`audit-file ${field} must be a positive integer, got ${String(value)}`, { details: { field } })
  }
  return value
}

function message (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export class FileAuditSink implements AuditSink {
  readonly name = SINK_NAME
  readonly dir: string
  readonly #options: FileAuditSinkOptions
  readonly #buffer: BufferedLine[] = []
  /** the last queued flush or prune; each link runs after the previous one settled */
  #tail: Promise<unknown> = Promise.resolve()
  #active: ActiveFile | null = null
  #activeChanged = false
  #lastPruneAt = 0
  #ticking = false
  #closed = false
  readonly #timer: NodeJS.Timeout

  constructor (options: FileAuditSinkOptions) {
    if (typeof options.dir !== 'string' || options.dir === '') throw Errors.validation('audit-file dir must be a directory path', { details: { field: 'dir' } })
    positiveInteger(options.flushIntervalMs, 'flushInterval')
    positiveInteger(options.maxFileBytes, 'maxFileBytes')
    positiveInteger(options.maxBufferedEvents, 'maxBufferedEvents')
    if (options.retentionFiles !== undefined) positiveInteger(options.retentionFiles, 'retentionFiles')
    if (options.retentionMs !== undefined) positiveInteger(options.retentionMs, 'retention')
    this.#options = { ...options }
    this.dir = resolve(options.dir)
    this.#timer = setInterval(() => { this.#tick() }, options.flushIntervalMs)
    // The archive must not keep a process alive; close() flushes what is left.
    this.#timer.unref()
  }

  /** events accepted by write() and not yet appended to a file */
  get buffered (): number {
    return this.#buffer.length
  }

  async write (event: AuditEvent): Promise<void> {
    if (this.#closed) throw AuditFileErrors.closed('the audit archive is closed')
    // Serialized now: the archive holds the event as it was when it happened.
    const line = `${JSON.stringify(event)}\n`
    const day = utcDay(Number.isFinite(event.time) ? event.time : Date.now())
    while (this.#buffer.length >= this.#options.maxBufferedEvents) {
      try {
        await this.flush()
      } catch (err) {
        throw AuditFileErrors.bufferFull(`the audit archive buffer is full (${this.#buffer.length} events) and could not be flushed: ${message(err)}`, { cause: err, details: { dir: this.dir } })
      }
      if (this.#closed) throw AuditFileErrors.closed('the audit archive closed while the event waited for room')
    }
    this.#buffer.push({ line, day })
  }

  /** Appends every buffered event; on failure they stay buffered and the error is thrown. */
  flush (): Promise<void> {
    return this.#serialized(() => this.#flushBuffered())
  }

  /** Deletes finished files beyond the retention limits; returns their names. */
  prune (): Promise<string[]> {
    return this.#serialized(() => this.#prune())
  }

  /** Stops the timer and flushes; when the flush fails it throws and may be called again. */
  async close (): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    await this.flush()
  }

  #serialized<T> (work: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(work)
    this.#tail = run.catch(() => {})
    return run
  }

  #tick (): void {
    if (this.#ticking) return
    this.#ticking = true
    const work = this.#buffer.length > 0 ? this.flush() : this.#serialized(() => this.#pruneIfDue())
    work
      .catch(err => { this.#options.onError?.(err) })
      .finally(() => { this.#ticking = false })
  }

  async #flushBuffered (): Promise<void> {
    // Events written while this flush runs wait for the next one: every flush ends.
    const count = this.#buffer.length
    if (count === 0) return
    let written = 0
    let target = ''
    try {
      await mkdir(this.dir, { recursive: true })
      while (written < count) {
        const day = (this.#buffer[written] as BufferedLine).day
        const active = await this.#fileFor(day)
        target = active.path
        let chunk = ''
        let bytes = 0
        let lines = 0
        for (let i = written; i < count; i++) {
          const entry = this.#buffer[i] as BufferedLine
          if (entry.day !== day) break
          const size = Buffer.byteLength(entry.line)
          // A line larger than the limit still gets a file of its own.
          if (active.size + bytes + size > this.#options.maxFileBytes && active.size + bytes > 0) break
          chunk += entry.line
          bytes += size
          lines++
        }
        if (lines === 0) {
          this.#startNextPart(active)
          continue
        }
        await appendWhole(active.path, chunk, active.size)
        active.size += bytes
        written += lines
      }
    } catch (err) {
      throw AuditFileErrors.writeFailed(`appending ${count - written} audit events to ${target === '' ? this.dir : target} failed: ${message(err)}`, {
        cause: err, details: { dir: this.dir, buffered: this.#buffer.length - written }
      })
    } finally {
      this.#buffer.splice(0, written)
    }
    if (this.#activeChanged) {
      this.#activeChanged = false
      await this.#pruneReported()
    } else {
      await this.#pruneIfDue()
    }
  }

  /** The file the next line of `day` goes to: the day's newest part, or a new part when it is full. */
  async #fileFor (day: string): Promise<ActiveFile> {
    if (this.#active?.day === day) return this.#active
    const parts = (await listArchiveFiles(this.dir)).filter(file => file.day === day)
    const part = parts.at(-1)?.part ?? 0
    const path = join(this.dir, archiveFileName(day, part))
    const active: ActiveFile = { day, part, path, size: await fileSize(path) }
    if (active.size >= this.#options.maxFileBytes) this.#startNextPart(active)
    if (this.#active !== null) this.#activeChanged = true
    this.#active = active
    return active
  }

  #startNextPart (active: ActiveFile): void {
    active.part++
    active.path = join(this.dir, archiveFileName(active.day, active.part))
    active.size = 0
    this.#activeChanged = true
  }

  async #pruneIfDue (): Promise<void> {
    if (Date.now() - this.#lastPruneAt >= PRUNE_EVERY_MS) await this.#pruneReported()
  }

  /** Retention failures must not fail a flush whose events were written. */
  async #pruneReported (): Promise<void> {
    try {
      await this.#prune()
    } catch (err) {
      this.#options.onError?.(err)
    }
  }

  async #prune (): Promise<string[]> {
    const { retentionFiles, retentionMs } = this.#options
    this.#lastPruneAt = Date.now()
    if (retentionFiles === undefined && retentionMs === undefined) return []
    const finished = (await listArchiveFiles(this.dir)).filter(file => file.path !== this.#active?.path)
    const doomed = new Set<string>()
    if (retentionMs !== undefined) {
      const cutoff = Date.now() - retentionMs
      for (const file of finished) {
        const modified = await stat(file.path).then(stats => stats.mtimeMs, () => null)
        if (modified !== null && modified < cutoff) doomed.add(file.name)
      }
    }
    if (retentionFiles !== undefined) {
      const kept = finished.filter(file => !doomed.has(file.name))
      for (const file of kept.slice(0, Math.max(0, kept.length - retentionFiles))) doomed.add(file.name)
    }
    const deleted: string[] = []
    for (const file of finished) {
      if (!doomed.has(file.name)) continue
      try {
        await unlink(file.path)
        deleted.push(file.name)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
    }
    return deleted
  }
}

/** Appends all of `chunk` or, as far as the file system lets us, none of it. */
async function appendWhole (path: string, chunk: string, sizeBefore: number): Promise<void> {
  const handle = await open(path, 'a')
  try {
    await handle.writeFile(chunk)
    // An archive is only worth its name if it survives a power cut.
    await handle.datasync()
  } catch (err) {
    // A half-written batch would be written again by the retry: cut it off.
    await handle.truncate(sizeBefore).catch(() => {})
    throw err
  } finally {
    await handle.close()
  }
}

export function createFileAuditSink (options: FileAuditSinkOptions): FileAuditSink {
  return new FileAuditSink(options)
}
