import type { Redis } from 'ioredis'

/**
 * Runs `send`, which issues commands without awaiting, with the connection's socket
 * corked: ioredis writes each command to the socket as it is issued (a system call
 * each), and an enqueue issues several (index, events, adds, wake-up). Corked, they
 * leave in one write, as a pipeline would send them, without the cost of building an
 * ioredis Pipeline (which copies every defined script onto itself). The order of the
 * commands is unchanged. A connection that is not ready queues commands itself, so
 * then `send` just runs.
 */
export function sendTogether<T> (redis: Redis, send: () => T): T {
  const stream = redis.status === 'ready' ? redis.stream : undefined
  if (stream === undefined || typeof stream.cork !== 'function') return send()
  stream.cork()
  try {
    return send()
  } finally {
    stream.uncork()
  }
}
