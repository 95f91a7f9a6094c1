// Retention of finished tasks: succeeded, canceled and (when configured) dead tasks are
// deleted once they have been finished longer than their state's retention. One process
// at a time does it, the holder of its own leader lock, so a cluster of workers issues
// one stream of deletes instead of racing each other; backends without leader locks
// prune from every process (a prune is idempotent, only the work is repeated).
// Each backend call deletes at most `batchSize` tasks and a pass makes a bounded number
// of calls, so pruning a large backlog never holds locks or blocks Redis for long.
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import type { Backend, FinalState } from '../backend/types.ts'
import { Periodic } from '../worker/periodic.ts'
import type { Logger } from '../worker/logger.ts'

export const RETENTION_LOCK_NAME = 'switchyard.retention'
/** backend calls per state in one pass; a pass that used them all runs again at once */
export const MAX_CALLS_PER_STATE = 10
/** a leader that stops renewing is replaced after at least this long */
const MIN_LEADER_TTL_MS = 30_000

export interface RetentionOptions {
  /** how long tasks of each final state are kept after they finish; a state left out is kept until deleted */
  keep: Partial<Record<FinalState, number>>
  intervalMs: number
  batchSize: number
  /** this process in the leader lock */
  nodeId?: string
}

export interface PrunePass {
  /** false: another process holds the retention lock, nothing was pruned here */
  leader: boolean
  pruned: Record<FinalState, number>
  /** some state still had a full batch at the end of the pass */
  more: boolean
}

export interface RetentionInput {
  backend: Backend
  log: Logger
  options: RetentionOptions
  /** called after each pass that deleted something (metrics) */
  onPruned?: (state: FinalState, count: number) => void
}

export class RetentionPruner {
  private readonly backend: Backend
  private readonly log: Logger
  private readonly keep: Array<[FinalState, number]>
  private readonly batchSize: number
  private readonly nodeId: string
  private readonly leaderTtlMs: number
  private readonly periodic: Periodic
  private leaderToken: number | null = null

  constructor (private readonly input: RetentionInput) {
    this.backend = input.backend
    this.log = input.log
    this.keep = (Object.entries(input.options.keep) as Array<[FinalState, number | undefined]>)
      .filter((entry): entry is [FinalState, number] => entry[1] !== undefined)
    this.batchSize = input.options.batchSize
    this.nodeId = input.options.nodeId ?? `${hostname().slice(0, 40)}-${process.pid}-${randomBytes(3).toString('hex')}`
    this.leaderTtlMs = Math.max(MIN_LEADER_TTL_MS, 3 * input.options.intervalMs)
    this.periodic = new Periodic({
      name: 'retention',
      intervalMs: input.options.intervalMs,
      initialDelayMs: 0,
      log: input.log,
      run: async () => (await this.pass()).more
    })
  }

  start (): void {
    if (this.keep.length > 0) this.periodic.start()
  }

  async stop (): Promise<void> {
    await this.periodic.stop()
    if (this.leaderToken !== null) {
      const token = this.leaderToken
      this.leaderToken = null
      await this.backend.releaseLeader(RETENTION_LOCK_NAME, this.nodeId, token).catch(() => false)
    }
  }

  /** One bounded pass: prune every state with a retention, if this process leads. */
  async pass (): Promise<PrunePass> {
    const result: PrunePass = { leader: false, pruned: { succeeded: 0, canceled: 0, dead: 0 }, more: false }
    if (!await this.lead()) return result
    result.leader = true
    for (const [state, keepMs] of this.keep) {
      for (let call = 0; call < MAX_CALLS_PER_STATE; call++) {
        const n = await this.backend.pruneFinished({ state, finishedOlderThanMs: keepMs, limit: this.batchSize })
        result.pruned[state] += n
        if (n < this.batchSize) break
        if (call === MAX_CALLS_PER_STATE - 1) result.more = true
      }
      if (result.pruned[state] > 0) this.input.onPruned?.(state, result.pruned[state])
    }
    const total = result.pruned.succeeded + result.pruned.canceled + result.pruned.dead
    if (total > 0) this.log.info({ pruned: result.pruned }, `retention: deleted ${total} finished tasks`)
    return result
  }

  private async lead (): Promise<boolean> {
    if (!this.backend.capabilities.leaderLock) return true
    try {
      const result = await this.backend.acquireLeader(RETENTION_LOCK_NAME, this.nodeId, this.leaderTtlMs)
      const was = this.leaderToken !== null
      this.leaderToken = result.acquired ? result.lock?.token ?? null : null
      if (result.acquired !== was) this.log.info({ node: this.nodeId }, result.acquired ? 'retention: pruning finished tasks (leader)' : 'retention: another process prunes')
    } catch (err) {
      // without an answer this process cannot know it still leads: it stands down until it can
      this.leaderToken = null
      throw err
    }
    return this.leaderToken !== null
  }
}

export function createRetentionPruner (input: RetentionInput): RetentionPruner {
  return new RetentionPruner(input)
}
