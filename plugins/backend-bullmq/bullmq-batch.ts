import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Job, type JobsOptions, type Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { hoistDefinitions } from './lua-hoist.ts'

// BullMQ's transition scripts take one job per call; a worker leasing or acking a
// batch would pay one script call (and its argument packing) per job. These
// scripts run BullMQ's own script text (from the installed bullmq, so behaviour
// tracks its version exactly) once per job inside a single call: the script body
// becomes a Lua function (its helper functions defined once, see lua-hoist.ts),
// and a small driver sets KEYS/ARGV the way BullMQ would before each run.

interface BullMQScript { name: string, content: string, keys: number }

const bullmqScripts = createRequire(import.meta.url)('bullmq/dist/cjs/scripts/index.js') as Record<string, BullMQScript | undefined>
const lua = (name: string): string => readFileSync(new URL(`./lua/${name}`, import.meta.url), 'utf8')

function wrapped (script: string, driver: string): string {
  const found = bullmqScripts[script]
  if (found === undefined) throw new Error(`the installed bullmq has no ${script} script`)
  const hoisted = hoistDefinitions(found.content)
  if (hoisted === null) return `local function bullmqScript()\n${found.content}\nend\n${driver}`
  return `${hoisted.definitions}\nlocal function bullmqScript()\n${hoisted.body}\nend\n${driver}`
}

/** BullMQ scripts that can be run for many jobs in one call */
export type BatchedScript = 'moveToFinished' | 'retryJob' | 'moveToDelayed' | 'addStandardJob' | 'addPrioritizedJob' | 'addDelayedJob'
const BATCHED: BatchedScript[] = ['moveToFinished', 'retryJob', 'moveToDelayed', 'addStandardJob', 'addPrioritizedJob', 'addDelayedJob']
const batchCommand = (script: BatchedScript): string => `sy_batch_${script}`

export function defineBatchScripts (redis: Redis): void {
  redis.defineCommand('sy_lease_jobs', { numberOfKeys: 0, lua: wrapped('moveToActive', lua('lease-jobs.lua')) })
  const driver = lua('batch.lua')
  for (const script of BATCHED) redis.defineCommand(batchCommand(script), { numberOfKeys: 0, lua: wrapped(script, driver) })
}

type Runner = Record<string, (...args: unknown[]) => Promise<unknown>>

/** one leased job as lease-jobs.lua returns it */
export type LeasedJob = [queue: string, jobId: string, token: string, flatHash: string[], expiresAt: number]

export interface LeaseJobsRequest {
  prefix: string
  ownBase: string
  queues: string[]
  limit: number
  tokenBase: string
  leaseMs: number
  workerId: string
}

/** jobs per script call: bounds how long one call holds Redis (a few ms) */
const CALLS_PER_SCRIPT = 100
const LEASES_PER_SCRIPT = 200

/** Leases up to req.limit jobs; larger batches go out as several script calls in one round trip. */
export async function leaseJobs (redis: Redis, req: LeaseJobsRequest): Promise<LeasedJob[]> {
  const runner = redis as unknown as Runner
  const calls: Array<Promise<unknown>> = []
  for (let from = 0; from < req.limit; from += LEASES_PER_SCRIPT) {
    // each call's tokens get their own base, so tokens stay unique across the calls
    calls.push(runner.sy_lease_jobs!(`${req.prefix}:`, req.ownBase, Date.now(), Math.min(LEASES_PER_SCRIPT, req.limit - from), `${req.tokenBase}${from}:`, req.leaseMs, req.workerId, ...req.queues))
  }
  return (await Promise.all(calls) as LeasedJob[][]).flat()
}

/**
 * Runs `script` once per argument list (keys then arguments, as BullMQ's *Args
 * builders return them) in as few calls as CALLS_PER_SCRIPT allows; replies in order.
 */
export async function runBatched (redis: Redis, script: BatchedScript, calls: unknown[][]): Promise<unknown[]> {
  const runner = redis as unknown as Runner
  const keyCount = (bullmqScripts[script] as BullMQScript).keys
  const chunks: Array<Promise<unknown>> = []
  for (let i = 0; i < calls.length; i += CALLS_PER_SCRIPT) {
    const flat: unknown[] = []
    for (const args of calls.slice(i, i + CALLS_PER_SCRIPT)) {
      flat.push(keyCount, args.length - keyCount)
      // BullMQ leaves optional trailing arguments undefined; ioredis sends those as ''
      for (const arg of args) flat.push(arg === undefined ? '' : arg)
    }
    chunks.push(runner[batchCommand(script)]!(...flat))
  }
  return (await Promise.all(chunks) as unknown[][]).flat()
}

export interface NewJob { name: string, data: unknown, opts: JobsOptions }

/**
 * Adds jobs to one queue as Queue.addBulk does, with each add script's calls
 * batched. BullMQ itself builds every job's script arguments (ids, packed options,
 * data) and hands them to client.runCommand; a recording client collects them, the
 * batches run, and each job's own add call settles with its script's reply (so
 * BullMQ's checks of that reply still apply).
 */
export async function addJobs (redis: Redis, queue: Queue, jobs: NewJob[]): Promise<void> {
  const captured: Array<{ command: string, args: unknown[], settle: (reply: unknown) => void }> = []
  const recorder = {
    runCommand: (command: string, args: unknown[]): Promise<unknown> => new Promise(resolve => captured.push({ command, args, settle: resolve }))
  }
  const added = jobs.map(job => new Job(queue, job.name, job.data, job.opts, job.opts.jobId).addJob(recorder as never, { parentKey: undefined, parentDependenciesKey: '' } as never))
  if (captured.length !== jobs.length) throw new Error(`the installed bullmq did not build its add calls synchronously (${captured.length} of ${jobs.length})`)
  const byScript = new Map<BatchedScript, typeof captured>()
  for (const call of captured) {
    // BullMQ names its commands "<script>:<version>"
    const script = call.command.slice(0, call.command.indexOf(':')) as BatchedScript
    if (!BATCHED.includes(script)) throw new Error(`bullmq used ${call.command}, which is not batched here`)
    const group = byScript.get(script)
    if (group === undefined) byScript.set(script, [call])
    else group.push(call)
  }
  for (const [script, calls] of byScript) {
    const replies = await runBatched(redis, script, calls.map(call => call.args))
    calls.forEach((call, i) => call.settle(replies[i]))
  }
  await Promise.all(added)
}
