// Small transforms the fetch and the extraction share: a byte cap that fails the
// stream the moment it is crossed (not after the whole body arrived), and a
// pass-through that counts and hashes what flows.
import { createHash, type Hash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'

/** Fails with `error()` as soon as more than `max` bytes have passed. */
export class ByteCap extends Transform {
  #seen = 0
  readonly #max: number
  readonly #error: (seen: number) => Error

  constructor (max: number, error: (seen: number) => Error) {
    super()
    this.#max = max
    this.#error = error
  }

  get seen (): number { return this.#seen }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length
    if (this.#seen > this.#max) callback(this.#error(this.#seen))
    else callback(null, chunk)
  }
}

/** Passes bytes through, counting them and computing their SHA-256. */
export class HashingCounter extends Transform {
  bytes = 0
  readonly #hash: Hash = createHash('sha256')

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length
    this.#hash.update(chunk)
    callback(null, chunk)
  }

  /** hex digest; call once, after the stream ended */
  digest (): string {
    return this.#hash.digest('hex')
  }
}
