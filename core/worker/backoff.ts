import { Errors } from '../errors.ts'

export interface RetryPolicy {
  /** delay after the first failed attempt */
  baseDelayMs: number
  maxDelayMs: number
  /** growth per attempt */
  factor: number
  /** 0.2 spreads each delay uniformly over ±20%, so tasks failing together do not retry together */
  jitter: number
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseDelayMs: 1000, maxDelayMs: 5 * 60_000, factor: 2, jitter: 0.2 }

/** min(maxDelay, base · factor^(attempt−1)) · (1 ± jitter), in whole ms. */
export function backoffDelay (attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, attempt - 1)
  const raw = Math.min(policy.maxDelayMs, policy.baseDelayMs * Math.pow(policy.factor, exponent))
  const jittered = raw * (1 + policy.jitter * (2 * random() - 1))
  return Math.max(0, Math.round(jittered))
}

export function validateRetryPolicy (policy: RetryPolicy, field = 'retry'): RetryPolicy {
  const check = (name: keyof RetryPolicy, ok: boolean, rule: string): void => {
    if (!ok) throw Errors.validation(`${field}.${name}: ${rule}`, { details: { field: `${field}.${name}` } })
  }
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
  check('baseDelayMs', finite(policy.baseDelayMs) && policy.baseDelayMs >= 0, 'must be a number >= 0')
  check('maxDelayMs', finite(policy.maxDelayMs) && policy.maxDelayMs >= policy.baseDelayMs, 'must be a number >= baseDelayMs')
  check('factor', finite(policy.factor) && policy.factor >= 1, 'must be a number >= 1')
  check('jitter', finite(policy.jitter) && policy.jitter >= 0 && policy.jitter <= 1, 'must be a number from 0 to 1')
  return policy
}
