// queueStats (the overview) must cost one round trip whatever the number of queues and
// tasks: counted on the server with MONITOR, for this client's connection only.
import t from 'tap'
import { Redis } from 'ioredis'
import type { NewTask } from 'switchyard'
import { openTestBackend, TEST_REDIS_URL } from './testing.ts'

t.test('queueStats is one command on the wire, with 40 queues and 20k tasks', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const queues = Array.from({ length: 40 }, (_, i) => `q${i}`)
  const task = (i: number): NewTask => ({ queue: queues[i % queues.length]!, handler: 'h', payload: { i }, maxAttempts: 3, priority: i % 3, timeoutMs: 1000, runAt: null, delayMs: 0, idempotencyKey: null })
  for (let i = 0; i < 20_000; i += 1000) await backend.enqueue(Array.from({ length: 1000 }, (_, j) => task(i + j)))
  await backend.queueStats() // loads the script, so EVALSHA never falls back to EVAL below

  const info = await backend.redis.client('INFO') as string
  const addr = /addr=(\S+)/.exec(info)?.[1]
  t.ok(addr, 'own connection address known')
  const plain = new Redis(TEST_REDIS_URL)
  const monitor = await plain.monitor()
  t.teardown(() => { monitor.disconnect(); plain.disconnect() })
  const seen: string[][] = []
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source === addr) seen.push(args)
  })
  const marker = `end-${Math.random()}`
  const started = performance.now()
  const stats = await backend.queueStats()
  const elapsed = performance.now() - started
  await backend.redis.echo(marker)
  const deadline = Date.now() + 5000
  while (!seen.some((a) => a[1] === marker) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
  const commands = seen.filter((a) => a[1] !== marker)
  t.equal(stats.length, 40)
  t.equal(stats.reduce((n, s) => n + s.ready, 0), 20_000, 'counts every task')
  t.same(commands.map((a) => a[0]!.toLowerCase()), ['evalsha'], 'exactly one command: the stats script')
  t.comment(`queueStats over 40 queues / 20k tasks: ${elapsed.toFixed(2)} ms`)
})
