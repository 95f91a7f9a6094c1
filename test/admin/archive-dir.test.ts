import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSwitchyard } from '../../core/index.ts'
import { checkConfig } from '../../core/config/check.ts'
import { listArchiveFiles } from '../../plugins/audit-file/index.ts'
import { readLines } from '../../plugins/audit-file/test-support.ts'

// WORKER_ADMIN_AUDIT_ARCHIVE_DIR on its own (no audit-file plugin in the config) is an
// archive: the audit-file plugin is loaded for it and every audit event lands there.

t.test('WORKER_ADMIN_AUDIT_ARCHIVE_DIR alone archives every audit event', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-archive-env-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const archive = join(dir, 'archive')
  const env = { SWITCHYARD_DATA_DIR: join(dir, 'data'), WORKER_ADMIN_AUDIT_ARCHIVE_DIR: archive, WORKER_ADMIN_AUDIT_ARCHIVE_INTERVAL: '1h' }

  const effective = (await checkConfig(undefined, env)).config as { plugins: Array<{ name: string }> }
  t.same(effective.plugins.map(plugin => plugin.name), ['backend-postgres', 'metrics', 'admin-console', 'audit-file'], 'config check shows the archive plugin it implies')

  const sy = await createSwitchyard({ env, worker: false, demo: false })
  await sy.start()
  await sy.admin.PauseDequeue({}, { actor: 'CN=archivist', requestId: 'archived-by-env' })
  await sy.admin.ResumeDequeue({}, { actor: 'CN=archivist', requestId: 'archived-by-env-2' })
  // Closing flushes the archive (the interval is an hour, so nothing was written before).
  await sy.close()
  const files = await listArchiveFiles(archive)
  t.equal(files.length, 1)
  const lines = await readLines(files[0]?.path as string)
  t.match(lines, [
    { action: 'dequeue.pause', actor: 'CN=archivist', requestId: 'archived-by-env', outcome: 'ok' },
    { action: 'dequeue.resume', actor: 'CN=archivist', requestId: 'archived-by-env-2', outcome: 'ok' }
  ])
})

t.test('a config that names the audit-file plugin itself gets it once', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-archive-cfg-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'switchyard.yaml')
  await writeFile(file, 'plugins:\n  - name: backend-postgres\n    options: { embedded: {} }\n  - name: audit-file\n    options: { dir: elsewhere }\n')
  const effective = (await checkConfig(file, { WORKER_ADMIN_AUDIT_ARCHIVE_DIR: join(dir, 'archive') })).config as { plugins: Array<{ name: string, options: unknown }> }
  t.same(effective.plugins, [{ name: 'backend-postgres', options: { embedded: {} } }, { name: 'audit-file', options: { dir: 'elsewhere' } }])
})
