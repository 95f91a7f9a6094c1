import { Redis } from 'ioredis'
import { SwitchyardThroughput } from './systems/switchyard.ts'
import { BullMQThroughput } from './systems/bullmq-raw.ts'
import { createBullMQBackend } from '@switchyard/backend-bullmq'
import { freshToken, deleteKeysContaining } from './lib/redis.ts'
const r = new Redis()
async function stats (): Promise<Map<string, [number, number]>> {
  const m = new Map<string, [number, number]>()
  for (const x of (await r.info('commandstats')).matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g)) m.set(x[1]!, [Number(x[2]), Number(x[3])])
  return m
}
const N = 50000
for (const which of (process.argv[2] ?? 'bullmq,raw').split(',')) {
  const sys = which === 'raw' ? new BullMQThroughput(50) : new SwitchyardThroughput('sy', async () => { const token = freshToken(); const backend = createBullMQBackend({ prefix: token }); await backend.init(); return { backend, destroy: async () => { await backend.close(); await deleteKeysContaining(token) } } }, { concurrency: 50, batchSize: 50, pollMs: 100 })
  await sys.setup()
  await r.config('RESETSTAT')
  for (let i = 0; i < N; i += 1000) await sys.enqueueBatch(i, 1000)
  const e = await stats()
  await r.config('RESETSTAT')
  let done = 0
  const t0 = performance.now()
  await new Promise<void>(resolve => { void sys.startWorkers(() => { if (++done === N) resolve() }) })
  while (!(await sys.allDone(N))) await new Promise(res => setTimeout(res, 5))
  const ms = performance.now() - t0
  const p = await stats()
  await sys.teardown()
  for (const [label, st] of [['enqueue', e], ['process', p]] as const) {
    const list = [...st].filter(([k]) => k !== 'info' && k !== 'config').sort((a, b) => b[1][1] - a[1][1])
    const total = list.reduce((s, [, [, u]]) => s + u, 0)
    console.log(`${which} ${label}: ${label === 'process' ? ms.toFixed(0) + ' ms, ' : ''}top-level usec/task ${(list.filter(([k]) => ['evalsha', 'eval', 'xread', 'hset', 'sadd', 'time', 'publish', 'hmget', 'hgetall', 'smembers', 'multi', 'exec', 'exists', 'llen', 'zcard', 'get', 'set', 'bzpopmin'].includes(k)).reduce((s, [, [, u]]) => s + u, 0) / N).toFixed(1)}`)
    console.log('   ' + list.slice(0, 16).map(([k, [c, u]]) => `${k} ${(c / N).toFixed(2)}x ${(u / N).toFixed(2)}us`).join(' | '))
  }
}
r.disconnect(); process.exit(0)
