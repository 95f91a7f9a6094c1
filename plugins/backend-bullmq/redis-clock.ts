import type { Redis } from 'ioredis'

/** a kept sample older than this gives way to any new one, so a step of either clock is followed within it */
const FRESH_MS = 5_000
/**
 * how often a sample is due (see due): several per FRESH_MS, so the kept sample is
 * replaced in time, while an enqueue sends a TIME of its own about once a second
 */
const REFRESH_MS = 1_000

/** the local clock in ms with sub-ms precision (monotonic between samples; the offset absorbs steps) */
const localNow = (): number => performance.timeOrigin + performance.now()

/**
 * The Redis clock read off the local one, so an enqueue can stamp its tasks without
 * waiting for a TIME reply. TIME is sent beside other commands (sample()); its reply
 * was produced between the send and the arrival, so taking the midpoint as the moment
 * Redis read its clock errs by at most half that round trip. The sample with the
 * shortest round trip is kept (a newer one replaces it when as good, or when it is
 * older than FRESH_MS), so the error of now() is bounded by errorBoundMs: half the kept
 * sample's round trip, plus 1 ms for the truncation to whole ms, plus the drift
 * between the two clocks since the sample (ppm, i.e. nothing over FRESH_MS, unless a
 * clock is stepped, which the next refresh takes in).
 */
export class RedisClock {
  private offset = 0
  private halfRoundTrip = Number.POSITIVE_INFINITY
  private sampledAt = Number.NEGATIVE_INFINITY
  private sentAt = Number.NEGATIVE_INFINITY

  constructor (private readonly redis: Redis) {}

  /** true once a TIME reply has been seen */
  get known (): boolean { return this.halfRoundTrip !== Number.POSITIVE_INFINITY }

  /** true when no sample was sent for REFRESH_MS: the next caller able to send TIME along should */
  get due (): boolean { return localNow() - this.sentAt >= REFRESH_MS }

  /** how far now() may be from Redis's TIME, in ms (Infinity before the first sample) */
  get errorBoundMs (): number { return this.halfRoundTrip + 1 }

  /** the Redis clock in whole ms, estimated locally (call sample() first, or check known) */
  now (): number {
    return Math.floor(localNow() + this.offset)
  }

  /**
   * Sends TIME now (so it is written before any command the caller issues next) and
   * learns the offset from its reply; resolves with the Redis time read, in whole ms.
   */
  async sample (): Promise<number> {
    const sent = localNow()
    this.sentAt = sent
    const [seconds, micros] = await this.redis.time()
    const arrived = localNow()
    const redisMs = Number(seconds) * 1000 + Number(micros) / 1000
    const half = (arrived - sent) / 2
    if (half <= this.halfRoundTrip || arrived - this.sampledAt > FRESH_MS) {
      this.offset = redisMs - (sent + half)
      this.halfRoundTrip = half
      this.sampledAt = arrived
    }
    return Math.floor(redisMs)
  }
}
