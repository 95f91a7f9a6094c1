import { MAX_LIST_LIMIT, type Backend } from '../backend/types.ts'
import { Errors } from '../errors.ts'
import type { ScheduleRecord } from './types.ts'

// Where schedules live: durable ones in backend records (one record per schedule,
// written with compare-and-set so the leader's run state and an operator's change
// never overwrite each other), in-memory ones in this process. Both offer the same
// versioned interface so the scheduler has one code path.

export const SCHEDULES_COLLECTION = 'schedules'
/** schedules of one kind this process handles at most; a listing never goes further */
export const MAX_SCHEDULES = 1000
const CAS_ATTEMPTS = 8

export interface StoredSchedule {
  record: ScheduleRecord
  version: number
}

export interface ScheduleStore {
  readonly durable: boolean
  list (): Promise<StoredSchedule[]>
  get (name: string): Promise<StoredSchedule | null>
  /** compare-and-set: ifVersion null = only when absent; false when the condition failed */
  put (record: ScheduleRecord, ifVersion: number | null): Promise<boolean>
  delete (name: string): Promise<boolean>
}

export class DurableScheduleStore implements ScheduleStore {
  readonly durable = true
  constructor (private readonly backend: Backend) {}

  async list (): Promise<StoredSchedule[]> {
    const out: StoredSchedule[] = []
    let afterKey: string | undefined
    while (out.length < MAX_SCHEDULES) {
      const page = await this.backend.listRecords(SCHEDULES_COLLECTION, { limit: Math.min(MAX_LIST_LIMIT, MAX_SCHEDULES - out.length), ...(afterKey === undefined ? {} : { afterKey }) })
      for (const row of page) out.push({ record: row.value as ScheduleRecord, version: row.version })
      if (page.length === 0 || page.length < MAX_LIST_LIMIT) break
      afterKey = page[page.length - 1]?.key
    }
    return out
  }

  async get (name: string): Promise<StoredSchedule | null> {
    const row = await this.backend.getRecord(SCHEDULES_COLLECTION, name)
    return row === null ? null : { record: row.value as ScheduleRecord, version: row.version }
  }

  async put (record: ScheduleRecord, ifVersion: number | null): Promise<boolean> {
    return (await this.backend.putRecord(SCHEDULES_COLLECTION, record.name, record, { ifVersion })).ok
  }

  async delete (name: string): Promise<boolean> {
    return await this.backend.deleteRecord(SCHEDULES_COLLECTION, name)
  }
}

export class MemoryScheduleStore implements ScheduleStore {
  readonly durable = false
  private readonly entries = new Map<string, StoredSchedule>()

  async list (): Promise<StoredSchedule[]> {
    return [...this.entries.values()].sort((a, b) => a.record.name < b.record.name ? -1 : 1).map(copy)
  }

  async get (name: string): Promise<StoredSchedule | null> {
    const entry = this.entries.get(name)
    return entry === undefined ? null : copy(entry)
  }

  async put (record: ScheduleRecord, ifVersion: number | null): Promise<boolean> {
    const current = this.entries.get(record.name)
    if ((current?.version ?? null) !== ifVersion) return false
    if (current === undefined && this.entries.size >= MAX_SCHEDULES) {
      throw Errors.validation(`name: at most ${MAX_SCHEDULES} in-memory schedules per process`, { details: { field: 'name' } })
    }
    this.entries.set(record.name, { record: structuredClone(record), version: (current?.version ?? 0) + 1 })
    return true
  }

  async delete (name: string): Promise<boolean> {
    return this.entries.delete(name)
  }
}

function copy (entry: StoredSchedule): StoredSchedule {
  return { record: structuredClone(entry.record), version: entry.version }
}

/**
 * Read-modify-write with compare-and-set, retried on conflict. `change` gets the
 * current record (null when absent) and returns the new one, or null to leave it.
 */
export async function mutateSchedule (store: ScheduleStore, name: string, change: (current: ScheduleRecord | null) => ScheduleRecord | null): Promise<ScheduleRecord | null> {
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const current = await store.get(name)
    const next = change(current === null ? null : structuredClone(current.record))
    if (next === null) return current?.record ?? null
    if (await store.put(next, current?.version ?? null)) return next
  }
  throw Errors.conflict(`schedule ${name} kept changing under a concurrent writer; try again`, { details: { schedule: name } })
}
