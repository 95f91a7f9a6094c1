import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, loadPlugins } from '@switchyard/core'
import { ensureHookRegistry } from '@switchyard/core/plugin'
import { FileAuditSink, listArchiveFiles } from './index.ts'
import { auditEvent, readLines, waitFor } from './test-support.ts'

const root = await mkdtemp(join(tmpdir(), 'sy-audit-plugin-'))
t.teardown(() => rm(root, { recursive: true, force: true }))
let counter = 0

async function load (t: Test, options: Record<string, unknown>, env: Record<string, string> = {}) {
  const configDir = join(root, `c${++counter}`)
  const { config } = await loadConfig({ env, cwd: configDir })
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  const registry = ensureHookRegistry(app)
  const loaded = await loadPlugins(app, [{ name: 'audit-file', options }], { config, configDir })
  return { app, registry, loaded, configDir }
}

t.test('loads by built-in name; a relative dir is relative to the config dir; closing the app flushes', async t => {
  const { app, registry, loaded, configDir } = await load(t, { dir: 'archive', flushInterval: '1h' })
  t.match(loaded, [{ name: 'audit-file', version: '0.1.0', kind: 'builtin' }])
  const [sink, ...rest] = registry.auditSinks()
  t.equal(rest.length, 0)
  t.ok(sink instanceof FileAuditSink)
  t.equal((sink as FileAuditSink).dir, join(configDir, 'archive'))
  for (let i = 0; i < 5; i++) await sink?.write(auditEvent(i))
  t.same(await listArchiveFiles(join(configDir, 'archive')), [], 'nothing written before a flush')
  await app.ready()
  await app.close()
  const files = await listArchiveFiles(join(configDir, 'archive'))
  t.equal(files.length, 1)
  t.same((await readLines(files[0]!.path)).map(e => e.id), ['00000000', '00000001', '00000002', '00000003', '00000004'])
})

t.test('dir and flush interval default to WORKER_ADMIN_AUDIT_ARCHIVE_DIR and _INTERVAL', async t => {
  const { registry, configDir } = await load(t, {}, { WORKER_ADMIN_AUDIT_ARCHIVE_DIR: 'from-env', WORKER_ADMIN_AUDIT_ARCHIVE_INTERVAL: '50ms' })
  const sink = registry.auditSinks()[0] as FileAuditSink
  t.equal(sink.dir, join(configDir, 'from-env'))
  await sink.write(auditEvent(1))
  await waitFor(() => sink.buffered === 0, 5000, 'a flush by the configured interval')
  t.equal((await listArchiveFiles(sink.dir)).length, 1)
})

t.test('no directory anywhere fails loading with a clear options error', async t => {
  await t.rejects(load(t, {}), { code: 'PLUGIN_OPTIONS_INVALID', message: /audit-file" needs a directory: set its options\.dir, or admin\.audit\.archiveDir/ })
})

t.test('bad options fail loading naming the field', async t => {
  await t.rejects(load(t, { dir: 'a', retention: 'soon' }), { code: 'PLUGIN_OPTIONS_INVALID', message: /plugins\[0\]\(audit-file\)\.options\.retention/ })
  await t.rejects(load(t, { dir: 'a', maxFileBytes: '12 parsecs' }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.maxFileBytes/ })
  await t.rejects(load(t, { dir: 'a', rotate: true }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.rotate/ })
})

t.test('maxFileBytes and retention options reach the sink', async t => {
  const { registry } = await load(t, { dir: 'archive', maxFileBytes: '1kb', retentionFiles: 1, flushInterval: 3_600_000 })
  const sink = registry.auditSinks()[0] as FileAuditSink
  for (let i = 0; i < 40; i++) await sink.write(auditEvent(i))
  await sink.flush()
  const files = await listArchiveFiles(sink.dir)
  t.equal(files.length, 2, 'one finished file kept beside the one being written')
  const lines = [...await readLines(files[0]!.path), ...await readLines(files[1]!.path)]
  t.equal(lines.at(-1)?.id, '00000039')
})
