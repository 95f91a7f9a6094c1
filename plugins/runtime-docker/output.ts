// The combined output of a container: the Docker API multiplexes stdout and stderr of a
// container without a TTY into frames (8-byte header: stream type, 3 zero bytes, a
// big-endian length; then the payload). FrameDecoder turns the byte stream back into
// payloads in the order the container wrote them; CappedOutput keeps the first
// `maxBytes` of them and counts (but drops) the rest, so a container that writes
// gigabytes costs the worker no more than the cap.

const HEADER_BYTES = 8

/** Splits a multiplexed log stream into payloads, across chunk boundaries. */
export class FrameDecoder {
  #pending: Buffer = Buffer.alloc(0)
  /** bytes of the current frame's payload still to come */
  #remaining = 0

  /** the payload bytes in `chunk` (stdout and stderr alike), in order */
  push (chunk: Buffer): Buffer[] {
    const payloads: Buffer[] = []
    let offset = 0
    while (offset < chunk.length) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, chunk.length - offset)
        payloads.push(chunk.subarray(offset, offset + take))
        this.#remaining -= take
        offset += take
        continue
      }
      // A header may arrive split over chunks: gather its 8 bytes first.
      const need = HEADER_BYTES - this.#pending.length
      const part = chunk.subarray(offset, offset + need)
      this.#pending = this.#pending.length === 0 ? Buffer.from(part) : Buffer.concat([this.#pending, part])
      offset += part.length
      if (this.#pending.length === HEADER_BYTES) {
        this.#remaining = this.#pending.readUInt32BE(4)
        this.#pending = Buffer.alloc(0)
      }
    }
    return payloads
  }
}

export function truncationMarker (maxBytes: number, totalBytes: number): string {
  return `\n[output truncated: kept the first ${maxBytes} of ${totalBytes} bytes]\n`
}

/** The first maxBytes of the output, the total count, and the marker appended when cut. */
export class CappedOutput {
  readonly maxBytes: number
  #kept: Buffer[] = []
  #keptBytes = 0
  #totalBytes = 0

  constructor (maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`outputMaxBytes must be a whole number of bytes, got ${maxBytes}`)
    this.maxBytes = maxBytes
  }

  /** Counts `payload` and returns the part of it that fits under the cap (empty when full). */
  push (payload: Buffer): Buffer {
    this.#totalBytes += payload.length
    const room = this.maxBytes - this.#keptBytes
    if (room <= 0 || payload.length === 0) return payload.subarray(0, 0)
    const kept = payload.length <= room ? payload : payload.subarray(0, room)
    // Copied: the caller's buffer may be reused by the stream.
    this.#kept.push(Buffer.from(kept))
    this.#keptBytes += kept.length
    return kept
  }

  get totalBytes (): number { return this.#totalBytes }
  get truncated (): boolean { return this.#totalBytes > this.maxBytes }

  /** the kept bytes, with the truncation marker appended when output was cut */
  result (): Buffer {
    const parts = this.truncated ? [...this.#kept, Buffer.from(truncationMarker(this.maxBytes, this.#totalBytes))] : this.#kept
    return Buffer.concat(parts)
  }
}

/** The last `maxLines` lines of text (at most maxChars), for error messages. */
export class TailLines {
  #text = ''
  constructor (readonly maxChars = 4000) {}

  push (text: string): void {
    this.#text = (this.#text + text).slice(-this.maxChars * 2)
  }

  lines (maxLines = 20): string {
    const lines = this.#text.split('\n').filter(line => line.trim() !== '')
    return lines.slice(-maxLines).join('\n').slice(-this.maxChars)
  }
}
