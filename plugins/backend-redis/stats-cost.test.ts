// queueStats (the overview) must cost one round trip whatever the number of queues and
// tasks: counted as the commands this backend's connection sends.
import t from 'tap'
import type { NewTask } from '@switchyard/core'
import { openTestBackend } from './testing.ts'

t.test('queueStats is one command on the wire, with 40 queues and 20k tasks', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const queues = Array.from({ length: 40 }, (_, i) => `q${i}`)
  const task = (i: number): NewTask => ({ queue: queues[i % queues.length]!, handler: 'h', payload: { i }, maxAttempts: 3, priority: i % 3, timeoutMs: 1000, runAt: null, delayMs: 0, idempotencyKey: null })
  for (let i = 0; i < 20_000; i += 1000) await backend.enqueue(Array.from({ length: 1000 }, (_, j) => task(i + j)))
  await backend.queueStats() // loads the script, so EVALSHA never falls back to EVAL below

  // Count what this client writes to the socket. (MONITOR on a shared server is flooded by
  // other test runs and trips ioredis's monitor parser, so the count is taken client-side,
  // where every command the backend sends passes through sendCommand.)
  const sent: string[] = []
  const redis = backend.redis as unknown as { sendCommand: (command: { name: string }) => unknown }
  const original = redis.sendCommand.bind(redis)
  redis.sendCommand = (command) => { sent.push(command.name.toLowerCase()); return original(command) }
  t.teardown(() => { redis.sendCommand = original })
  const started = performance.now()
  const stats = await backend.queueStats()
  const elapsed = performance.now() - started
  const commands = [...sent]
  t.equal(stats.length, 40)
  t.equal(stats.reduce((n, s) => n + s.ready, 0), 20_000, 'counts every task')
  t.same(commands, ['evalsha'], 'exactly one command: the stats script')
  t.comment(`queueStats over 40 queues / 20k tasks: ${elapsed.toFixed(2)} ms`)
})
