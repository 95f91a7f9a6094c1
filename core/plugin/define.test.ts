import t from 'tap'
import Fastify from 'fastify'
import { Type } from 'typebox'
import { loadConfig } from '../config/load.ts'
import type { Backend } from '../backend/types.ts'
import { definePlugin, isSwitchyardPlugin } from './define.ts'
import { HookRegistry } from './hooks.ts'
import { loadPlugins } from './load.ts'

const { config, configDir } = await loadConfig({ env: {} })
const ctx = { config, configDir }

t.test('definePlugin returns a fastify-plugin carrying its metadata', async t => {
  const schema = Type.Object({ level: Type.Integer({ default: 1 }) }, { additionalProperties: false })
  const plugin = definePlugin({ name: 'meta-check', version: '0.1.0', options: schema, dependencies: ['base'], register () {} })
  t.ok(isSwitchyardPlugin(plugin))
  t.same(plugin.meta, { name: 'meta-check', version: '0.1.0', optionsSchema: schema, dependencies: ['base'] })
  const fp = plugin as unknown as Record<symbol, unknown>
  t.equal(fp[Symbol.for('skip-override')], true, 'not encapsulated: what it registers is visible app-wide')
  t.match(fp[Symbol.for('plugin-meta')], { name: 'meta-check', dependencies: ['base'], fastify: '5.x' })
  t.equal(isSwitchyardPlugin(async () => {}), false)
  t.throws(() => definePlugin({ name: 'self', version: '1.0.0', options: Type.Object({}), dependencies: ['self'], register () {} }), { code: 'PLUGIN_INVALID', message: 'definePlugin("self"): a plugin cannot depend on itself' })
  t.throws(() => definePlugin({ name: '', version: '1.0.0', options: Type.Object({}), register () {} }), { code: 'PLUGIN_INVALID' })
})

t.test('registered directly with app.register, options are still validated', async t => {
  const seen: unknown[] = []
  const plugin = definePlugin({
    name: 'direct',
    version: '1.0.0',
    options: Type.Object({ size: Type.Integer({ minimum: 1, default: 3 }) }, { additionalProperties: false }),
    register (_hooks, options) { seen.push(options) }
  })
  const ok = Fastify()
  t.teardown(() => ok.close())
  await ok.register(plugin, { options: {}, ctx })
  t.same(seen, [{ size: 3 }])
  t.ok(ok.switchyard instanceof HookRegistry, 'the registry decorator is added on demand')

  const bad = Fastify()
  t.teardown(() => bad.close())
  await t.rejects(async () => { await bad.register(plugin, { options: { size: 0 }, ctx }) }, {
    code: 'PLUGIN_OPTIONS_INVALID', message: 'plugin "direct" has invalid options: direct.options.size: must be >= 1, got number 0'
  })

  const noCtx = Fastify()
  t.teardown(() => noCtx.close())
  await t.rejects(async () => { await noCtx.register(plugin, {} as never) }, { code: 'PLUGIN_INVALID', message: /registered without \{ ctx \}/ })
})

t.test("Fastify's own pluginTimeout is reported as PLUGIN_REGISTER_TIMEOUT naming the plugin", async t => {
  const slow = definePlugin({ name: 'slow', version: '1.0.0', options: Type.Object({}), register: () => new Promise<void>(() => {}) })
  const app = Fastify({ pluginTimeout: 100 })
  t.teardown(() => app.close())
  const registry = new HookRegistry()
  app.decorate('switchyard', registry)
  // loadPlugins imports modules by name; here the plugin object is registered the way loadPlugins does it.
  app.register(slow, { options: {}, ctx, registerTimeoutMs: 5000 })
  const err = await app.after().then(() => null, (e: unknown) => e as Error & { code: string, fn?: unknown })
  t.equal(err?.code, 'AVV_ERR_PLUGIN_EXEC_TIMEOUT')
  t.equal(err?.fn, slow, 'Fastify hands back the plugin function, which the loader maps to its name')
})

// A registry-level check of backend lifecycle: the smallest object the registry
// touches (init/close), since real backends come from their own plugins.
function recordingBackend (events: string[], label: string, failInit = false): Backend {
  return {
    name: label,
    init: async () => { events.push(`init:${label}`); if (failInit) throw new Error('database is down') },
    close: async () => { events.push(`close:${label}`) }
  } as unknown as Backend
}

t.test('backend factories: created once on first use, closed after every plugin', async t => {
  const events: string[] = []
  let created = 0
  const provider = definePlugin({
    name: 'provider',
    version: '1.0.0',
    options: Type.Object({}),
    register (hooks) {
      hooks.registerBackend('primary', () => { created++; return recordingBackend(events, 'primary') })
      hooks.onClose(async () => { events.push('close:provider-hook') })
    }
  })
  const consumer = definePlugin({
    name: 'consumer',
    version: '1.0.0',
    options: Type.Object({}),
    dependencies: ['provider'],
    register (hooks) {
      hooks.onReady(async () => { events.push(`ready:${(await hooks.getBackend()).name}`) })
      hooks.onClose(async () => { events.push('close:consumer-hook') })
    }
  })
  const app = Fastify()
  app.decorate('switchyard', new HookRegistry())
  app.addHook('onClose', async () => { await app.switchyard.close() })
  app.register(provider, { options: {}, ctx })
  app.register(consumer, { options: {}, ctx })
  await app.ready()
  const [a, b] = await Promise.all([app.switchyard.getBackend('primary'), app.switchyard.getBackend()])
  t.equal(a, b)
  t.equal(created, 1)
  await app.close()
  t.same(events, ['init:primary', 'ready:primary', 'close:consumer-hook', 'close:provider-hook', 'close:primary'])
})

t.test('backend lookups fail clearly; a failed init is closed and can be retried', async t => {
  const registry = new HookRegistry()
  await t.rejects(registry.getBackend(), { code: 'HOOK_NOT_FOUND', message: 'no backend is registered (add a backend plugin to the config)' })
  const events: string[] = []
  let attempt = 0
  registry.registerBackend('flaky', () => recordingBackend(events, `flaky${++attempt}`, attempt === 1))
  registry.registerBackend('other', recordingBackend(events, 'other'))
  await t.rejects(registry.getBackend(), { code: 'HOOK_NOT_FOUND', message: 'several backends are registered (flaky, other): name the one to use' })
  await t.rejects(registry.getBackend('nope'), { code: 'HOOK_NOT_FOUND', message: 'no backend named "nope" is registered (registered: flaky, other)' })
  await t.rejects(registry.getBackend('flaky'), { message: 'database is down' })
  t.equal((await registry.getBackend('flaky')).name, 'flaky2')
  t.throws(() => registry.registerBackend('other', recordingBackend(events, 'again')), { code: 'HOOK_DUPLICATE', message: 'backend "other" registered by (app) is already registered by (app)' })
  await registry.getBackend('other')
  await registry.close()
  t.same(events, ['init:flaky1', 'close:flaky1', 'init:flaky2', 'init:other', 'close:flaky2'], 'only factory-made backends are closed by the registry')
})

t.test('loadPlugins with no plugins still provides the registry', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  t.same(await loadPlugins(app, [], ctx), [])
  t.same(app.switchyard.backendNames(), [])
})
