import type { Backend, StoredRecord } from '../backend/types.ts'
import { MAX_LIST_LIMIT } from '../backend/types.ts'
import { asStep, emptyStep, HOURS_COLLECTION, hourKey, MINUTES_COLLECTION, rollUp, type StepValue } from './steps.ts'

// Steps live in the backend's records, shared by every node. Several processes add
// into the same minute, so every write is a compare-and-set on the record's version,
// retried a bounded number of times; a write that still loses is kept by the caller
// for its next flush, never dropped silently.

const CAS_ATTEMPTS = 8

/** applies `change` to the stored step (or an empty one) with compare-and-set; false when it lost every attempt */
export async function updateStep (backend: Backend, collection: string, key: string, change: (step: StepValue) => StepValue): Promise<boolean> {
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const current = await backend.getRecord(collection, key)
    const next = change(current === null ? emptyStep() : asStep(current.value))
    const written = await backend.putRecord(collection, key, next, { ifVersion: current === null ? null : current.version })
    if (written.ok) return true
  }
  return false
}

/** the records of a collection with keys after `afterKey` up to `toKey` (inclusive), in key order, at most `max` */
export async function readSteps (backend: Backend, collection: string, afterKey: string, toKey: string, max: number): Promise<StoredRecord[]> {
  const out: StoredRecord[] = []
  let cursor = afterKey
  while (out.length < max) {
    const want = Math.min(MAX_LIST_LIMIT, max - out.length)
    const page = await backend.listRecords(collection, { limit: want, afterKey: cursor })
    for (const record of page) {
      if (record.key > toKey) return out
      out.push(record)
    }
    const last = page[page.length - 1]
    if (last === undefined || page.length < want) return out
    cursor = last.key
  }
  return out
}

/** recomputes an hour's rollup from its minutes; idempotent, so the leader may redo it as often as it likes */
export async function rollUpHour (backend: Backend, hourStartMs: number): Promise<boolean> {
  const hour = hourKey(hourStartMs)
  // every minute key of the hour sorts after the hour's own key
  const minutes = await readSteps(backend, MINUTES_COLLECTION, hour, `${hour}:59`, 60)
  if (minutes.length === 0) return false
  await backend.putRecord(HOURS_COLLECTION, hour, rollUp(minutes.map(record => asStep(record.value))))
  return true
}

/** deletes up to `max` of the oldest records with keys before `beforeKey`; returns how many */
export async function trimBefore (backend: Backend, collection: string, beforeKey: string, max: number): Promise<number> {
  const oldest = await backend.listRecords(collection, { limit: max })
  let deleted = 0
  for (const record of oldest) {
    if (record.key >= beforeKey) break
    if (await backend.deleteRecord(collection, record.key)) deleted++
  }
  return deleted
}
