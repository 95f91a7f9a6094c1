import {
  encodeRecordValue, MAX_LIST_LIMIT,
  type ListRecordsRequest, type PutRecordOptions, type PutRecordResult, type StoredRecord
} from '@switchyard/core'
import type { RedisClient } from './connection.ts'
import type { Keys } from './keys.ts'
import type { ScriptArg } from './scripts.ts'

// Records: one hash per collection (key -> "version:updatedAt:json") plus a zset of
// its keys for ordered paging; every write is one script, so compare-and-set is
// atomic. Claims are plain SET NX PX keys: Redis expires them on its own clock.
// The BullMQ backend keeps its records the same way under its own keys and reuses
// this class with its own way of running the three scripts. Arguments arrive checked
// by core (core/backend/arguments.ts).

/** runs the records_<op> script (lua/records_put.lua …) with these keys and arguments */
export type RecordScriptRunner = (op: 'put' | 'list' | 'delete', keys: string[], args: ScriptArg[]) => Promise<unknown>
export type RecordKeys = Pick<Keys, 'records' | 'recordIndex' | 'claim'>

function decode (key: string, stored: string): StoredRecord {
  const first = stored.indexOf(':')
  const second = stored.indexOf(':', first + 1)
  return {
    key,
    version: Number(stored.slice(0, first)),
    updatedAt: Number(stored.slice(first + 1, second)),
    value: JSON.parse(stored.slice(second + 1)) as unknown
  }
}

export class RedisRecords {
  constructor (private readonly client: RedisClient, private readonly keys: RecordKeys, private readonly script: RecordScriptRunner) {}

  async put (collection: string, key: string, value: unknown, options?: PutRecordOptions): Promise<PutRecordResult> {
    const json = encodeRecordValue(value)
    const ifVersion = options?.ifVersion
    const mode = ifVersion === undefined ? 'any' : ifVersion === null ? 'absent' : 'version'
    const reply = await this.script('put', [this.keys.records(collection), this.keys.recordIndex(collection)],
      [key, json, mode, ifVersion ?? '']) as Array<string | number>
    if (reply[0] === 1) {
      return { ok: true, record: { key, value: JSON.parse(json) as unknown, version: Number(reply[1]), updatedAt: Number(reply[2]) } }
    }
    if (reply.length === 1) return { ok: false, current: null }
    return { ok: false, current: { key, version: Number(reply[1]), updatedAt: Number(reply[2]), value: JSON.parse(String(reply[3])) as unknown } }
  }

  async get (collection: string, key: string): Promise<StoredRecord | null> {
    const stored = await this.client.hget(this.keys.records(collection), key)
    return stored === null ? null : decode(key, stored)
  }

  async list (collection: string, req: ListRecordsRequest): Promise<StoredRecord[]> {
    const limit = Math.min(req.limit, MAX_LIST_LIMIT)
    const after = req.afterKey ?? ''
    if (limit === 0) return []
    const flat = await this.script('list', [this.keys.records(collection), this.keys.recordIndex(collection)], [after, limit]) as string[]
    const out: StoredRecord[] = []
    for (let i = 0; i < flat.length; i += 2) out.push(decode(flat[i]!, flat[i + 1]!))
    return out
  }

  async delete (collection: string, key: string, options?: { ifVersion?: number }): Promise<boolean> {
    const ifVersion = options?.ifVersion
    const removed = await this.script('delete', [this.keys.records(collection), this.keys.recordIndex(collection)], [key, ifVersion ?? ''])
    return removed === 1
  }

  async claimOnce (key: string, ttlMs: number): Promise<boolean> {
    return (await this.client.set(this.keys.claim(key), '1', 'PX', ttlMs, 'NX')) === 'OK'
  }
}
