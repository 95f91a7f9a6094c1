import { Errors } from '../errors.ts'
import type { StoredEvent } from '../backend/types.ts'
import { EVENT_PAGE_LIMIT_DEFAULT, EVENT_TYPE_FILTERS_MAX, type AdminEventT } from '../contract/messages.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import type { AdminContext } from './context.ts'
import { FROM_OLDEST_EVENT_ID } from './events.ts'
import { eventView } from './views.ts'

// ListEvents: the console's timeline over the backend's event log. Newest first
// (beforeId pages back) through Backend.readEventsNewestFirst, or oldest first after
// an id (afterId, catching up) through readEvents. Filters are applied here, over a
// bounded scan: a call examines at most EVENTS_SCAN_MAX events, so a filter that
// matches rarely answers a short page with a cursor instead of reading the whole log.
//
// Audit events are in the same log (the audit recorder appends each stored audit
// event as type `audit`, its data the audit view), so one ListEvents call gives the
// unified timeline; the log keeps the backend's event retention, so the full audit
// history stays with ListAuditEvents.

export const EVENTS_SCAN_MAX = 5_000
const PAGE = 500

/** data fields whose value names what an event is about (ListEvents' target filter) */
export const EVENT_TARGET_FIELDS = ['id', 'taskId', 'queue', 'targetQueue', 'schedule', 'job', 'runId', 'name', 'target'] as const

type Matcher = (event: StoredEvent) => boolean

export function typeMatcher (filter: string | undefined): Matcher {
  if (filter === undefined) return () => true
  const entries = filter.split(',').map(entry => entry.trim()).filter(entry => entry !== '')
  if (entries.length === 0 || entries.length > EVENT_TYPE_FILTERS_MAX) {
    throw Errors.validation(`type: 1-${EVENT_TYPE_FILTERS_MAX} comma-separated event types`, { details: { field: 'type' } })
  }
  const exact = new Set<string>()
  const prefixes: string[] = []
  for (const entry of entries) {
    if (entry.endsWith('.*')) prefixes.push(entry.slice(0, -1))
    else if (entry.endsWith('.')) prefixes.push(entry)
    else exact.add(entry)
  }
  return event => exact.has(event.type) || prefixes.some(prefix => event.type.startsWith(prefix))
}

export function targetMatcher (target: string | undefined): Matcher {
  if (target === undefined) return () => true
  return event => {
    const data = event.data
    if (data === null || typeof data !== 'object' || Array.isArray(data)) return false
    const fields = data as Record<string, unknown>
    if (EVENT_TARGET_FIELDS.some(field => fields[field] === target)) return true
    return Array.isArray(fields.ids) && fields.ids.includes(target)
  }
}

function timeOf (field: 'since' | 'until', value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const ms = Date.parse(value)
  if (!Number.isFinite(ms)) throw Errors.validation(`${field}: must be an RFC 3339 time`, { details: { field } })
  return ms
}

interface Plan {
  limit: number
  matches: Matcher
  since: number | undefined
  until: number | undefined
}

export async function listEvents (ctx: AdminContext, request: RequestOf<'ListEvents'>): Promise<ResponseOf<'ListEvents'>> {
  const { backend } = ctx
  if (!backend.capabilities.eventLog) throw Errors.unsupported(`the ${backend.name} backend keeps no event log`, { details: { backend: backend.name } })
  if (request.beforeId !== undefined && request.afterId !== undefined) {
    throw Errors.validation('beforeId: page back with beforeId or catch up with afterId, not both', { details: { field: 'beforeId' } })
  }
  const since = timeOf('since', request.since)
  const until = timeOf('until', request.until)
  if (since !== undefined && until !== undefined && since > until) throw Errors.validation('since: must not be after until', { details: { field: 'since' } })
  const byType = typeMatcher(request.type)
  const byTarget = targetMatcher(request.target)
  const plan: Plan = { limit: request.limit ?? EVENT_PAGE_LIMIT_DEFAULT, matches: event => byType(event) && byTarget(event), since, until }
  return request.afterId !== undefined ? await forward(ctx, request.afterId, plan) : await backward(ctx, request.beforeId ?? null, plan)
}

async function backward (ctx: AdminContext, beforeId: string | null, plan: Plan): Promise<ResponseOf<'ListEvents'>> {
  const read = ctx.backend.readEventsNewestFirst?.bind(ctx.backend)
  if (read === undefined) {
    throw Errors.unsupported(`the ${ctx.backend.name} backend cannot read its event log newest first; page forward with afterId`, { details: { backend: ctx.backend.name } })
  }
  const events: AdminEventT[] = []
  let cursor = beforeId
  let newest: string | undefined
  let scanned = 0
  let exhausted = false
  while (!exhausted && events.length < plan.limit && scanned < EVENTS_SCAN_MAX) {
    const want = Math.min(PAGE, EVENTS_SCAN_MAX - scanned)
    const page = await read({ beforeId: cursor, limit: want })
    let examined = 0
    for (const event of page) {
      // the log is in append order, which is time order up to the commit of concurrent appends
      if (plan.since !== undefined && event.time < plan.since) { exhausted = true; break }
      examined++
      scanned++
      newest ??= event.id
      cursor = event.id
      if ((plan.until === undefined || event.time <= plan.until) && plan.matches(event)) {
        events.push(eventView(event))
        if (events.length >= plan.limit) break
      }
    }
    if (examined === page.length && page.length < want) exhausted = true
  }
  const nextBeforeId = exhausted || cursor === null ? undefined : cursor
  return {
    events,
    ...(nextBeforeId === undefined ? {} : { nextBeforeId }),
    ...(newest === undefined ? {} : { nextAfterId: newest }),
    scanned
  }
}

async function forward (ctx: AdminContext, afterId: string, plan: Plan): Promise<ResponseOf<'ListEvents'>> {
  const events: AdminEventT[] = []
  let cursor = afterId === FROM_OLDEST_EVENT_ID ? null : afterId
  let scanned = 0
  let done = false
  while (!done && events.length < plan.limit && scanned < EVENTS_SCAN_MAX) {
    const want = Math.min(PAGE, EVENTS_SCAN_MAX - scanned)
    const page = await ctx.backend.readEvents({ afterId: cursor, limit: want })
    let examined = 0
    for (const event of page) {
      // past the window: stop before it, so a later call with the cursor still sees it
      if (plan.until !== undefined && event.time > plan.until) { done = true; break }
      examined++
      scanned++
      cursor = event.id
      if ((plan.since === undefined || event.time >= plan.since) && plan.matches(event)) {
        events.push(eventView(event))
        if (events.length >= plan.limit) break
      }
    }
    if (examined === page.length && page.length < want) done = true
  }
  const nextAfterId = cursor ?? (afterId === FROM_OLDEST_EVENT_ID ? undefined : afterId)
  return { events, ...(nextAfterId === undefined ? {} : { nextAfterId }), scanned }
}
