import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import type * as pg from 'pg'
import { Errors, isSwitchyardError } from '@switchyard/core'
import type { SqlClient, SqlParam, SqlQueryable } from './sql-client.ts'

// SqlClient over a pg Pool. Queries run as named prepared statements so the hot
// path (lease, ack, enqueue) is parsed and planned once per connection. Array
// parameters are written here (arrayLiteral), the same text node-postgres would send:
// an enqueue of 1,000 tasks sends a dozen arrays of 1,000 values, and node-postgres'
// per-element conversion and escaping cost about 1.2 µs of client CPU per task there
// (bench/README.md, "Postgres at 20k tasks").

let pgModule: typeof pg | null = null

/** pg, loaded when a server connection is first made: a process on embedded PGlite never loads it */
function loadPg (): typeof pg {
  pgModule ??= createRequire(import.meta.url)('pg') as typeof pg
  return pgModule
}

export interface PgClientOptions {
  connectionString: string
  poolSize: number
  statementTimeoutMs: number
  /** session settings applied to every connection (custom GUCs read by triggers) */
  settings: Record<string, string>
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', '57P01', '57P03', '08006', '08001', '08003'])
const QUERY_CANCELED = '57014'

function translateError (err: unknown): unknown {
  if (isSwitchyardError(err)) return err
  const code = (err as { code?: unknown } | null)?.code
  const message = (err as Error | null)?.message ?? String(err)
  if (code === QUERY_CANCELED) return Errors.backendTimeout(`postgres: ${message}`, { cause: err })
  if (typeof code === 'string' && CONNECTION_ERRORS.has(code)) return Errors.backendUnavailable(`postgres: ${message}`, { cause: err })
  if (/Connection terminated|timeout exceeded when trying to connect|Query read timeout/i.test(message)) {
    return Errors.backendUnavailable(`postgres: ${message}`, { cause: err })
  }
  return err
}

const statementNames = new Map<string, string>()
function statementName (text: string): string {
  let name = statementNames.get(text)
  if (name === undefined) {
    name = 'sy_' + createHash('sha1').update(text).digest('hex').slice(0, 24)
    // bounded: dynamic listing queries have a finite number of shapes, but stay safe
    if (statementNames.size < 5000) statementNames.set(text, name)
  }
  return name
}

const NEEDS_ESCAPE = /["\\]/

/**
 * A one-dimensional array of strings, numbers and nulls as the array literal node-postgres
 * writes for it (its prepareValue: every element quoted, `\\` and `"` escaped, null and
 * undefined as NULL), built in one pass: the enqueue sends a dozen such arrays of 1,000
 * values. null for any other array (nested, Dates, Buffers, objects, booleans), which is
 * left to node-postgres.
 */
export function arrayLiteral (values: readonly unknown[]): string | null {
  const parts = new Array<string>(values.length)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v === null || v === undefined) parts[i] = 'NULL'
    else if (typeof v === 'string') parts[i] = NEEDS_ESCAPE.test(v) ? '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"' : '"' + v + '"'
    else if (typeof v === 'number') parts[i] = '"' + String(v) + '"'
    else return null
  }
  return '{' + parts.join(',') + '}'
}

/** the parameters with their arrays as literals (arrayLiteral), where it can write them */
function encodeParams (params: readonly SqlParam[]): unknown[] {
  const out = new Array<unknown>(params.length)
  for (let i = 0; i < params.length; i++) {
    const p = params[i]
    out[i] = Array.isArray(p) ? (arrayLiteral(p) ?? p) : p
  }
  return out
}

async function run<R> (queryable: pg.Pool | pg.PoolClient | pg.Client, text: string, params: readonly SqlParam[] | undefined): Promise<R[]> {
  try {
    const result = params === undefined
      ? await queryable.query(text)
      : await queryable.query({ name: statementName(text), text, values: encodeParams(params) })
    return result.rows as R[]
  } catch (err) {
    throw translateError(err)
  }
}

function connectionConfig (options: PgClientOptions): pg.PoolConfig {
  const settings = Object.entries(options.settings).map(([k, v]) => `-c ${k}=${v}`).join(' ')
  return {
    connectionString: options.connectionString,
    statement_timeout: options.statementTimeoutMs,
    idle_in_transaction_session_timeout: Math.max(options.statementTimeoutMs * 2, 10_000),
    // the server-side timeout covers slow statements; this covers a silent network
    query_timeout: options.statementTimeoutMs + 5000,
    connectionTimeoutMillis: Math.max(options.statementTimeoutMs, 5000),
    options: settings === '' ? undefined : settings,
    application_name: 'switchyard'
  }
}

/**
 * A checked-out connection's 'error' (its socket lost, or ended after a read timeout):
 * the statement in flight fails with it and the connection leaves the pool on release,
 * so there is nothing more to do; pg-pool listens only while the connection is idle, and
 * an 'error' nobody listens to would end the process.
 */
function ignoreConnectionError (): void {}

export function createPgClient (options: PgClientOptions): SqlClient {
  const config = connectionConfig(options)
  const pool = new (loadPg().Pool)({ ...config, max: options.poolSize, idleTimeoutMillis: 30_000 })
  // an idle client that loses its connection emits here; without a handler the process dies
  pool.on('error', () => {})
  const listener = new PgListener(config)

  return {
    kind: 'postgres',
    query: async (text, params) => await run(pool, text, params ?? []),
    exec: async text => { await run(pool, text, undefined) },
    async transaction (fn) {
      let conn: pg.PoolClient
      try { conn = await pool.connect() } catch (err) { throw translateError(err) }
      conn.on('error', ignoreConnectionError)
      const release = (err?: Error): void => {
        // after release the pool listens again, and the connection may go to another caller
        conn.removeListener('error', ignoreConnectionError)
        conn.release(err)
      }
      const tx: SqlQueryable = {
        query: async (text, params) => await run(conn, text, params ?? []),
        exec: async text => { await run(conn, text, undefined) }
      }
      try {
        await run(conn, 'BEGIN', undefined)
        const result = await fn(tx)
        await run(conn, 'COMMIT', undefined)
        release()
        return result
      } catch (err) {
        // A lost or silent connection (pg's read timeout leaves its statement in flight)
        // cannot roll back: a ROLLBACK would wait out a second read timeout behind it. The
        // server rolls back when the connection closes, which releasing with the error does.
        if (isSwitchyardError(err) && err.code === 'BACKEND_UNAVAILABLE') {
          release(err)
          throw err
        }
        try {
          await conn.query('ROLLBACK')
          release()
        } catch (rollbackErr) {
          release(rollbackErr as Error)
        }
        throw err
      }
    },
    listen: async (channel, onNotify) => await listener.listen(channel, onNotify),
    async close () {
      await listener.close()
      await pool.end()
    }
  }
}

/**
 * One dedicated connection for LISTEN (a pooled one would be handed to other
 * queries). Reconnects with backoff when the connection drops; notifications sent
 * while it was down are lost, which is fine because every consumer also polls.
 */
class PgListener {
  private client: pg.Client | null = null
  private connecting: Promise<pg.Client> | null = null
  private readonly channels = new Map<string, Set<(payload: string) => void>>()
  private closed = false
  private retryTimer: NodeJS.Timeout | null = null
  private retryDelayMs = 100

  constructor (private readonly config: pg.ClientConfig) {}

  async listen (channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    let callbacks = this.channels.get(channel)
    const first = callbacks === undefined
    if (callbacks === undefined) {
      callbacks = new Set()
      this.channels.set(channel, callbacks)
    }
    callbacks.add(onNotify)
    try {
      const client = await this.connect()
      if (first) await run(client, `LISTEN ${quoteIdent(channel)}`, undefined)
    } catch (err) {
      callbacks.delete(onNotify)
      if (callbacks.size === 0) this.channels.delete(channel)
      throw err
    }
    return async () => {
      const set = this.channels.get(channel)
      if (set === undefined || !set.delete(onNotify) || set.size > 0) return
      this.channels.delete(channel)
      if (this.client !== null) await run(this.client, `UNLISTEN ${quoteIdent(channel)}`, undefined).catch(() => {})
      if (this.channels.size === 0) await this.disconnect()
    }
  }

  private async connect (): Promise<pg.Client> {
    if (this.client !== null) return this.client
    if (this.connecting !== null) return await this.connecting
    this.connecting = (async () => {
      // A second round only when a listen() joined this connect while its client was
      // being ended for want of channels: that caller needs a connection after all.
      for (let round = 0; ; round++) {
        const client = new (loadPg().Client)(this.config)
        client.on('notification', msg => {
          for (const cb of this.channels.get(msg.channel) ?? []) cb(msg.payload ?? '')
        })
        client.on('error', () => { this.dropped(client) })
        client.on('end', () => { this.dropped(client) })
        try {
          await client.connect()
        } catch (err) {
          throw translateError(err)
        }
        // Closed, or every channel unlistened, while this connect (a reconnect after a
        // drop, most often) was under way: nobody would end this client, and its socket
        // would keep the process alive.
        if (this.closed || this.channels.size === 0) {
          await client.end().catch(() => {})
          if (round === 0 && !this.closed && this.channels.size > 0) continue
          throw Errors.backendUnavailable('postgres: the notification listener closed while it connected')
        }
        this.client = client
        this.retryDelayMs = 100
        return client
      }
    })()
    try {
      return await this.connecting
    } finally {
      this.connecting = null
    }
  }

  private dropped (client: pg.Client): void {
    if (this.client !== client) return
    this.client = null
    client.end().catch(() => {})
    this.scheduleReconnect()
  }

  private scheduleReconnect (): void {
    if (this.closed || this.channels.size === 0 || this.retryTimer !== null) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      void this.relisten()
    }, this.retryDelayMs)
    this.retryTimer.unref()
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, 5000)
  }

  private async relisten (): Promise<void> {
    try {
      const client = await this.connect()
      for (const channel of this.channels.keys()) await run(client, `LISTEN ${quoteIdent(channel)}`, undefined)
    } catch {
      this.scheduleReconnect()
    }
  }

  private async disconnect (): Promise<void> {
    const client = this.client
    this.client = null
    if (client !== null) await client.end().catch(() => {})
  }

  async close (): Promise<void> {
    this.closed = true
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    this.channels.clear()
    // a connect under way ends its own client once it sees closed (see connect)
    await this.connecting?.catch(() => {})
    await this.disconnect()
  }
}

export function quoteIdent (name: string): string {
  return '"' + name.replace(/"/g, '""') + '"'
}
