// Every example config loads, and its plugins (the real built-in ones) accept their options.
import t from 'tap'
import { readdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import { loadConfig } from '../../core/config/load.ts'
import { ensureHookRegistry, loadPlugins } from '../../core/plugin/index.ts'

const dir = fileURLToPath(new URL('../../config/', import.meta.url))

t.test('example configs validate with their real plugins', async (t) => {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'))
  t.ok(files.length >= 4, `examples: ${files.join(', ')}`)
  for (const file of files) {
    const loaded = await loadConfig({ file: dir + file, env: {} })
    const app = Fastify({ logger: false })
    ensureHookRegistry(app)
    await loadPlugins(app, loaded.config.plugins, { config: loaded.config, configDir: loaded.configDir })
    await app.after()
    t.same(app.switchyard.backendNames().length, 1, `${file}: registers one backend`)
    t.equal(app.switchyard.metricsExporters().length, 1, `${file}: registers the metrics exporter`)
    await app.close()
  }
})
