// A guard over a guarded backend replaces the bound rather than stacking a second
// proxy: the inner bound no longer applies. (A backend that never answers cannot be
// caused on demand, so this one is an object whose now() never resolves.)
import t from 'tap'
import { withTimeouts } from './guard.ts'
import type { Backend } from './types.ts'

t.test('re-guarding replaces the bound', async (t) => {
  const hung = { name: 'hung', capabilities: {}, now: () => new Promise<number>(() => {}) } as unknown as Backend
  const outer = withTimeouts(hung, 60_000)
  const inner = withTimeouts(outer, 30)
  const started = Date.now()
  await t.rejects(inner.now(), { code: 'BACKEND_TIMEOUT', message: /within 30 ms/ })
  t.ok(Date.now() - started < 5_000, 'the 30 ms bound applies alone')
  t.equal(inner.name, 'hung')
})

t.test('a method that throws instead of answering a promise fails the call, still mapped', async (t) => {
  // a connection-level code becomes BACKEND_UNAVAILABLE whether thrown or rejected
  const refused = (): never => { throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) }
  const broken = { name: 'broken', capabilities: {}, now: refused, ping: async () => refused() } as unknown as Backend & { ping: () => Promise<void> }
  const guarded = withTimeouts(broken, 1_000) as typeof broken
  await t.rejects(guarded.now(), { code: 'BACKEND_UNAVAILABLE', message: /backend call now failed: connect ECONNREFUSED/ })
  await t.rejects(guarded.ping(), { code: 'BACKEND_UNAVAILABLE' })
  const plain = withTimeouts({ name: 'plain', capabilities: {}, now: () => { throw new TypeError('bad') } } as unknown as Backend, 1_000)
  await t.rejects(plain.now(), TypeError, 'anything else passes unchanged')
  const answering = withTimeouts({ name: 'ok', capabilities: {}, now: async () => 42 } as unknown as Backend, 1_000)
  t.equal(await answering.now(), 42)
})
