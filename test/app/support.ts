import type { Test } from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSwitchyard, type Switchyard } from '../../core/index.ts'
import { dropSchema, testSchema, TEST_POSTGRES_URL } from '../../plugins/backend-postgres/test-support.ts'

/**
 * An application on its own schema of the Postgres server, with no worker loop (the
 * tasks stay where they were enqueued) and the given plugins beside the backend; the
 * test's teardown closes it and drops the schema.
 */
export async function openPostgresApp (t: Test, options: { name: string, plugins?: string[] }): Promise<Switchyard> {
  const dir = await mkdtemp(join(tmpdir(), `sy-${options.name}-`))
  const schema = testSchema()
  await writeFile(join(dir, 'switchyard.yaml'), [
    'plugins:',
    '  - name: backend-postgres',
    '    options:',
    `      connectionString: ${TEST_POSTGRES_URL}`,
    `      schema: ${schema}`,
    ...(options.plugins ?? []).map(name => `  - name: ${name}`),
    'worker:',
    '  enabled: false',
    ''
  ].join('\n'))
  const sy = await createSwitchyard({ configFile: join(dir, 'switchyard.yaml') })
  t.teardown(async () => {
    await sy.close()
    await dropSchema(schema)
    await rm(dir, { recursive: true, force: true })
  })
  return sy
}
