// Spreads the writes of many event streams over turns of the event loop.
//
// A thousand SSE streams woken together all take their page in the same turn (they
// wait on one shared read), and each write encrypts the page for its socket and hands
// it to the kernel. Streams that are behind take full pages (about 100 KB each): a
// round of a thousand such writes held the gateway's loop for 1.2–2.1 s in a profile
// of the under-load benchmark (bench/README.md), and every request, and every answer
// of the backend to one, waited behind it (a Redis command timed out at 5 s). With
// WriteTurns the streams take turns: about `bytesPerTurn` bytes of writes per turn of
// the loop (at least one write), the rest in later turns in the order they asked, and
// the loop polls for I/O between the turns.

/** bytes written per turn of the event loop: a few milliseconds of TLS and socket writes */
export const SSE_BYTES_PER_TURN = 512 * 1024

export class WriteTurns {
  private grantedBytes = 0
  private readonly waiting: Array<{ bytes: number, release: () => void }> = []
  /** the index of the first waiter not yet released (the array is cleared once all are) */
  private head = 0
  private scheduled = false

  constructor (private readonly bytesPerTurn: number = SSE_BYTES_PER_TURN) {
    if (!Number.isInteger(bytesPerTurn) || bytesPerTurn < 1) throw new Error(`WriteTurns: bytesPerTurn must be a positive integer, got ${bytesPerTurn}`)
  }

  /**
   * null when the caller may write its `bytes` now (this turn has room and nobody
   * waits before it), else a promise that resolves in a later turn, when its turn comes
   */
  take (bytes: number): Promise<void> | null {
    this.schedule()
    if (this.head === this.waiting.length && (this.grantedBytes === 0 || this.grantedBytes + bytes <= this.bytesPerTurn)) {
      this.grantedBytes += bytes
      return null
    }
    return new Promise(resolve => { this.waiting.push({ bytes, release: resolve }) })
  }

  /** callers waiting for a later turn (for tests and diagnostics) */
  get queued (): number {
    return this.waiting.length - this.head
  }

  /** the next turn starts a new count; setImmediate runs after the loop polled for I/O */
  private schedule (): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(this.nextTurn)
  }

  private readonly nextTurn = (): void => {
    this.scheduled = false
    this.grantedBytes = 0
    while (this.head < this.waiting.length) {
      const next = this.waiting[this.head]!
      if (this.grantedBytes > 0 && this.grantedBytes + next.bytes > this.bytesPerTurn) break
      this.grantedBytes += next.bytes
      this.head++
      next.release()
    }
    if (this.head === this.waiting.length) {
      this.waiting.length = 0
      this.head = 0
    }
    // writes were granted this turn (or callers still wait): the next turn starts a new count
    if (this.grantedBytes > 0 || this.head < this.waiting.length) this.schedule()
  }
}
