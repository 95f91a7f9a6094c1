// The whole process, as configured: a Postgres server whose audit table refuses
// inserts, the metrics plugin and the archive. A mutation is still archived, and the
// failed backend write shows in switchyard_audit_write_failures_total.
import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSwitchyard } from '../../core/index.ts'
import { dropSchema, testSchema, TEST_POSTGRES_URL, withRawClient } from '../../plugins/backend-postgres/test-support.ts'
import { listArchiveFiles } from '../../plugins/audit-file/index.ts'
import { readLines } from '../../plugins/audit-file/test-support.ts'

t.test('a backend audit store that refuses writes: archived anyway, and counted in the metrics', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-audit-metrics-'))
  const schema = testSchema()
  t.teardown(async () => {
    await dropSchema(schema)
    await rm(dir, { recursive: true, force: true })
  })
  await writeFile(join(dir, 'switchyard.yaml'), [
    'plugins:',
    '  - name: backend-postgres',
    `    options: { connectionString: "${TEST_POSTGRES_URL}", schema: ${schema} }`,
    '  - name: metrics',
    'worker: { enabled: false }',
    'admin:',
    '  audit: { archiveDir: archive, archiveInterval: 1h }',
    ''
  ].join('\n'))
  const sy = await createSwitchyard({ configFile: join(dir, 'switchyard.yaml'), env: {} })
  t.teardown(async () => { await sy.close() })
  await sy.start()
  await withRawClient(async client => {
    await client.query(`CREATE FUNCTION "${schema}".refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit store is read-only'; END $$`)
    await client.query(`CREATE TRIGGER refuse_audit BEFORE INSERT ON "${schema}".audit FOR EACH ROW EXECUTE FUNCTION "${schema}".refuse_audit()`)
  })

  await sy.admin.PauseDequeue({}, { actor: 'CN=frank', requestId: 'refused-by-store' })
  const prometheus = await sy.admin.GetMetrics({ format: 'prometheus' }, { actor: 'CN=frank', requestId: 'metrics' })
  t.match(prometheus.body, /^switchyard_audit_write_failures_total\{destination="backend"\} 1$/m)

  await sy.close()
  const files = await listArchiveFiles(join(dir, 'archive'))
  const lines = files.length === 1 ? await readLines(files[0]?.path as string) : []
  t.match(lines, [{ action: 'dequeue.pause', actor: 'CN=frank', requestId: 'refused-by-store', outcome: 'ok' }], 'the archive has the record the backend refused')
})
