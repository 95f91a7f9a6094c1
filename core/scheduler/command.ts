import { openClient } from '../app.ts'
import { createScheduler } from './scheduler.ts'
import type { ScheduleView } from './types.ts'

// `switchyard schedules`: the durable schedules stored in the backend (in-memory ones
// live in the processes that hold them and are listed by their admin service).

function iso (ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString()
}

export function formatSchedules (schedules: ScheduleView[]): string {
  const header = ['NAME', 'SPEC', 'TZ', 'DURABLE', 'PAUSED', 'NEXT RUN', 'PREVIOUS RUN', 'LAST STATUS', 'FIRED', 'SKIPPED', 'FAILED']
  const rows = schedules.map(s => [s.name, s.spec, s.timezone, s.durable ? 'yes' : 'no', s.paused ? 'yes' : 'no', s.paused ? '(paused)' : iso(s.nextRunAt),
    iso(s.lastRunAt), s.lastStatus, String(s.counts.fired), String(s.counts.skipped), String(s.counts.failed)])
  const all = [header, ...rows]
  const widths = header.map((_, i) => Math.max(...all.map(r => (r[i] ?? '').length)))
  const lines = all.map(r => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd())
  lines.push(`${schedules.length} schedule${schedules.length === 1 ? '' : 's'}`)
  return lines.join('\n')
}

export async function runSchedulesCommand (values: Record<string, string | undefined>): Promise<number> {
  const client = await openClient(values.config)
  try {
    const scheduler = createScheduler({ backend: client.backend, options: { autoTick: false } })
    process.stdout.write(formatSchedules(await scheduler.listSchedules()) + '\n')
    return 0
  } finally {
    await client.close()
  }
}
