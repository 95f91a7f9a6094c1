import { encodeRecordValue, MAX_LIST_LIMIT, type Backend, type StoredRecord } from '@switchyard/core'
import type { BackendContext } from './context.ts'

// Records and claims (migration 002). Every write is one statement, so
// compare-and-set and claim-once are atomic without explicit transactions.

type RecordMethods = Pick<Backend, 'putRecord' | 'getRecord' | 'listRecords' | 'deleteRecord' | 'claimOnce'>

interface RecordRow { key: string, value: string, version: number, updated_at: number }

/** expired claims removed per claim call, so the table never needs a sweeper of its own */
const CLAIM_GC_BATCH = 100

const toRecord = (row: RecordRow): StoredRecord => ({ key: row.key, value: JSON.parse(row.value) as unknown, version: row.version, updatedAt: row.updated_at })

export function recordMethods (ctx: BackendContext): RecordMethods {
  const { s } = ctx
  const columns = `key, value::text AS value, version::float8 AS version, ${s}.ms(updated_at) AS updated_at`

  const upsertSql = `
    INSERT INTO ${s}.records AS r (collection, key, value, version, updated_at) VALUES ($1, $2, $3::jsonb, 1, now())
    ON CONFLICT (collection, key) DO UPDATE SET value = excluded.value, version = r.version + 1, updated_at = excluded.updated_at
    RETURNING ${columns}`
  const insertSql = `
    INSERT INTO ${s}.records (collection, key, value, version, updated_at) VALUES ($1, $2, $3::jsonb, 1, now())
    ON CONFLICT (collection, key) DO NOTHING
    RETURNING ${columns}`
  const updateSql = `
    UPDATE ${s}.records SET value = $3::jsonb, version = version + 1, updated_at = now()
    WHERE collection = $1 AND key = $2 AND version = $4
    RETURNING ${columns}`
  // A claim that expired is taken over by the next claimer; a few long-expired rows
  // are removed on the way (never the key being claimed: one statement must not touch a row twice).
  const claimSql = `
    WITH gc AS (
      DELETE FROM ${s}.claims WHERE key IN (
        SELECT key FROM ${s}.claims WHERE expires_at < now() - interval '1 minute' AND key <> $1 ORDER BY expires_at LIMIT ${CLAIM_GC_BATCH}
      )
    )
    INSERT INTO ${s}.claims AS c (key, expires_at) VALUES ($1, now() + $2 * interval '1 millisecond')
    ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE c.expires_at <= now()
    RETURNING key`

  async function current (collection: string, key: string): Promise<StoredRecord | null> {
    const [row] = await ctx.db().query<RecordRow>(`SELECT ${columns} FROM ${s}.records WHERE collection = $1 AND key = $2`, [collection, key])
    return row === undefined ? null : toRecord(row)
  }

  return {
    async putRecord (collection, key, value, options) {
      const json = encodeRecordValue(value)
      const ifVersion = options?.ifVersion
      const [row] = ifVersion === undefined
        ? await ctx.db().query<RecordRow>(upsertSql, [collection, key, json])
        : ifVersion === null
          ? await ctx.db().query<RecordRow>(insertSql, [collection, key, json])
          : await ctx.db().query<RecordRow>(updateSql, [collection, key, json, ifVersion])
      if (row !== undefined) return { ok: true, record: toRecord(row) }
      return { ok: false, current: await current(collection, key) }
    },

    async getRecord (collection, key) {
      return await current(collection, key)
    },

    async listRecords (collection, req) {
      const limit = Math.min(req.limit, MAX_LIST_LIMIT)
      const after = req.afterKey ?? null
      if (limit === 0) return []
      const rows = after === null
        ? await ctx.db().query<RecordRow>(`SELECT ${columns} FROM ${s}.records WHERE collection = $1 ORDER BY key LIMIT $2`, [collection, limit])
        : await ctx.db().query<RecordRow>(`SELECT ${columns} FROM ${s}.records WHERE collection = $1 AND key > $2 ORDER BY key LIMIT $3`, [collection, after, limit])
      return rows.map(toRecord)
    },

    async deleteRecord (collection, key, options) {
      const ifVersion = options?.ifVersion
      const rows = typeof ifVersion === 'number'
        ? await ctx.db().query(`DELETE FROM ${s}.records WHERE collection = $1 AND key = $2 AND version = $3 RETURNING key`, [collection, key, ifVersion])
        : await ctx.db().query(`DELETE FROM ${s}.records WHERE collection = $1 AND key = $2 RETURNING key`, [collection, key])
      return rows.length > 0
    },

    async claimOnce (key, ttlMs) {
      const rows = await ctx.db().query(claimSql, [key, ttlMs])
      return rows.length > 0
    }
  }
}
