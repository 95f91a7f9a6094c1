import { MAX_LIST_LIMIT, type Backend } from '../backend/types.ts'
import { Errors } from '../errors.ts'
import { FINAL_RUN_STATES, JOBS_COLLECTION, JOB_RUNS_COLLECTION, type JobDefinition, type JobRun } from './types.ts'

// Job definitions and runs live in backend records, so every node sees the same ones
// and they survive restarts. Runs are written with compare-and-set: the runner moves
// a run through its states while an operator may ask to cancel it, and neither write
// may overwrite the other.

const CAS_ATTEMPTS = 8
/** a listing of runs examines at most this many records (runs are kept newest first) */
export const MAX_RUNS_SCANNED = 5000

export class JobStore {
  constructor (private readonly backend: Backend) {}

  async getJob (name: string): Promise<JobDefinition | null> {
    const row = await this.backend.getRecord(JOBS_COLLECTION, name)
    return row === null ? null : row.value as JobDefinition
  }

  async putJob (job: JobDefinition): Promise<void> {
    await this.backend.putRecord(JOBS_COLLECTION, job.name, job)
  }

  async deleteJob (name: string): Promise<boolean> {
    return await this.backend.deleteRecord(JOBS_COLLECTION, name)
  }

  /** definitions in name order, after `afterName` */
  async listJobs (limit: number, afterName?: string): Promise<JobDefinition[]> {
    const rows = await this.backend.listRecords(JOBS_COLLECTION, { limit: Math.min(limit, MAX_LIST_LIMIT), ...(afterName === undefined ? {} : { afterKey: afterName }) })
    return rows.map(row => row.value as JobDefinition)
  }

  async getRun (id: string): Promise<JobRun | null> {
    const row = await this.backend.getRecord(JOB_RUNS_COLLECTION, id)
    return row === null ? null : row.value as JobRun
  }

  /** stores a new run; false when the id exists already */
  async createRun (run: JobRun): Promise<boolean> {
    return (await this.backend.putRecord(JOB_RUNS_COLLECTION, run.id, run, { ifVersion: null })).ok
  }

  /**
   * Applies `change` to the stored run with compare-and-set, retrying on a concurrent
   * write. `change` returns the new run, or null to leave it as it is. Answers the run
   * as stored afterwards, or null when there is no such run.
   */
  async updateRun (id: string, change: (run: JobRun) => JobRun | null): Promise<JobRun | null> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const row = await this.backend.getRecord(JOB_RUNS_COLLECTION, id)
      if (row === null) return null
      const next = change(structuredClone(row.value as JobRun))
      if (next === null) return row.value as JobRun
      const result = await this.backend.putRecord(JOB_RUNS_COLLECTION, id, next, { ifVersion: row.version })
      if (result.ok) return next
    }
    throw Errors.conflict(`job run ${id}: changed concurrently ${CAS_ATTEMPTS} times in a row; try again`, { details: { runId: id } })
  }

  /** runs newest first, optionally of one job, after the run id `afterId` */
  async listRuns (request: { limit: number, job?: string, afterId?: string }): Promise<JobRun[]> {
    const out: JobRun[] = []
    let afterKey = request.afterId
    let scanned = 0
    while (out.length < request.limit && scanned < MAX_RUNS_SCANNED) {
      const page = await this.backend.listRecords(JOB_RUNS_COLLECTION, { limit: MAX_LIST_LIMIT, ...(afterKey === undefined ? {} : { afterKey }) })
      scanned += page.length
      for (const row of page) {
        const run = row.value as JobRun
        if (request.job === undefined || run.job === request.job) out.push(run)
        if (out.length >= request.limit) break
      }
      if (page.length < MAX_LIST_LIMIT) break
      afterKey = page[page.length - 1]?.key
    }
    return out
  }

  async deleteRun (id: string): Promise<boolean> {
    return await this.backend.deleteRecord(JOB_RUNS_COLLECTION, id)
  }
}

export function isFinalRunState (state: JobRun['state']): boolean {
  return FINAL_RUN_STATES.includes(state)
}
