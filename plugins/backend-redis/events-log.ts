import { Errors, type StoredEvent } from '@switchyard/core'
import { pairsToObject, streamIdTime } from './codec.ts'

// The event log is a stream with one entry per append (lua/lib/events.lua): fields n
// (how many events) and b (a JSON array of [type, data] pairs). Event k of entry E has
// the id "E:k". Entries of the older layout (fields t, d: one event) keep the id E, so
// logs and resume ids from before the layout still read.

/** an event id: its entry and its place in the entry (null: a whole older-layout entry) */
export interface EventPosition { entry: string, index: number | null }

const EVENT_ID = /^(\d{1,20}-\d{1,20})(?::(\d{1,9}))?$/

/** The position of an event id this backend issued; VALIDATION_FAILED naming `field` otherwise. */
export function parseEventId (field: string, id: string): EventPosition {
  const m = EVENT_ID.exec(id)
  if (m === null) throw Errors.validation(`${field}: must be an event id like "1700000000000-0:0", or null`, { details: { field } })
  return { entry: m[1]!, index: m[2] === undefined ? null : Number(m[2]) }
}

/** One stream entry's events in order, each with its id and the entry's time. */
export function entryEvents (entry: string, fields: string[]): StoredEvent[] {
  const f = pairsToObject(fields)
  const time = streamIdTime(entry)
  if (f.b === undefined) return [{ id: entry, type: f.t ?? '', time, data: f.d === undefined ? null : JSON.parse(f.d) }]
  const batch = JSON.parse(f.b) as Array<[string, unknown]>
  return batch.map(([type, data], k) => ({ id: `${entry}:${k}`, type, time, data: data ?? null }))
}

/** the events of `entries` (read forward) after `after`, at most `limit` of them appended to `out` */
export function takeAfter (entries: Array<[string, string[]]>, after: EventPosition | null, limit: number, out: StoredEvent[]): void {
  for (const [entry, fields] of entries) {
    if (after !== null && entry === after.entry && after.index === null) continue
    const events = entryEvents(entry, fields)
    const from = after !== null && entry === after.entry ? (after.index as number) + 1 : 0
    for (let k = from; k < events.length && out.length < limit; k++) out.push(events[k]!)
  }
}

/** the events of `entries` (read backwards) before `before`, newest first, at most `limit` of them appended to `out` */
export function takeBefore (entries: Array<[string, string[]]>, before: EventPosition | null, limit: number, out: StoredEvent[]): void {
  for (const [entry, fields] of entries) {
    if (before !== null && entry === before.entry && before.index === null) continue
    const events = entryEvents(entry, fields)
    const upTo = before !== null && entry === before.entry ? Math.min(before.index as number, events.length) : events.length
    for (let k = upTo - 1; k >= 0 && out.length < limit; k--) out.push(events[k]!)
  }
}

/** where a forward read starts: the entry holding `after` is read again for the events after it */
export function forwardStart (after: EventPosition | null): string {
  if (after === null) return '-'
  return after.index === null ? `(${after.entry}` : after.entry
}

/** where a backward read starts: the entry holding `before` is read again for the events before it */
export function backwardStart (before: EventPosition | null): string {
  if (before === null) return '+'
  return before.index === null ? `(${before.entry}` : before.entry
}
