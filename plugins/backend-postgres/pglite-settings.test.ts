// PGlite opens with Switchyard's server settings (a small shared buffer pool), on a
// data directory and in memory alike, with the WebAssembly compiled as asked.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { applyWasmTiering, createPgliteClient, PGLITE_SERVER_SETTINGS } from './pglite-client.ts'
import { resolveOptions } from './options.ts'

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

// V8's baseline-only setting (the default) and tiering up (optimizeWasm) both open
// and run Postgres; the option is checked like every other one.
for (const optimizeWasm of [false, true]) {
  t.test(`PGlite opens and answers with optimizeWasm ${String(optimizeWasm)}`, { timeout: 120_000 }, async t => {
    const client = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 30_000, settings: {}, optimizeWasm })
    t.teardown(async () => { await client.close(); applyWasmTiering(false) })
    const [row] = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM generate_series(1, 1000)')
    t.equal(row?.n, 1000)
  })
}

t.test('embedded.optimizeWasm is a boolean option, false unless asked for', async t => {
  t.equal(resolveOptions({ embedded: {} }).optimizeWasm, false)
  t.equal(resolveOptions({ embedded: { optimizeWasm: true } }).optimizeWasm, true)
  t.throws(() => resolveOptions({ embedded: { optimizeWasm: 'yes' as unknown as boolean } }), { code: 'VALIDATION_FAILED', message: /options\.embedded\.optimizeWasm/ })
})
