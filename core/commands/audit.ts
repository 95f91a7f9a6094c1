// The audit trail: `audit list` (a page, newest first) and `audit export` (a file).
import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { RequestOf } from '../contract/rpcs.ts'
import { emit, plural, table } from './format.ts'
import { auditParams } from './payload.ts'
import type { CommandInput, FlagValues } from './spec.ts'
import { oneOf, optionalInteger, str, timeOrAgo } from './values.ts'
import { withAdmin } from './with-admin.ts'

/** the contract's ceilings; the deployment's exportLimitMax may be lower */
const LIST_LIMIT_MAX = 1000
const EXPORT_LIMIT_MAX = 100_000

function auditFilters (values: FlagValues): { action?: string, target?: string, since?: string } {
  const out: { action?: string, target?: string, since?: string } = {}
  const action = str(values, 'action')
  if (action !== undefined) out.action = action
  const target = str(values, 'target')
  if (target !== undefined) out.target = target
  const since = str(values, 'since')
  if (since !== undefined) out.since = timeOrAgo('since', since)
  return out
}

export async function runAuditList (input: CommandInput): Promise<number> {
  const request: RequestOf<'ListAuditEvents'> = { limit: optionalInteger(input.values, 'limit', 1, LIST_LIMIT_MAX) ?? 50, ...auditFilters(input.values) }
  const before = str(input.values, 'before')
  if (before !== undefined) request.beforeId = before
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('ListAuditEvents', request)
    emit(input, result, () => {
      const rows = result.events.map(e => [e.time, e.action, e.target, e.actor, e.outcome, e.error ?? JSON.stringify(auditParams(e))])
      const more = result.nextBeforeId === undefined ? '' : `; older: --before ${result.nextBeforeId}`
      return `${table(['TIME', 'ACTION', 'TARGET', 'ACTOR', 'OUTCOME', 'PARAMS / ERROR'], rows)}\n${plural(result.events.length, 'event')}${more}`
    })
  })
}

export async function runAuditExport (input: CommandInput): Promise<number> {
  const { values } = input
  const request: RequestOf<'ExportAudit'> = { ...auditFilters(values) }
  const format = str(values, 'format')
  if (format !== undefined) request.format = oneOf('format', format, ['jsonl', 'json', 'csv'] as const)
  const limit = optionalInteger(values, 'limit', 1, EXPORT_LIMIT_MAX)
  if (limit !== undefined) request.limit = limit
  const output = str(values, 'output')
  return await withAdmin(input, async (admin) => {
    const file = await admin.call('ExportAudit', request)
    if (output === undefined) {
      // the file itself on stdout; with --json the whole answer, body included
      if (input.values.json === true) emit(input, file, () => '')
      else input.io.stdout.write(file.body)
      return
    }
    const path = resolve(output)
    await writeFile(path, file.body)
    const { body: _body, ...answer } = file
    emit(input, { ...answer, path }, () => `wrote ${plural(file.count, 'audit event')} to ${path} (${file.contentType})`)
  })
}
