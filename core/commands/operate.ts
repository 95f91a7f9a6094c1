// Operator commands over the admin contract: queues, dlq, pause, resume, overview.
import { Errors } from '../errors.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import { connectAdmin, type AdminConnection } from './admin-connection.ts'
import { connectOptions } from './connection-flags.ts'
import { print, table } from './format.ts'
import { formatTasks, pageNumber } from './tasks.ts'

type Values = Record<string, string | boolean | undefined>

async function withAdmin (values: Values, run: (admin: AdminConnection) => Promise<void>): Promise<number> {
  const admin = await connectAdmin(connectOptions(values))
  try {
    await run(admin)
    return 0
  } finally {
    await admin.close()
  }
}

function formatQueues (queues: ResponseOf<'ListQueues'>['queues']): string {
  return table(['QUEUE', 'READY', 'SCHEDULED', 'PROCESSING', 'RETRYING', 'DEAD', 'WEIGHT', 'PAUSED'], queues.map((q) => [
    q.name, String(q.ready), String(q.scheduled), String(q.processing), String(q.retrying), String(q.dead),
    `${q.weight}${q.weightOverridden ? ' (override)' : ''}`, q.paused ? 'yes' : 'no'
  ]))
}

export async function runQueues (values: Values): Promise<number> {
  return await withAdmin(values, async (admin) => {
    const { queues } = await admin.call('ListQueues', {})
    print(values.json === true ? queues : formatQueues(queues))
  })
}

export async function runOverview (values: Values): Promise<number> {
  return await withAdmin(values, async (admin) => {
    const overview = await admin.call('GetOverview', {})
    if (values.json === true) { print(overview); return }
    const t = overview.totals
    print([
      `ready ${t.ready}, scheduled ${t.scheduled}, processing ${t.processing}, retrying ${t.retrying}, dead ${t.dead}`,
      `workers ${overview.activeWorkers ?? 'n/a'}, global pause ${overview.coordination?.globalPaused === true ? 'ON' : 'off'}  (via ${admin.via})`,
      '',
      formatQueues(overview.queues)
    ].join('\n'))
  })
}

/** `pause [queue]` / `resume [queue]`: a queue, or global dequeue without one. */
export async function runPause (values: Values, positionals: string[], paused: boolean): Promise<number> {
  const [queue, extra] = positionals
  if (extra !== undefined) throw Errors.validation(`unexpected argument "${extra}" (usage: switchyard ${paused ? 'pause' : 'resume'} [queue])`)
  return await withAdmin(values, async (admin) => {
    if (queue === undefined) {
      const result = paused ? await admin.call('PauseDequeue', {}) : await admin.call('ResumeDequeue', {})
      print(`global dequeue ${result.globalPaused ? 'paused' : 'running'}`)
    } else {
      const { queue: q } = await admin.call('PauseQueue', { name: queue, paused })
      print(`queue ${q.name} ${q.paused ? 'paused' : 'running'}`)
    }
  })
}

/** `dlq` lists; `dlq replay (--ids a,b | --limit n) [--dry-run]`; `dlq delete <id>`; `dlq stats`. */
export async function runDlq (values: Values, positionals: string[]): Promise<number> {
  const [sub, ...args] = positionals
  const str = (k: string): string | undefined => typeof values[k] === 'string' ? values[k] as string : undefined
  return await withAdmin(values, async (admin) => {
    if (sub === undefined || sub === 'list') {
      const request: RequestOf<'ListDLQ'> = { limit: pageNumber('--limit', str('limit'), 50, 1), offset: pageNumber('--offset', str('offset'), 0, 0) }
      for (const field of ['queue', 'handler', 'query'] as const) { const v = str(field); if (v !== undefined) request[field] = v }
      const page = await admin.call('ListDLQ', request)
      print(values.json === true ? page : formatTasks({ tasks: page.entries, total: page.total }))
    } else if (sub === 'stats') {
      print(await admin.call('GetDLQStats', {}))
    } else if (sub === 'delete') {
      if (args.length !== 1) throw Errors.validation('usage: switchyard dlq delete <id>')
      print(await admin.call('DeleteDLQEntry', { id: args[0] as string }))
    } else if (sub === 'replay') {
      const dryRun = values['dry-run'] === true
      const ids = str('ids')
      const targetQueue = str('target-queue')
      const result = ids !== undefined
        ? await admin.call('ReplayDLQByID', { ids: ids.split(',').map((s) => s.trim()).filter(Boolean), dryRun, ...(targetQueue === undefined ? {} : { targetQueue }) })
        : await admin.call('ReplayDLQ', { limit: pageNumber('--limit', str('limit'), 100, 1), dryRun, ...(targetQueue === undefined ? {} : { targetQueue }), ...(str('queue') === undefined ? {} : { queue: str('queue') as string }) })
      print(result)
    } else {
      throw Errors.validation(`unknown dlq subcommand "${sub}" (expected list, stats, replay or delete)`)
    }
  })
}
