import { PGlite } from '@electric-sql/pglite'
import { applyWasmTiering, PGLITE_SERVER_SETTINGS } from './pglite-settings.ts'

// Opening PGlite: the same steps on the main thread and in the database thread
// (pglite-worker.ts). Nothing here loads @switchyard/core, so the thread starts
// with PGlite and these few files only.

export interface PgliteOpenOptions {
  /** a directory, or null for an in-memory database */
  dir: string | null
  /** session settings (set_config) applied once open */
  settings: Record<string, string>
  optimizeWasm: boolean
}

/** Opens PGlite with Switchyard's server and session settings; closes it again when a setting fails. */
export async function openPglite (options: PgliteOpenOptions): Promise<PGlite> {
  applyWasmTiering(options.optimizeWasm)
  const startParams = [...PGlite.defaultStartParams, ...Object.entries(PGLITE_SERVER_SETTINGS).flatMap(([key, value]) => ['-c', `${key}=${value}`])]
  const db = options.dir === null ? new PGlite({ startParams }) : new PGlite(options.dir, { startParams })
  try {
    await db.waitReady
    for (const [key, value] of Object.entries(options.settings)) {
      await db.query('SELECT set_config($1, $2, false)', [key, value])
    }
  } catch (err) {
    await db.close().catch(() => {})
    throw err
  }
  return db
}
