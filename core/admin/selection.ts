import { createHash } from 'node:crypto'
import { defineError } from '../errors.ts'

// "All matching" bulk actions (BulkTaskAction, DrainQueue, ReplayDLQ, PurgeDLQ) answer a
// `selection`: the count and a digest of the exact set of task ids the call selected.
// An operator previews with a dry run, then confirms with expectedSelection set to the
// preview's answer. The confirmed call selects again (a dry run of the same request);
// when the set differs in any way (a task arrived, left the filter or changed state)
// it is refused with SELECTION_CHANGED and nothing changes. When it is the same set,
// the action is applied to those ids, never re-selected by the filter, so a task that
// arrives meanwhile is never touched. A task moving in between (a worker leasing it,
// another operator) is skipped by the backend as before, so the call changes at most
// what was previewed.

export const SelectionErrors = {
  changed: defineError('SELECTION_CHANGED')
}

/** "<count>-<16 hex digits>": the count, then a digest of the sorted ids */
export function selectionDigest (ids: readonly string[]): string {
  const unique = [...new Set(ids)].sort()
  const digest = createHash('sha256').update(unique.join('\n')).digest('hex').slice(0, 16)
  return `${unique.length}-${digest}`
}

/** refuses (SELECTION_CHANGED, nothing changed) when the ids selected now are not the previewed set */
export function assertSameSelection (expected: string, ids: readonly string[], what: string): void {
  const now = selectionDigest(ids)
  if (now === expected) return
  const expectedCount = Number(expected.split('-')[0])
  const count = Number(now.split('-')[0])
  const how = expectedCount === count
    ? `the same number of tasks (${count}) but not the same tasks`
    : `${count} task${count === 1 ? '' : 's'} instead of the ${expectedCount} previewed`
  throw SelectionErrors.changed(`${what} now selects ${how}; nothing was changed: run the dry run again and confirm what it shows`, {
    details: { field: 'expectedSelection', expectedSelection: expected, selection: now, expectedCount, count }
  })
}
