import { createRequire } from 'node:module'
import { Job, type JobJson, type JobsOptions, type Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { hoistDefinitions } from './lua-hoist.ts'
import { luaSource } from './scripts.ts'

// BullMQ's transition scripts take one job per call; a worker leasing or acking a
// batch would pay one script call (and its argument packing) per job. These
// scripts run BullMQ's own script text (from the installed bullmq, so behaviour
// tracks its version exactly) once per job inside a single call: the script body
// becomes a Lua function (its helper functions defined once, see lua-hoist.ts),
// and a small driver sets KEYS/ARGV the way BullMQ would before each run.

interface BullMQScript { name: string, content: string, keys: number }

const bullmqScripts = createRequire(import.meta.url)('bullmq/dist/cjs/scripts/index.js') as Record<string, BullMQScript | undefined>
const lua = luaSource

/** BullMQ functions handler-filter.lua calls: the wrapped script must define them at its top level */
const FILTER_NEEDS = ['getTargetQueueList', 'promoteDelayedJobs']

function wrapped (script: string, driver: string, needs: string[] = []): string {
  return `${asFunction(script, 'bullmqScript', needs)}\n${driver}`
}

/** BullMQ's script as the Lua function `name` (its helper functions defined ahead of it, see lua-hoist.ts) */
function asFunction (script: string, name: string, needs: string[] = []): string {
  const found = bullmqScripts[script]
  if (found === undefined) throw new Error(`the installed bullmq has no ${script} script`)
  const hoisted = hoistDefinitions(found.content)
  const missing = needs.filter(need => hoisted === null || !new RegExp(`^local function ${need}\\(`, 'm').test(hoisted.definitions))
  if (missing.length > 0) throw new Error(`the installed bullmq's ${script} script does not define ${missing.join(', ')} where Switchyard's lease needs them`)
  if (hoisted === null) return `local function ${name}()\n${found.content}\nend`
  return `${hoisted.definitions}\nlocal function ${name}()\n${hoisted.body}\nend`
}

/** BullMQ scripts that can be run for many jobs in one call */
export type BatchedScript = 'moveToFinished' | 'retryJob' | 'moveToDelayed' | 'addStandardJob' | 'addPrioritizedJob' | 'addDelayedJob'
const BATCHED: BatchedScript[] = ['moveToFinished', 'retryJob', 'moveToDelayed', 'addStandardJob', 'addPrioritizedJob', 'addDelayedJob']
const batchCommand = (script: BatchedScript): string => `sy_batch_${script}`
const ADD_SCRIPTS: BatchedScript[] = ['addStandardJob', 'addPrioritizedJob', 'addDelayedJob']
/** an add script whose jobs wait for parent tasks (add-blocked.lua) */
const blockedAddCommand = (script: BatchedScript): string => `sy_add_blocked_${script}`
/** an add script of fresh jobs that also registers the queue and indexes the ids (add-fresh.lua) */
const freshAddCommand = (script: BatchedScript): string => `sy_add_fresh_${script}`

export function defineBatchScripts (redis: Redis): void {
  const filter = lua('handler-filter.lua')
  redis.defineCommand('sy_lease_jobs', { numberOfKeys: 0, lua: wrapped('moveToActive', `${filter}\n${lua('flow.lua')}\n${lua('lease-jobs.lua')}`, FILTER_NEEDS) })
  const runCalls = lua('run-calls.lua')
  // task dependencies (deps.lua, on prelude.lua): finishing a job settles its children, adding a child may block it
  const deps = `${lua('prelude.lua')}\n${lua('deps.lua')}`
  for (const script of BATCHED) {
    const driver = script === 'moveToFinished' ? `${deps}\n${lua('finish.lua')}` : `local syScript = '${script}'\n${lua('batch.lua')}`
    redis.defineCommand(batchCommand(script), { numberOfKeys: 0, lua: wrapped(script, `${runCalls}\n${driver}`) })
  }
  for (const script of ADD_SCRIPTS) redis.defineCommand(blockedAddCommand(script), { numberOfKeys: 0, lua: wrapped(script, `${runCalls}\n${deps}\n${lua('add-blocked.lua')}`) })
  // The fresh add pushes ready jobs to idle workers (lib/push-lease.lua) with moveToActive and the
  // handler filter, defined first: the filter calls moveToActive's helpers, and the add
  // script's helpers of the same names, defined after, do not replace those it sees.
  const pushing = `${asFunction('moveToActive', 'moveToActiveScript', FILTER_NEEDS)}\n${filter}`
  for (const script of ADD_SCRIPTS) redis.defineCommand(freshAddCommand(script), { numberOfKeys: 0, lua: `${pushing}\n${wrapped(script, `${runCalls}\nlocal syScript = '${script}'\n${lua('add-fresh.lua')}`)}` })
  redis.defineCommand(COMPLETE_AND_FETCH, { numberOfKeys: 0, lua: wrapped('moveToFinished', `${runCalls}\n${filter}\n${deps}\n${lua('complete-and-fetch.lua')}`, FILTER_NEEDS) })
}

const COMPLETE_AND_FETCH = 'sy_complete_and_fetch'

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
  /** handler names the caller runs (undefined: every handler) */
  handlers: string[] | undefined
  /** take the global rate limit's permits in each script call, on the Redis clock that stamps the starts (lease-jobs.lua) */
  withinRateLimit: boolean
}

export interface LeasedJobs {
  jobs: LeasedJob[]
  /** withinRateLimit: the window's permits, not the queues, ended the lease */
  rateLimited: boolean
}

/**
 * Jobs a lease parks at most per queue per call (jobs whose handler the caller does
 * not run, see lua/handler-filter.lua): each is parked once, so this only bounds how
 * long one call may hold Redis when a backlog of such jobs is first met.
 */
export const PARK_PER_LEASE = 10_000

/** the handler set as the scripts take it: its size (-1: every handler), then the names */
function handlerArgs (handlers: string[] | undefined): Array<string | number> {
  return handlers === undefined ? [-1] : [handlers.length, ...handlers]
}

/** jobs per script call: bounds how long one call holds Redis (a few ms) */
const CALLS_PER_SCRIPT = 100
const LEASES_PER_SCRIPT = 200

/**
 * Leases up to req.limit jobs; larger batches go out as several script calls in one round
 * trip (within the rate limit each takes its own permits, atomically).
 */
export async function leaseJobs (redis: Redis, req: LeaseJobsRequest): Promise<LeasedJobs> {
  const runner = redis as unknown as Runner
  const calls: Array<Promise<unknown>> = []
  for (let from = 0; from < req.limit; from += LEASES_PER_SCRIPT) {
    // each call's tokens get their own base, so tokens stay unique across the calls
    calls.push(runner.sy_lease_jobs!(`${req.prefix}:`, req.ownBase, Date.now(), Math.min(LEASES_PER_SCRIPT, req.limit - from), `${req.tokenBase}${from}:`, req.leaseMs, req.workerId,
      PARK_PER_LEASE, req.withinRateLimit ? '1' : '0', ...handlerArgs(req.handlers), ...req.queues))
  }
  const replies = await Promise.all(calls)
  if (!req.withinRateLimit) return { jobs: (replies as LeasedJob[][]).flat(), rateLimited: false }
  const jobs: LeasedJob[] = []
  let rateLimited = false
  for (const [leased, limited] of replies as Array<[LeasedJob[], number]>) {
    jobs.push(...leased)
    if (limited === 1) rateLimited = true
  }
  return { jobs, rateLimited }
}

/**
 * Runs `script` once per argument list (keys then arguments, as BullMQ's *Args
 * builders return them) in as few calls as CALLS_PER_SCRIPT allows; replies in order.
 * Each list goes out as its difference from the one before (see run-calls.lua): the
 * queue's keys and the packed options repeat, so a job costs a few values, not ~25.
 */
export async function runBatched (redis: Redis, script: BatchedScript, calls: unknown[][]): Promise<unknown[]> {
  return await runChunked(redis, batchCommand(script), [], calls, (bullmqScripts[script] as BullMQScript).keys)
}

/** where acks may fetch the next jobs (see complete-and-fetch.lua) */
export interface FetchTarget {
  ownBase: string
  /** "<prefix>:<queue>:" */
  queueBase: string
  queue: string
  leaseMs: number
  /** the leasing worker: a cordoned one fetches nothing */
  workerId: string
  /** handler names the caller runs (undefined: every handler) */
  handlers: string[] | undefined
}

/**
 * BullMQ's moveToFinished for each argument list, where lists built with fetchNext
 * also lease target's next job: a reply [flatHash, jobId, 0, 0, expiresAt] when one
 * was taken. Sent before the first await, so a command issued after it runs after it.
 */
export async function completeAndFetch (redis: Redis, target: FetchTarget, calls: unknown[][]): Promise<unknown[]> {
  const header = [target.ownBase, target.queueBase, target.queue, target.leaseMs, PARK_PER_LEASE, target.workerId, ...handlerArgs(target.handlers)]
  return await runChunked(redis, COMPLETE_AND_FETCH, header, calls, (bullmqScripts.moveToFinished as BullMQScript).keys)
}

/** where the cascades a connection's batched scripts report go (the backend's listeners), per connection */
const cascadeSinks = new WeakMap<Redis, (triples: unknown) => void>()

/**
 * finish.lua and add-blocked.lua follow their replies with { 'sy:cascaded', triples }
 * when their runs canceled or dead-lettered blocked tasks (deps.lua): those go to `sink`.
 */
export function reportCascadesTo (redis: Redis, sink: (triples: unknown) => void): void {
  cascadeSinks.set(redis, sink)
}

async function runChunked (redis: Redis, command: string, header: unknown[], calls: unknown[][], keyCount: number): Promise<unknown[]> {
  const runner = redis as unknown as Runner
  const chunks: Array<Promise<unknown[]>> = []
  for (let i = 0; i < calls.length; i += CALLS_PER_SCRIPT) {
    const count = Math.min(CALLS_PER_SCRIPT, calls.length - i)
    chunks.push((runner[command]!(...header, ...encodeCalls(calls.slice(i, i + CALLS_PER_SCRIPT), keyCount)) as Promise<unknown[]>).then(replies => {
      if (replies.length > count) {
        const extra = replies.pop()
        if (Array.isArray(extra) && extra[0] === 'sy:cascaded') cascadeSinks.get(redis)?.(extra[1])
      }
      return replies
    }))
  }
  return (await Promise.all(chunks)).flat()
}

/** one script call's calls, each as (keys, arguments, changed slots, slot/value pairs) */
function encodeCalls (calls: unknown[][], keyCount: number): unknown[] {
  const flat: unknown[] = []
  let previous: unknown[] = []
  for (const args of calls) {
    // BullMQ leaves optional trailing arguments undefined; ioredis sends those as ''
    const values = args.map(arg => arg === undefined ? '' : arg)
    const header = flat.length
    flat.push(keyCount, values.length - keyCount, 0)
    let changed = 0
    values.forEach((value, i) => {
      if (i < previous.length && sameArgument(previous[i], value)) return
      flat.push(i + 1, value)
      changed++
    })
    flat[header + 2] = changed
    previous = values
  }
  return flat
}

function sameArgument (a: unknown, b: unknown): boolean {
  if (a === b) return true
  return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b)
}

export interface NewJob {
  id: string
  name: string
  /** the job's data as the JSON text to store (the task's payloadJson: encoded once, by core) */
  dataJson: string
  /** without jobId and timestamp: those are given apart, so they stay out of the stored opts */
  opts: JobsOptions
  /** creation time on the backend clock */
  timestamp: number
}

/** a Job that stores its data as given JSON text, where BullMQ's asJSON would encode the data once more */
class EncodedJob extends Job {
  private readonly dataJson: string

  constructor (queue: Queue, name: string, dataJson: string, opts: JobsOptions, id: string) {
    super(queue, name, null, opts, id)
    this.dataJson = dataJson
  }

  override asJSON (): JobJson {
    const json = super.asJSON()
    json.data = this.dataJson
    return json
  }
}

/**
 * Adds jobs to one queue as Queue.addBulk does (onAdded hears of each job once it is in), with each add script's calls
 * batched. BullMQ itself builds every job's script arguments (ids, packed options,
 * data) and hands them to client.runCommand; a recording client collects them, the
 * batches run, and each job's own add call settles with its script's reply (so
 * BullMQ's checks of that reply still apply). Jobs are built and sent a script
 * call's worth at a time, so Redis runs one call while the next is being built.
 * (Like addBulk's MULTI across connection loss, a failure part way can leave the
 * calls already sent applied; the options BullMQ validates are Switchyard's own.)
 * `issued` is called after each script call's worth has been issued: a caller that
 * corked the connection's socket uncorks it there, so Redis runs that call while the
 * next one is built (see BullMQBackend.enqueueFresh).
 */
export async function addJobs (redis: Redis, queue: Queue, jobs: NewJob[], onAdded: (id: string) => void = () => {}, special?: BlockedJobs | FreshJobs, issued?: () => void): Promise<void> {
  const sent: Array<Promise<void>> = []
  const added: Array<Promise<unknown>> = []
  try {
    sendAddCalls(redis, queue, jobs, sent, added, onAdded, special, issued)
  } catch (err) {
    // the calls that went out settle before the failure is reported (none left unhandled)
    for (const job of added) job.catch(() => {})
    await Promise.allSettled(sent)
    throw err
  }
  // each job's own add call settles with its reply, so BullMQ's checks of it apply
  await Promise.all([...sent, ...added])
}

/**
 * Jobs of one queue that wait for parent tasks (lua/deps.lua, add-blocked.lua): per
 * job id, its policy, its parents' task ids and the same parents as [queue, job id].
 */
export interface BlockedJobs {
  queueBase: string
  ownBase: string
  queue: string
  parents: Map<string, { policy: string, ids: string[], refs: Array<[string, string]> }>
}

/**
 * Fresh jobs of one queue (ids from newTaskId(), no idempotency key, no parents): the
 * add calls also register the queue, index each added job's id, push ready jobs to idle
 * workers and PUBLISH the queue when they leave any ready (add-fresh.lua).
 */
export interface FreshJobs {
  fresh: true
  indexKey: string
  registryKey: string
  queue: string
  /** own key base: where idle workers register for pushes (lua/lib/push.lua) */
  ownBase: string
  /** the work channel, PUBLISHed to by the add when it leaves jobs ready */
  workChannel: string
}

function blockedHeader (blocked: BlockedJobs, jobs: NewJob[]): unknown[] {
  const header: unknown[] = [blocked.queueBase, blocked.ownBase, blocked.queue, 0]
  let m = 0
  for (const job of jobs) {
    const found = blocked.parents.get(job.id)
    if (found === undefined) continue
    header.push(job.id, found.policy, JSON.stringify(found.ids), JSON.stringify(found.refs))
    m++
  }
  header[3] = m
  return header
}

/** the job names of one fresh add call's calls as add-fresh.lua takes them: their count, then the names (one when all are the same) */
function namesArgs (names: string[]): string[] {
  const first = names[0] ?? ''
  return names.every(name => name === first) ? ['1', first] : [String(names.length), ...names]
}

function sendAddCalls (redis: Redis, queue: Queue, jobs: NewJob[], sent: Array<Promise<void>>, added: Array<Promise<unknown>>, onAdded: (id: string) => void, special?: BlockedJobs | FreshJobs, issued?: () => void): void {
  const blocked = special !== undefined && !('fresh' in special) ? special : undefined
  const fresh = special !== undefined && 'fresh' in special ? special : undefined
  for (let from = 0; from < jobs.length; from += CALLS_PER_SCRIPT) {
    const chunk = jobs.slice(from, from + CALLS_PER_SCRIPT)
    const captured: Array<{ command: string, args: unknown[], name: string, settle: (reply: unknown) => void }> = []
    const recorder = {
      runCommand: (command: string, args: unknown[]): Promise<unknown> => new Promise((resolve, reject) => {
        // a call that failed inside the batch fails that job's add alone; addJob records its
        // call synchronously, in chunk order, so this is the call of chunk[captured.length]
        captured.push({ command, args, name: chunk[captured.length]?.name ?? '', settle: reply => { if (reply instanceof Error) reject(reply); else resolve(reply) } })
      })
    }
    added.push(...chunk.map(job => {
      const built = new EncodedJob(queue, job.name, job.dataJson, job.opts, job.id)
      built.timestamp = job.timestamp
      return built.addJob(recorder as never, { parentKey: undefined, parentDependenciesKey: '' } as never).then(() => onAdded(job.id))
    }))
    if (captured.length !== chunk.length) throw new Error(`the installed bullmq did not build its add calls synchronously (${captured.length} of ${chunk.length})`)
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
      const args = calls.map(call => call.args)
      const keyCount = (bullmqScripts[script] as BullMQScript).keys
      const run = blocked !== undefined
        ? runChunked(redis, blockedAddCommand(script), blockedHeader(blocked, chunk), args, keyCount)
        : fresh !== undefined
          ? runChunked(redis, freshAddCommand(script), [fresh.indexKey, fresh.registryKey, fresh.queue, fresh.ownBase, fresh.workChannel, PARK_PER_LEASE, ...namesArgs(calls.map(call => call.name))], args, keyCount)
          : runBatched(redis, script, args)
      sent.push(run.then(replies => calls.forEach((call, i) => call.settle(replies[i]))))
    }
    issued?.()
  }
}
