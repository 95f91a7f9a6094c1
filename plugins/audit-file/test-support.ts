import { readFile } from 'node:fs/promises'
import type { AuditEvent } from '@switchyard/core'

export const DAY_MS = 86_400_000
/** 2024-03-05T12:00:00Z */
export const NOON = Date.UTC(2024, 2, 5, 12)

export function auditEvent (i: number, time = NOON): AuditEvent {
  return {
    id: String(i).padStart(8, '0'),
    time,
    action: 'queue.pause',
    target: `queue:q${i % 7}`,
    actor: 'CN=operator,O=Switchyard',
    requestId: `req-${i}`,
    params: { paused: i % 2 === 0, note: 'ünïcode ✓' },
    outcome: 'ok'
  }
}

/** The events of a JSONL file; throws on a line that is not JSON. */
export async function readLines (path: string): Promise<AuditEvent[]> {
  const text = await readFile(path, 'utf8')
  if (text === '') return []
  if (!text.endsWith('\n')) throw new Error(`${path} does not end with a newline`)
  return text.slice(0, -1).split('\n').map(line => JSON.parse(line) as AuditEvent)
}

/** Resolves once `check` returns true; rejects after `timeoutMs`. */
export async function waitFor (check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}
