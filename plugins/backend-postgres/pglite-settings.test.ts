// PGlite opens with Switchyard's server settings (a small shared buffer pool), on a
// data directory and in memory alike.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createPgliteClient, PGLITE_SERVER_SETTINGS } from './pglite-client.ts'

for (const where of ['data directory', 'memory'] as const) {
  t.test(`PGlite on a ${where} runs with the server settings`, { timeout: 120_000 }, async t => {
    const dir = where === 'memory' ? undefined : mkdtempSync(join(tmpdir(), 'sy-pglite-settings-'))
    t.teardown(() => { if (dir !== undefined) rmSync(dir, { recursive: true, force: true }) })
    const client = await createPgliteClient({ dataDir: dir, statementTimeoutMs: 30_000, settings: { 'switchyard.notify': 'off' } })
    t.teardown(() => client.close())
    for (const [name, value] of Object.entries(PGLITE_SERVER_SETTINGS)) {
      const [row] = await client.query<{ setting: string }>(`SELECT current_setting($1) AS setting`, [name])
      t.equal(row?.setting, value, `${name} = ${value}`)
    }
    const [session] = await client.query<{ setting: string }>(`SELECT current_setting('switchyard.notify') AS setting`)
    t.equal(session?.setting, 'off', 'session settings still apply')
  })
}
