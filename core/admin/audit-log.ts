import { MAX_LIST_LIMIT, type AuditEvent, type ListAuditRequest } from '../backend/types.ts'
import { LIST_LIMIT_DEFAULT, type AuditEventViewT } from '../contract/messages.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import type { AdminContext } from './context.ts'
import { assertCap } from './guards.ts'
import { auditView, compact } from './views.ts'

function filterOf (request: { action?: string, target?: string, since?: string }): Omit<ListAuditRequest, 'limit'> {
  return compact({ action: request.action, target: request.target, since: request.since === undefined ? undefined : Date.parse(request.since) })
}

export async function listAuditEvents (ctx: AdminContext, request: RequestOf<'ListAuditEvents'>): Promise<ResponseOf<'ListAuditEvents'>> {
  const limit = request.limit ?? LIST_LIMIT_DEFAULT
  const events = await ctx.backend.listAudit(compact({ ...filterOf(request), limit, beforeId: request.beforeId }))
  const page = events.slice(0, limit)
  const last = page[page.length - 1]
  return compact({ events: page.map(auditView), nextBeforeId: page.length === limit && last !== undefined ? last.id : undefined })
}

const CSV_COLUMNS = ['id', 'time', 'action', 'target', 'actor', 'requestId', 'outcome', 'error', 'params'] as const

// Exports are opened in spreadsheets: a cell starting with = + - @ would run as a
// formula, so such cells are prefixed with a quote (OWASP CSV injection advice).
function csvCell (value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe
}

function render (format: 'jsonl' | 'json' | 'csv', events: AuditEventViewT[]): { contentType: string, body: string } {
  if (format === 'json') return { contentType: 'application/json', body: JSON.stringify(events) }
  if (format === 'csv') {
    // params is a JSON value: its cell is the JSON text
    const rows = events.map(event => CSV_COLUMNS.map(column => csvCell(column === 'params' ? JSON.stringify(event.params) ?? 'null' : event[column] ?? '')).join(','))
    return { contentType: 'text/csv; charset=utf-8', body: [CSV_COLUMNS.join(','), ...rows].join('\r\n') + '\r\n' }
  }
  return { contentType: 'application/x-ndjson', body: events.map(event => JSON.stringify(event) + '\n').join('') }
}

export async function exportAudit (ctx: AdminContext, request: RequestOf<'ExportAudit'>): Promise<ResponseOf<'ExportAudit'>> {
  const max = ctx.options.auditExportLimitMax
  const limit = request.limit ?? max
  assertCap(limit, max, 'limit', 'WORKER_ADMIN_AUDIT_EXPORT_LIMIT_MAX')
  const format = request.format ?? 'jsonl'
  const filter = filterOf(request)
  const events: AuditEvent[] = []
  let beforeId: string | undefined
  while (events.length < limit) {
    const pageSize = Math.min(limit - events.length, MAX_LIST_LIMIT)
    const page = await ctx.backend.listAudit(compact({ ...filter, limit: pageSize, beforeId }))
    events.push(...page.slice(0, pageSize))
    if (page.length < pageSize) break
    beforeId = page[page.length - 1]?.id
  }
  const { contentType, body } = render(format, events.map(auditView))
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  return { contentType, filename: `switchyard-audit-${stamp}.${format}`, count: events.length, body }
}
