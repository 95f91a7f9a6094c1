import type { Backend, LeaseRequest, RateLimitedLease } from './types.ts'

/**
 * Leases within the global rate limit (setRateLimit): through the backend's atomic
 * leaseWithinRateLimit, which counts each start in the window of its own start time.
 * A backend without it gets the two steps of old, takeRatePermits then leaseTasks: the
 * permits count in the window they were taken in, so a lease that lands after the
 * window turned starts tasks the next window does not count, and permits the lease
 * did not use are lost for the window.
 */
export async function leaseUnderRateLimit (backend: Backend, req: LeaseRequest): Promise<RateLimitedLease> {
  const atomic = backend.leaseWithinRateLimit
  if (atomic !== undefined) return await atomic.call(backend, req)
  if (req.limit === 0) return { tasks: [], rateLimited: false }
  const granted = await backend.takeRatePermits(req.limit)
  if (granted <= 0) return { tasks: [], rateLimited: true }
  const limit = Math.min(req.limit, granted)
  const tasks = await backend.leaseTasks({ ...req, limit })
  return { tasks, rateLimited: limit < req.limit && tasks.length >= limit }
}
