// Schedule commands: list, factories, events, create, pause/resume, run, delete, and
// pause-all/resume-all (bulk: dry-run count and a question on a terminal, else --yes).
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import type { ScheduleViewT } from '../contract/messages.ts'
import { confirmBulk, confirmationFor } from './confirm.ts'
import { emit, fields, plural, table } from './format.ts'
import type { CommandInput } from './spec.ts'
import { UsageError } from './usage.ts'
import { bool, oneOf, optionalInteger, str } from './values.ts'
import { withAdmin } from './with-admin.ts'

export function formatSchedules (schedules: ScheduleViewT[]): string {
  const rows = schedules.map((s) => [
    s.name, s.spec, s.timezone, s.durable ? 'yes' : 'no', s.paused ? 'yes' : 'no',
    s.paused ? '(paused)' : (s.nextRunAt ?? '-'), s.previousRunAt ?? '-', s.lastStatus,
    String(s.fired), String(s.skipped), String(s.failed)
  ])
  const header = ['NAME', 'SPEC', 'TZ', 'DURABLE', 'PAUSED', 'NEXT RUN', 'PREVIOUS RUN', 'LAST STATUS', 'FIRED', 'SKIPPED', 'FAILED']
  return `${table(header, rows)}\n${plural(schedules.length, 'schedule')}`
}

function formatSchedule (s: ScheduleViewT): string {
  return fields([
    ['schedule', s.name],
    ['spec', `${s.spec} (${s.timezone})`],
    ['durable', s.durable ? 'yes' : 'no'],
    ['paused', s.paused ? 'yes' : 'no'],
    ['overlap', s.overlap],
    ['catch-up', s.catchUp],
    ['next run', s.paused ? '(paused)' : s.nextRunAt],
    ['previous run', s.previousRunAt],
    ['last status', s.lastStatus],
    ['last error', s.lastError],
    ['last task', s.lastTaskId],
    ['fired', s.fired],
    ['skipped', s.skipped],
    ['failed', s.failed],
    ['factory', s.factoryRegistered ? 'registered' : 'not registered in the serving process']
  ])
}

export async function runSchedules (input: CommandInput): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('ListSchedules', {})
    emit(input, result, () => formatSchedules(result.schedules))
  })
}

export async function runFactories (input: CommandInput): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('ListScheduleFactories', {})
    emit(input, result, () => `${table(['NAME', 'DEFAULT', 'DESCRIPTION'], result.factories.map(f => [f.name, f.durableDefault ? 'durable' : 'in-memory', f.description]))}\n${plural(result.factories.length, 'factory', 'factories')}`)
  })
}

export async function runScheduleEvents (input: CommandInput): Promise<number> {
  const request: RequestOf<'ListScheduleEvents'> = {}
  const name = str(input.values, 'name')
  if (name !== undefined) request.name = name
  const limit = optionalInteger(input.values, 'limit', 1, 1000)
  if (limit !== undefined) request.limit = limit
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('ListScheduleEvents', request)
    emit(input, result, () => table(['AT', 'SCHEDULE', 'TYPE', 'INSTANT', 'TASK', 'REASON'], result.events.map(e => [
      e.at, e.schedule, e.count !== undefined && e.count > 1 ? `${e.type} ×${e.count}` : e.type, e.instant ?? '', e.taskId ?? '', e.reason ?? ''
    ])))
  })
}

export async function runScheduleCreate (input: CommandInput): Promise<number> {
  const { values } = input
  const spec = str(values, 'spec')
  if (spec === undefined) throw new UsageError('--spec: required (a cron expression, e.g. --spec "*/5 * * * *")')
  if (bool(values, 'durable') && bool(values, 'in-memory')) throw new UsageError('--durable and --in-memory: pass one of them')
  const request: RequestOf<'CreateSchedule'> = { name: input.positionals[0] as string, spec }
  if (bool(values, 'durable')) request.durable = true
  if (bool(values, 'in-memory')) request.durable = false
  if (bool(values, 'paused')) request.paused = true
  const timezone = str(values, 'timezone')
  if (timezone !== undefined) request.timezone = timezone
  const overlap = str(values, 'overlap')
  if (overlap !== undefined) request.overlap = oneOf('overlap', overlap, ['skip', 'allow'] as const)
  const catchUp = str(values, 'catch-up')
  if (catchUp !== undefined) request.catchUp = oneOf('catch-up', catchUp, ['none', 'latest'] as const)
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('CreateSchedule', request)
    emit(input, result, () => `${result.created ? 'created' : 'updated'} schedule ${result.schedule.name}\n${formatSchedule(result.schedule)}`)
  })
}

async function pauseOne (input: CommandInput, paused: boolean): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('PauseSchedule', { name: input.positionals[0] as string, paused })
    emit(input, result, () => `schedule ${result.schedule.name} ${result.schedule.paused ? 'paused' : `running (next run ${result.schedule.nextRunAt ?? 'none'})`}`)
  })
}

export async function runSchedulePause (input: CommandInput): Promise<number> {
  return await pauseOne(input, true)
}

export async function runScheduleResume (input: CommandInput): Promise<number> {
  return await pauseOne(input, false)
}

export async function runScheduleRun (input: CommandInput): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('RunSchedule', { name: input.positionals[0] as string })
    emit(input, result, () => `schedule ${result.schedule.name} ran: task ${result.taskId}`)
  })
}

export async function runScheduleDelete (input: CommandInput): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('DeleteSchedule', { name: input.positionals[0] as string })
    emit(input, result, () => result.deleted ? `schedule ${result.name} deleted` : `schedule ${result.name} did not exist; nothing changed`)
  })
}

async function pauseAll (input: CommandInput, paused: boolean): Promise<number> {
  const verb = paused ? 'pause' : 'resume'
  const decision = confirmationFor(input)
  return await withAdmin(input, async (admin) => await confirmBulk<ResponseOf<'PauseSchedules'>>(input, decision, {
    preview: async () => await admin.call('PauseSchedules', { paused, dryRun: true }),
    act: async () => await admin.call('PauseSchedules', { paused }),
    count: r => r.changed.length,
    describe: r => `${verb} ${plural(r.changed.length, 'schedule')} of ${r.total} (${r.changed.join(', ')})`,
    print: r => emit(input, r, () => {
      const what = r.changed.length === 0 ? `no schedule to ${verb}` : `${r.dryRun ? `would ${verb}` : `${verb}d`} ${plural(r.changed.length, 'schedule')}: ${r.changed.join(', ')}`
      return `${what} (${r.total} considered)`
    })
  }))
}

export async function runPauseAll (input: CommandInput): Promise<number> {
  return await pauseAll(input, true)
}

export async function runResumeAll (input: CommandInput): Promise<number> {
  return await pauseAll(input, false)
}
