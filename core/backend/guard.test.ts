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
