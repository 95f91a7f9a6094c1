import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, loadPlugins } from '@switchyard/core'
import { ensureHookRegistry } from '@switchyard/core/plugin'
import { GitJobSource } from './index.ts'

const root = await mkdtemp(join(tmpdir(), 'sy-git-plugin-'))
t.teardown(() => rm(root, { recursive: true, force: true }))

async function load (t: Test, options: Record<string, unknown>) {
  const { config } = await loadConfig({ env: {}, cwd: root })
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  const registry = ensureHookRegistry(app)
  const loaded = await loadPlugins(app, [{ name: 'job-source-git', options }], { config, configDir: root })
  return { registry, loaded, config }
}

t.test('loads by built-in name and registers the git source for git_tag', async t => {
  const { registry, loaded } = await load(t, { repoAllowlist: ['https://git.example.com/'], timeout: '5s', maxBytes: '1mb', maxFiles: 10, caFile: 'ca.pem', gitBin: '/usr/bin/git' })
  t.match(loaded, [{ name: 'job-source-git', version: '0.1.0', kind: 'builtin' }])
  const [source, ...rest] = registry.jobSources()
  t.equal(rest.length, 0)
  t.ok(source instanceof GitJobSource)
  t.same(source?.kinds, ['git_tag'])
  t.match((source as GitJobSource).options, { repoAllowlist: ['https://git.example.com/'], gitBin: '/usr/bin/git', timeoutMs: 5000, maxBytes: 1024 * 1024, maxFiles: 10, caFile: join(root, 'ca.pem') })
})

t.test('defaults: nothing allowed, git on PATH, 60 s, 256 MiB', async t => {
  const { registry, config } = await load(t, {})
  const source = registry.jobSources()[0] as GitJobSource
  const jobs = (config as unknown as { jobs?: { repoAllowlist: string[], gitBin: string } }).jobs
  t.match(source.options, { repoAllowlist: jobs?.repoAllowlist ?? [], gitBin: jobs?.gitBin ?? 'git', timeoutMs: 60_000, maxBytes: 256 * 1024 * 1024, maxFiles: 50_000 })
})

t.test('bad options fail loading naming the field', async t => {
  await t.rejects(load(t, { timeout: 'soon' }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.timeout/ })
  await t.rejects(load(t, { repoAllowlist: 'https://x/' }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.repoAllowlist/ })
  await t.rejects(load(t, { depth: 2 }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.depth/ })
})
