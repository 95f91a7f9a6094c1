// `switchyard schedules`: ListSchedules through the admin contract (the running
// gateway, else the backend opened here), as a table.
import type { ResponseOf } from '../contract/rpcs.ts'
import { connectAdmin } from './admin-connection.ts'
import { connectOptions } from './connection-flags.ts'
import { print, table } from './format.ts'

type ScheduleView = ResponseOf<'ListSchedules'>['schedules'][number]

export function formatSchedules (schedules: ScheduleView[]): string {
  const rows = schedules.map((s) => [
    s.name, s.spec, s.timezone, s.durable ? 'yes' : 'no', s.paused ? 'yes' : 'no',
    s.paused ? '(paused)' : (s.nextRunAt ?? '-'), s.previousRunAt ?? '-', s.lastStatus,
    String(s.fired), String(s.skipped), String(s.failed)
  ])
  const header = ['NAME', 'SPEC', 'TZ', 'DURABLE', 'PAUSED', 'NEXT RUN', 'PREVIOUS RUN', 'LAST STATUS', 'FIRED', 'SKIPPED', 'FAILED']
  return `${table(header, rows)}\n${schedules.length} schedule${schedules.length === 1 ? '' : 's'}`
}

export async function runSchedules (values: Record<string, string | boolean | undefined>): Promise<number> {
  const admin = await connectAdmin(connectOptions(values))
  try {
    const { schedules } = await admin.call('ListSchedules', {})
    print(values.json === true ? schedules : formatSchedules(schedules))
    return 0
  } finally {
    await admin.close()
  }
}
