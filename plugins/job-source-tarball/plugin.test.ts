import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, loadPlugins } from '@switchyard/core'
import { ensureHookRegistry } from '@switchyard/core/plugin'
import { TarballJobSource } from './index.ts'
import { packedContext, serve, sha256, startTarballServer, testCertificates } from './test-support.ts'

const root = await mkdtemp(join(tmpdir(), 'sy-tarball-plugin-'))
t.teardown(() => rm(root, { recursive: true, force: true }))
let counter = 0

async function load (t: Test, options: Record<string, unknown>, env: Record<string, string> = {}) {
  const configDir = join(root, `c${++counter}`)
  await mkdir(configDir, { recursive: true })
  const { config } = await loadConfig({ env, cwd: configDir })
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  const registry = ensureHookRegistry(app)
  const loaded = await loadPlugins(app, [{ name: 'job-source-tarball', options }], { config, configDir })
  return { app, registry, loaded, configDir }
}

t.test('loads by built-in name and registers the source for both tarball kinds', async t => {
  const { registry, loaded, configDir } = await load(t, { hostAllowlist: ['localhost'], dir: 'tarballs', maxBytes: '1mb', timeout: '5s' })
  t.match(loaded, [{ name: 'job-source-tarball', version: '0.1.0', kind: 'builtin' }])
  const source = registry.getJobSource('tarball') as TarballJobSource
  t.ok(source instanceof TarballJobSource)
  t.same(source.kinds, ['tarball_url', 'tarball_path'])
  t.equal(source.options.dir, join(configDir, 'tarballs'), 'a relative dir is relative to the config dir')
  t.equal(source.options.maxBytes, 1024 * 1024)
  t.equal(source.options.timeoutMs, 5000)
  t.same(source.options.allowlist.entries, ['localhost'])
  t.equal(source.options.allowPrivateAddresses, false, 'private addresses stay refused unless asked for')
})

t.test('defaults without options and without a jobs config: nothing allowed, 64 MiB, 30 s, no directory', async t => {
  const { registry } = await load(t, {})
  const source = registry.getJobSource('tarball') as TarballJobSource
  t.same(source.options.allowlist.entries, [])
  t.equal(source.options.dir, null)
  t.equal(source.options.maxBytes, 64 * 1024 * 1024)
  t.equal(source.options.timeoutMs, 30_000)
  t.equal(source.options.maxEntries, 10_000)
})

t.test('caFile trusts a private CA: a fetch through the loaded plugin works end to end', async t => {
  const certs = await testCertificates()
  const server = await startTarballServer(t, certs)
  const context = await packedContext(root)
  server.routes.set('/ctx.tgz', serve(context))
  const caFile = join(root, `ca-${++counter}.pem`)
  await writeFile(caFile, certs.ca.cert)
  const { registry } = await load(t, { hostAllowlist: ['localhost'], allowPrivateAddresses: true, caFile })
  const destDir = await mkdtemp(join(root, 'dest-'))
  const fetched = await registry.getJobSource('tarball').fetch({ kind: 'tarball_url', tarballUrl: server.url('/ctx.tgz'), tarballSha256: sha256(context), destDir, signal: AbortSignal.timeout(30_000) })
  t.equal(fetched.sha256, sha256(context))
  t.equal(await readFile(join(fetched.dir, 'hello.txt'), 'utf8'), 'hello from a tarball\n')
})

t.test('bad options fail loading naming the field', async t => {
  await t.rejects(load(t, { maxBytes: 'lots' }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.maxBytes/ })
  await t.rejects(load(t, { timeout: 'soon' }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.timeout/ })
  await t.rejects(load(t, { hostAllowlist: 'localhost' }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.hostAllowlist/ })
  await t.rejects(load(t, { allowAddresses: ['not-an-ip'] }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.allowAddresses\[0\]/ })
  await t.rejects(load(t, { caFile: join(root, 'missing.pem') }), { code: 'PLUGIN_OPTIONS_INVALID', message: /caFile .* cannot be read/ })
  await t.rejects(load(t, { follow: true }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.follow/ })
})
