import t from 'tap'
import { tmpdir } from 'node:os'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { CONFIG_SCHEMA_PATH, renderConfigJsonSchema } from '../scripts/gen-config-schema.ts'
import { ConfigSchema } from './schema.ts'
import { loadConfig } from './load.ts'
import { parseByteSize, parseDuration } from './units.ts'

t.test('config/schema.json matches the TypeBox schema', async t => {
  const committed = await readFile(CONFIG_SCHEMA_PATH, 'utf8')
  t.equal(committed, renderConfigJsonSchema(), 'regenerate with: node --import tsx core/scripts/gen-config-schema.ts')
})

t.test('the file schema leaves defaulted keys optional and keeps truly required ones', async t => {
  const schema = JSON.parse(renderConfigJsonSchema())
  t.equal(schema.required, undefined)
  t.same(schema.properties.plugins.items.required, ['name'])
  t.same(schema.properties.worker.properties.rateLimit.required, ['limit', 'window'])
  t.equal(schema.properties.worker.required, undefined)
})

t.test('every key has a description', async t => {
  const missing: string[] = []
  const visit = (node: Record<string, unknown>, path: string): void => {
    const properties = node.properties as Record<string, Record<string, unknown>> | undefined
    for (const [key, child] of Object.entries(properties ?? {})) {
      if (typeof child.description !== 'string' || child.description === '') missing.push(`${path}${key}`)
      visit(child, `${path}${key}.`)
    }
    for (const nested of [node.items, ...Object.values((node.patternProperties ?? {}) as Record<string, unknown>)]) {
      if (nested !== null && typeof nested === 'object') visit(nested as Record<string, unknown>, `${path}*.`)
    }
  }
  visit(ConfigSchema as unknown as Record<string, unknown>, '')
  t.same(missing, [])
})

t.test('the example configs load', async t => {
  for (const name of ['embedded.yaml', 'postgres.yaml']) {
    const file = fileURLToPath(new URL(`../../config/${name}`, import.meta.url))
    const { config } = await loadConfig({ file, env: {} })
    t.ok(config.plugins.length > 0, name)
  }
  // From any working directory: the same data directory, plugins and every other value.
  const cwd = tmpdir()
  const embedded = await loadConfig({ file: fileURLToPath(new URL('../../config/embedded.yaml', import.meta.url)), env: {}, cwd })
  const defaults = await loadConfig({ env: {}, cwd })
  t.same(embedded.config, defaults.config, 'embedded.yaml spells out the no-file defaults')
  t.same(embedded.effective, defaults.effective, 'and prints as the same effective config')
  const postgres = await loadConfig({ file: fileURLToPath(new URL('../../config/postgres.yaml', import.meta.url)), env: {} })
  t.same(postgres.config.plugins, [{ name: 'backend-postgres', options: { connectionString: 'postgres://postgres@127.0.0.1:5432/test' } }, { name: 'metrics', options: {} }])
})

t.test('duration and byte size spellings', async t => {
  const durations: Array<[unknown, number | null]> = [
    ['500ms', 500], ['30s', 30_000], ['5m', 300_000], ['1h30m', 5_400_000], ['7d', 604_800_000], ['1d2h3m4s5ms', 93_784_005],
    [0, 0], [1500, 1500], ['7 dayz', null], ['', null], ['1.5s', null], ['s', null], [-1, null], [1.5, null], ['30', null], [null, null]
  ]
  for (const [input, expected] of durations) t.equal(parseDuration(input), expected, `duration ${JSON.stringify(input)}`)
  const sizes: Array<[unknown, number | null]> = [
    ['1kb', 1024], ['64mb', 64 * 1024 * 1024], ['64MiB', 64 * 1024 * 1024], ['2GB', 2 * 1024 ** 3], ['10b', 10], [4096, 4096],
    ['3 mb', null], ['mb', null], ['1tb', null], [-5, null]
  ]
  for (const [input, expected] of sizes) t.equal(parseByteSize(input), expected, `size ${JSON.stringify(input)}`)
})
