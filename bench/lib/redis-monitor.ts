// Counts the Redis commands this process sends while `work` runs: MONITOR on a
// connection of its own, keeping the commands that come from this process's sockets
// (not from inside a Lua script, which MONITOR also shows) and name a key containing
// `token`. The Redis server is shared, so neither INFO commandstats (server-wide) nor
// an unfiltered MONITOR would say what this run did. Commands sent as one pipeline are
// one round trip but several commands: the count is an upper bound on round trips.
import { Redis } from 'ioredis'
import { ownPortsTo } from './own-ports.ts'

const MONITOR_SETTLE_MS = 200

export async function countRedisCommands (url: string, token: string, work: () => Promise<void>): Promise<{ commands: number, streamErrors: number }> {
  // A busy server can send MONITOR lines before ioredis has switched the connection to
  // monitor mode; it then reports a command queue error for a line it did not expect.
  // Lines are only counted, so such an error is noted, not fatal. The listener is on the
  // monitoring connection before it connects (redis.monitor() makes a connection of its
  // own and answers it only once monitoring, too late for an error while switching).
  let streamErrors = 0
  const monitor = new Redis(url, { monitor: true, lazyConnect: true, connectTimeout: 10_000, maxRetriesPerRequest: 1 })
  monitor.on('error', () => { streamErrors++ })
  const monitoring = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('MONITOR: not monitoring within 10 s')), 10_000)
    monitor.once('monitoring', () => { clearTimeout(timer); resolve() })
  })
  await monitor.connect()
  await monitoring.catch((err: unknown) => { monitor.disconnect(); throw err })
  const seen: Array<{ port: number, args: string[] }> = []
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const port = Number(source.slice(source.lastIndexOf(':') + 1))
    if (source !== 'lua' && Number.isInteger(port)) seen.push({ port, args })
  })
  try {
    // MONITOR starts reporting once its reply arrived; a short pause keeps the first commands of `work` in view
    await new Promise(resolve => setTimeout(resolve, MONITOR_SETTLE_MS))
    await work()
    await new Promise(resolve => setTimeout(resolve, MONITOR_SETTLE_MS))
  } finally {
    monitor.disconnect()
  }
  const own = new Set(await ownPortsTo(Number(new URL(url).port || 6379)))
  const commands = seen.filter(command => own.has(command.port) && command.args.some(arg => arg.includes(token))).length
  return { commands, streamErrors }
}
