// The backend conformance suite: one set of behaviour checks that every backend
// (ours and third-party ones) runs against real storage. A backend package wires it
// up in one test file:
//
//   import t from 'tap'
//   import { runBackendConformance } from '@switchyard/core/testing'
//   runBackendConformance(t, { name: 'mine', create, destroy })
//
// Cases are grouped by area; each area gets one fresh backend, and each case uses
// its own queue names so cases never see each other's tasks.

import type { Test } from 'tap'
import { withArgumentChecks } from '../argument-guard.ts'
import { withTimeouts } from '../guard.ts'
import type { Backend } from '../types.ts'
import { uniqueSuffix, type ConformanceArea, type ConformanceContext } from './support.ts'
import { enqueueArea } from './cases/enqueue.ts'
import { leaseArea } from './cases/lease.ts'
import { ackFailRetryArea } from './cases/ack-fail-retry.ts'
import { completeAndLeaseArea } from './cases/complete-and-lease.ts'
import { dlqArea } from './cases/dlq.ts'
import { cancelArea } from './cases/cancel.ts'
import { queuesArea } from './cases/queues.ts'
import { overviewReadArea } from './cases/overview-read.ts'
import { listingArea } from './cases/listing.ts'
import { keysetPagingArea } from './cases/keyset-paging.ts'
import { pruneArea } from './cases/prune.ts'
import { coordinationArea } from './cases/coordination.ts'
import { workersArea } from './cases/workers.ts'
import { eventsArea } from './cases/events.ts'
import { auditArea } from './cases/audit.ts'
import { capabilitiesArea } from './cases/capabilities.ts'
import { recordsArea } from './cases/records.ts'
import { handlersArea } from './cases/handlers.ts'
import { storedInputArea } from './cases/stored-input.ts'
import { resultsArea } from './cases/results.ts'
import { jobsArea } from './cases/jobs.ts'
import { taskActionsArea } from './cases/task-actions.ts'
import { dependenciesArea } from './cases/dependencies.ts'
import { cascadeReportsArea } from './cases/cascade-reports.ts'
import { timeWindowsArea } from './cases/time-windows.ts'
import { dlqHousekeepingArea } from './cases/dlq-housekeeping.ts'
import { idempotencyModesArea } from './cases/idempotency-modes.ts'
import { tenancyArea } from './cases/tenancy.ts'
import { workerOpsArea } from './cases/worker-ops.ts'
import { flowControlArea } from './cases/flow-control.ts'

export interface ConformanceTarget {
  name: string
  /** a fresh, initialised, isolated backend (own schema / key prefix); may be called many times */
  create (): Promise<Backend>
  /** tear down one created backend (close it, drop schema / delete keys) */
  destroy (backend: Backend): Promise<void>
  /**
   * Optional: a second, initialised client of the same storage as `backend`, as another
   * node of a cluster would open it. Cases about cross-node behaviour (concurrent
   * leasing, leader lock, notifications) use it when present; the suite closes it.
   */
  connectPeer? (backend: Backend): Promise<Backend>
}

/** Every call the suite makes is bounded by this, so a hanging method fails its case instead of the run. */
const CALL_TIMEOUT_MS = 20_000

export const CONFORMANCE_AREAS: readonly ConformanceArea[] = [
  capabilitiesArea,
  enqueueArea,
  leaseArea,
  handlersArea,
  ackFailRetryArea,
  resultsArea,
  completeAndLeaseArea,
  dlqArea,
  cancelArea,
  queuesArea,
  overviewReadArea,
  listingArea,
  keysetPagingArea,
  pruneArea,
  coordinationArea,
  workersArea,
  workerOpsArea,
  eventsArea,
  auditArea,
  recordsArea,
  storedInputArea,
  jobsArea,
  taskActionsArea,
  dependenciesArea,
  cascadeReportsArea,
  timeWindowsArea,
  dlqHousekeepingArea,
  idempotencyModesArea,
  tenancyArea,
  flowControlArea
]

export interface RunConformanceOptions {
  /** run only these areas (by name); all when omitted */
  areas?: string[]
}

export function runBackendConformance (t: Test, target: ConformanceTarget, options: RunConformanceOptions = {}): void {
  const areas = options.areas === undefined ? CONFORMANCE_AREAS : CONFORMANCE_AREAS.filter(a => options.areas?.includes(a.name))
  for (const area of areas) {
    t.test(`${target.name}: ${area.name}`, async t => {
      const raw = await target.create()
      let peerRaw: Backend | null = null
      t.teardown(async () => {
        if (peerRaw !== null) await peerRaw.close()
        await target.destroy(raw)
      })
      if (target.connectPeer !== undefined) peerRaw = await target.connectPeer(raw)
      // the backend as core hands it out: argument-checked (registry) and bounded
      const backend = withTimeouts(withArgumentChecks(raw), CALL_TIMEOUT_MS)
      const run = uniqueSuffix()
      const ctx: ConformanceContext = {
        backend,
        capabilities: raw.capabilities,
        peer: peerRaw === null ? backend : withTimeouts(withArgumentChecks(peerRaw), CALL_TIMEOUT_MS),
        hasPeer: peerRaw !== null,
        name: label => `${area.name}.${label}.${run}`
      }
      area.run(t, ctx)
    })
  }
}

export { waitFor, newTask, type ConformanceArea, type ConformanceContext, type WaitForOptions } from './support.ts'
