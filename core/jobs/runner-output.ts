import { storableText } from '../backend/storable.ts'

// A container's output becomes `job.output` events as it comes, so a client follows a
// run live (SSE, with resume). A chatty container must not turn into an event per
// write: bytes are gathered and sent at most every flushMs, in events of at most
// chunkBytes each, and never more than maxBytes in all (the output cap of the run).

export interface OutputEventsOptions {
  /** bytes sent as events in all, at most */
  maxBytes: number
  /** bytes per event, at most */
  chunkBytes: number
  /** gathered bytes are sent this long after the first of them came */
  flushMs: number
  /** sends one batch of texts, each the content of one event, in order */
  send: (texts: string[]) => Promise<void>
  /** a failed send is reported here and the output keeps flowing (the run must not fail for it) */
  onError: (err: unknown) => void
}

export class OutputEvents {
  readonly #options: OutputEventsOptions
  // A multi-byte character cut between two writes (or two events) is kept whole.
  readonly #decoder = new TextDecoder('utf-8', { fatal: false })
  #pending: Uint8Array[] = []
  #pendingBytes = 0
  #accepted = 0
  #timer: NodeJS.Timeout | null = null
  #sending: Promise<void> = Promise.resolve()
  #closed = false

  constructor (options: OutputEventsOptions) {
    this.#options = options
  }

  /** bytes taken for events so far (at most maxBytes) */
  get bytes (): number {
    return this.#accepted
  }

  push (chunk: Uint8Array): void {
    if (this.#closed) return
    const room = this.#options.maxBytes - this.#accepted
    if (room <= 0 || chunk.byteLength === 0) return
    const taken = chunk.byteLength > room ? chunk.subarray(0, room) : chunk
    // the caller may reuse its buffer
    this.#pending.push(Uint8Array.from(taken))
    this.#pendingBytes += taken.byteLength
    this.#accepted += taken.byteLength
    this.#timer ??= setTimeout(() => { this.#timer = null; this.#flush(false) }, this.#options.flushMs)
  }

  /** sends what is gathered (and a trailing `text`, e.g. the truncation marker) and stops taking output */
  async close (text?: string): Promise<void> {
    if (this.#closed) return await this.#sending
    this.#closed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#flush(true, text)
    await this.#sending
  }

  #flush (final: boolean, trailer?: string): void {
    const texts: string[] = []
    const data = concat(this.#pending, this.#pendingBytes)
    this.#pending = []
    this.#pendingBytes = 0
    const size = this.#options.chunkBytes
    for (let offset = 0; offset < data.byteLength; offset += size) {
      const piece = data.subarray(offset, Math.min(offset + size, data.byteLength))
      const last = final && offset + size >= data.byteLength
      const text = this.#decoder.decode(piece, { stream: !last })
      if (text !== '') texts.push(storableText(text))
    }
    if (final && data.byteLength === 0) {
      const rest = this.#decoder.decode()
      if (rest !== '') texts.push(storableText(rest))
    }
    if (trailer !== undefined && trailer !== '') texts.push(storableText(trailer))
    if (texts.length === 0) return
    const { send, onError } = this.#options
    this.#sending = this.#sending.then(async () => { await send(texts) }).catch(onError)
  }
}

function concat (parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array
  const out = new Uint8Array(total)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}
