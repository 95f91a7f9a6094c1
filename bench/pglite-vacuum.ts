// What the embedded database's own vacuuming (plugins/backend-postgres/pglite-vacuum.ts)
// costs and what it saves. Switchyard on in-memory PGlite (main thread), a standing
// backlog of never-leased tasks (--backlog, 1,000), then rounds of churn: `round` tasks enqueued, leased
// and acked by one worker (completeAndLease, 50 at a time), pruned. Two databases,
// alternated round by round so that the shared machine's load falls on both alike:
//  - without: maintenance off, as PGlite was before (it has no autovacuum);
//  - with: maintenance run once after every round (its pass, exactly what its timer
//    runs; a round of 5,000 tasks is about what a busy embedded worker churns between
//    two checks).
// Measured: process CPU per task of the lease/ack loop, per round (load-independent
// as far as one thread's CPU time is); the CPU of each maintenance pass; the tasks
// table's heap and index sizes and dead tuples at the end.
import { cpuUsage } from 'node:process'
import { parseFlags, positiveInteger } from './lib/args.ts'
import { progress } from './lib/report.ts'
import type { BenchResult } from './lib/types.ts'
import { createPgliteClient } from '../plugins/backend-postgres/pglite-client.ts'
import { createPostgresBackendFromClient } from '../plugins/backend-postgres/backend.ts'
import { startPgliteVacuum, type PgliteVacuum } from '../plugins/backend-postgres/pglite-vacuum.ts'
import type { SqlClient } from '../plugins/backend-postgres/sql-client.ts'
import type { Backend, NewTask } from '../core/backend/types.ts'

const SCHEMA = 'bench'

function newTask (queue: string): NewTask {
  return { queue, handler: 'bench.noop', payload: {}, maxAttempts: 3, priority: 0, timeoutMs: 60_000, runAt: null, delayMs: 0, idempotencyKey: null }
}

function cpuMs (since: NodeJS.CpuUsage): number {
  const d = cpuUsage(since)
  return (d.user + d.system) / 1000
}

interface Side { name: string, raw: SqlClient, backend: Backend, vacuum: PgliteVacuum | null, leaseUsPerTask: number[], vacuumCpuMs: number[], longestStatementMs: number[] }

async function open (name: string, withVacuum: boolean, backlog: number): Promise<Side> {
  // the client's own timer off: the bench runs the same pass itself, at fixed points
  const raw = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 60_000, settings: {}, vacuum: false })
  const backend = createPostgresBackendFromClient(raw, { schema: SCHEMA })
  await backend.init()
  for (let i = 0; i < backlog; i += 250) await backend.enqueue(Array.from({ length: Math.min(250, backlog - i) }, () => newTask('backlog')))
  const vacuum = withVacuum ? startPgliteVacuum(raw, { checkEveryMs: 2 ** 31 - 1, passBudgetMs: 60_000 }) : null
  return { name, raw, backend, vacuum, leaseUsPerTask: [], vacuumCpuMs: [], longestStatementMs: [] }
}

async function round (side: Side, tasks: number): Promise<void> {
  for (let i = 0; i < tasks; i += 250) await side.backend.enqueue(Array.from({ length: Math.min(250, tasks - i) }, () => newTask('q')))
  const req = { workerId: 'w', queues: ['q'], limit: 50, leaseMs: 60_000 }
  const start = cpuUsage()
  let leased = await side.backend.leaseTasks(req)
  let acked = 0
  while (leased.length > 0) {
    const next = await side.backend.completeAndLease!(leased, req)
    acked += next.acks.length
    leased = next.leased
  }
  side.leaseUsPerTask.push(cpuMs(start) * 1000 / acked)
  await side.backend.pruneFinished({ state: 'succeeded', finishedOlderThanMs: 0, limit: 100_000 })
  if (side.vacuum !== null) {
    const before = cpuUsage()
    const pass = await side.vacuum.runPass()
    if (pass?.error !== undefined) throw pass.error
    side.vacuumCpuMs.push(cpuMs(before))
    side.longestStatementMs.push(pass?.longestMs ?? 0)
  }
}

async function tableState (raw: SqlClient): Promise<Record<string, number>> {
  const [row] = await raw.query<Record<string, string>>(`SELECT n_dead_tup AS dead, pg_relation_size(relid) AS heap, pg_indexes_size(relid) AS indexes
    FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'tasks'`, [SCHEMA])
  return { dead_tuples: Number(row?.dead), heap_kb: Math.round(Number(row?.heap) / 1024), indexes_kb: Math.round(Number(row?.indexes) / 1024) }
}

const mean = (xs: number[]): number => xs.length === 0 ? 0 : Math.round(xs.reduce((a, b) => a + b, 0) / xs.length * 10) / 10

export async function run (args: string[]): Promise<BenchResult> {
  const flags = parseFlags('pglite-vacuum', args, { tasks: { type: 'string' }, round: { type: 'string' }, backlog: { type: 'string' } })
  const smoke = flags.smoke === true
  const total = positiveInteger('tasks', (flags.tasks as string | undefined) ?? (smoke ? '2000' : '100000'))
  const perRound = positiveInteger('round', (flags.round as string | undefined) ?? (smoke ? '500' : '5000'))
  const backlog = positiveInteger('backlog', (flags.backlog as string | undefined) ?? '1000')
  const rounds = Math.ceil(total / perRound)
  const without = await open('without', false, backlog)
  const withVacuum = await open('with', true, backlog)
  try {
    for (let r = 0; r < rounds; r++) {
      // alternate which side goes first
      const order = r % 2 === 0 ? [without, withVacuum] : [withVacuum, without]
      for (const side of order) await round(side, perRound)
      if ((r + 1) % 5 === 0 || r === rounds - 1) progress(`pglite-vacuum: round ${r + 1}/${rounds}: lease+ack µs/task without ${Math.round(without.leaseUsPerTask.at(-1) ?? 0)}, with ${Math.round(withVacuum.leaseUsPerTask.at(-1) ?? 0)}; vacuum ${Math.round(withVacuum.vacuumCpuMs.at(-1) ?? 0)} ms`)
    }
    const tail = Math.max(1, Math.floor(rounds / 5))
    const summary = async (side: Side): Promise<Record<string, unknown>> => ({
      lease_ack_cpu_us_per_task_first_round: Math.round(side.leaseUsPerTask[0] ?? 0),
      lease_ack_cpu_us_per_task_last_rounds: mean(side.leaseUsPerTask.slice(-tail)),
      lease_ack_cpu_us_per_task_by_round: side.leaseUsPerTask.map(Math.round),
      vacuum_cpu_ms_per_pass: mean(side.vacuumCpuMs),
      vacuum_cpu_ms_max: Math.round(Math.max(0, ...side.vacuumCpuMs)),
      vacuum_longest_statement_ms_by_pass: side.longestStatementMs.map(Math.round),
      tasks_table_at_end: await tableState(side.raw)
    })
    const results = { smoke, tasks: rounds * perRound, round: perRound, backlog, last_rounds: tail, without: await summary(without), with: await summary(withVacuum) }
    const w = mean(withVacuum.leaseUsPerTask.slice(-tail))
    const wo = mean(without.leaseUsPerTask.slice(-tail))
    return { results, ratios: { lease_ack_cpu_without_over_with_last_rounds: w > 0 ? Math.round(wo / w * 100) / 100 : null } }
  } finally {
    for (const side of [without, withVacuum]) {
      await side.vacuum?.stop()
      await side.backend.close()
      await side.raw.close()
    }
  }
}
