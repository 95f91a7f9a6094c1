import t from 'tap'
import { fileURLToPath } from 'node:url'
import { createHandlerRegistry, HandlerRegistry, loadHandlerModule } from '../../core/worker/handlers.ts'
import { isPermanentError, PermanentError } from '../../core/worker/errors.ts'
import { resolveWorkerOptions } from '../../core/worker/options.ts'

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

t.test('registry registers, lists sorted names and rejects duplicates and bad names', async t => {
  const registry = new HandlerRegistry()
  registry.register('b.second', () => 2).register('a-first', () => 1)
  t.same(registry.names(), ['a-first', 'b.second'])
  t.ok(registry.has('a-first'))
  t.equal(registry.get('missing'), undefined)
  t.throws(() => registry.register('a-first', () => 3), { code: 'HANDLER_EXISTS' })
  t.throws(() => registry.register('bad name!', () => 3), { code: 'VALIDATION_FAILED', message: /handler/ })
  t.throws(() => registry.register('nofn', 'x' as never), { code: 'VALIDATION_FAILED' })
  t.same(createHandlerRegistry({ x: () => 1 }).names(), ['x'])
})

t.test('loadHandlerModule reads a named handlers export', async t => {
  const handlers = await loadHandlerModule(fixture('handlers-named.ts'))
  t.same(Object.keys(handlers).sort(), ['double', 'reports.build'])
  t.equal(await handlers.double!({ n: 21 }, {} as never), 42)
})

t.test('loadHandlerModule reads a default export', async t => {
  const handlers = await loadHandlerModule(fixture('handlers-default.ts'))
  t.equal(await handlers.greet!({ name: 'yard' }, {} as never), 'hello yard')
})

t.test('loadHandlerModule rejects a malformed export naming the entry, and a missing file', async t => {
  await t.rejects(loadHandlerModule(fixture('handlers-invalid.ts')), { code: 'VALIDATION_FAILED', message: /handlers\.broken/ })
  await t.rejects(loadHandlerModule(fixture('does-not-exist.ts')), { code: 'VALIDATION_FAILED', message: /could not be loaded/ })
  await t.rejects(loadHandlerModule(''), { code: 'VALIDATION_FAILED' })
})

t.test('PermanentError is recognised, also by its brand', async t => {
  t.ok(isPermanentError(new PermanentError('no')))
  t.notOk(isPermanentError(new Error('maybe')))
  t.notOk(isPermanentError('string'))
  t.ok(isPermanentError(Object.assign(new Error('x'), { [Symbol.for('switchyard.permanentError')]: true })))
})

t.test('worker options: defaults, derived lease renewal, and errors naming the field', async t => {
  const o = resolveWorkerOptions({ leaseMs: 900 })
  t.equal(o.leaseRenewMs, 300)
  t.equal(o.queues, null)
  t.match(o.id, /:\d+:/)
  t.same(resolveWorkerOptions({ queues: ['a', 'a', 'b'] }).queues, ['a', 'b'])
  t.throws(() => resolveWorkerOptions({ concurrency: 0 }), { code: 'VALIDATION_FAILED', message: /worker\.concurrency/ })
  t.throws(() => resolveWorkerOptions({ leaseMs: 1000, leaseRenewMs: 1000 }), { message: /worker\.leaseRenewMs/ })
  t.throws(() => resolveWorkerOptions({ queues: [] }), { message: /worker\.queues/ })
  t.throws(() => resolveWorkerOptions({ queues: ['ok', 'not ok'] }), { message: /worker\.queues\[1\]/ })
  t.throws(() => resolveWorkerOptions({ retry: { factor: 0 } }), { message: /worker\.retry\.factor/ })
})
