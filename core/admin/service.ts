import { randomUUID } from 'node:crypto'
import { Errors, isSwitchyardError } from '../errors.ts'
import { withArgumentChecks } from '../backend/argument-guard.ts'
import { withTimeouts } from '../backend/guard.ts'
import { observerFor } from '../metrics-wiring.ts'
import { createEnqueuer } from '../tasks/enqueuer.ts'
import { AdminErrors } from '../contract/errors.ts'
import { RPCS, type RequestOf, type ResponseOf, type RpcName } from '../contract/rpcs.ts'
import { validateRequest } from '../contract/validate.ts'
import { jsonValueFieldNames } from '../contract/json-fields.ts'
import { AuditNotStored, AuditRecorder, auditParams } from './audit.ts'
import { exportAudit, listAuditEvents } from './audit-log.ts'
import type { AdminContext, MutationResult } from './context.ts'
import { ActionCounters } from './counters.ts'
import { deleteDLQEntry, getDLQEntry, getDLQStats, listDLQ, replayDLQ, replayDLQByID } from './dlq.ts'
import { purgeDLQ } from './dlq-housekeeping.ts'
import { assertEventId, EventPages, EventTail, EventWaker, followEventPages, followEvents, FROM_OLDEST_EVENT_ID } from './events.ts'
import { assertAdminOptions, assertApproved, assertWritable, authorize } from './guards.ts'
import { LatencyTracker } from './latency.ts'
import { getHealth, getOverview } from './overview.ts'
import { getMetrics } from './metrics.ts'
import { getQueue, listQueues, pauseDequeue, pauseQueue, resetQueueWeight, updateQueueWeight } from './queues.ts'
import { runBudgetFor, ScheduleRpcs } from './schedules.ts'
import { cancelTask, enqueueTask, getTask, listTasks, listWorkers, retryTask, getTaskGraph } from './tasks.ts'
import { bulkTaskAction, drainQueue, rescheduleTask } from './task-actions.ts'
import { cancelTaskByKey, deleteTaskByKey, getTaskByKey } from './task-keys.ts'
import { JobRpcs } from './jobs.ts'
import type { AdminServiceDeps, CallContext, EventStream, RunningAdminService, ServerStream } from './types.ts'
import { silentLogger } from '../worker/logger.ts'
import { getSession } from './session.ts'
import { listEvents } from './event-list.ts'
import { getMetricsHistory } from '../metrics-history/reader.ts'
import { cordonWorker, releaseWorkerLeases, sweepWorkers, uncordonWorker } from './workers.ts'
import { clearFlowLimit, listRateLimits, setFlowLimit } from './flow.ts'

const DEFAULT_EVENT_POLL_MS = 500
/** codes that mean a guard refused the call (audited as `denied`, not `error`) */
const DENIALS = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'READ_ONLY', 'APPROVAL_REQUIRED', 'GUARDRAIL_EXCEEDED'])
const MAX_TARGET = 256

function defaultTarget (action: string, request: unknown): string {
  const fields = (request !== null && typeof request === 'object' ? request : {}) as Record<string, unknown>
  const named = typeof fields.name === 'string' ? fields.name : typeof fields.id === 'string' ? fields.id : undefined
  return (named ?? action.split('.')[0] ?? action).slice(0, MAX_TARGET)
}

function errorSummary (err: unknown): string {
  const cause = err instanceof AuditNotStored ? err.backendError : err
  return isSwitchyardError(cause) ? `${cause.code}: ${cause.message}` : 'INTERNAL: internal error'
}

/** who else took part in the call: the gateway that named the actor (and the role it gave), or a forwarder that was not believed */
function hopParams (call: CallContext): Record<string, string> {
  const params: Record<string, string> = {}
  if (typeof call.via === 'string' && call.via !== '') params.via = call.via
  if (typeof call.untrustedForwardedIdentity === 'string' && call.untrustedForwardedIdentity !== '') params.untrustedForwardedIdentity = call.untrustedForwardedIdentity
  if (typeof call.forwardedRole === 'string' && call.forwardedRole !== '') params.forwardedRole = call.forwardedRole
  if (typeof call.untrustedForwardedRole === 'string' && call.untrustedForwardedRole !== '') params.untrustedForwardedRole = call.untrustedForwardedRole
  return params
}

/**
 * The admin contract v1 over the backend contract, with no transport: the gRPC
 * server and the HTTP gateway both call these methods, so guards, validation, audit
 * and events behave the same whichever way a caller came in.
 */
export function createAdminService (deps: AdminServiceDeps): RunningAdminService {
  assertAdminOptions(deps.options)
  const { options, info, events } = deps
  const onError = deps.onError ?? (() => {})
  const log = deps.log ?? silentLogger
  const backend = withTimeouts(withArgumentChecks(deps.backend), options.requestTimeoutMs)
  const observe = deps.observe
  const audit = new AuditRecorder(backend, events, deps.auditSinks ?? [], options, onError,
    observe === undefined ? undefined : destination => { observe({ type: 'audit.write_failed', destination }) })
  const counters = new ActionCounters()
  const enqueuer = deps.enqueuer ?? createEnqueuer({ backend, events, observe: observerFor(deps.metricsExporters ?? []), defaults: info.taskDefaults })
  const ctx: AdminContext = { backend, events, enqueuer, options, info, audit, counters, onError }
  const latency = new LatencyTracker(backend)
  const waker = new EventWaker(backend, options.eventPollIntervalMs ?? DEFAULT_EVENT_POLL_MS, onError)
  const tail = new EventTail(backend)
  const pages = new EventPages(backend)
  const schedules = new ScheduleRpcs(deps.scheduler, runBudgetFor(ctx), backend)
  const jobs = new JobRpcs(ctx, deps.jobs)

  function read<N extends RpcName> (name: N, run: (request: RequestOf<N>, call: CallContext) => Promise<ResponseOf<N>>) {
    const def = RPCS[name]
    return async (request: RequestOf<N>, call: CallContext): Promise<ResponseOf<N>> => {
      try {
        authorize(def, call, options)
        const response = await run(validateRequest<RequestOf<N>>(def, request), call)
        log.debug({ rpc: name, actor: call.actor, requestId: call.requestId }, `admin ${name} by ${call.actor}`)
        return response
      } catch (err) {
        log.debug({ rpc: name, actor: call.actor, requestId: call.requestId, error: errorSummary(err) }, `admin ${name} by ${call.actor} failed`)
        throw err
      }
    }
  }

  function mutation<N extends RpcName> (name: N, run: (request: RequestOf<N>) => Promise<MutationResult<ResponseOf<N>>>) {
    const def = RPCS[name]
    const action = def.auditAction ?? name
    const jsonFields = jsonValueFieldNames(def.request)
    return async (request: RequestOf<N>, call: CallContext): Promise<ResponseOf<N>> => {
      const base = {
        action,
        actor: typeof call.actor === 'string' && call.actor !== '' ? call.actor : '(no client identity)',
        requestId: typeof call.requestId === 'string' && call.requestId !== '' ? call.requestId : randomUUID(),
        params: { ...auditParams(request, jsonFields), ...hopParams(call) }
      }
      let result: MutationResult<ResponseOf<N>>
      try {
        authorize(def, call, options)
        assertWritable(def, options)
        assertApproved(def, call, options)
        result = await run(validateRequest<RequestOf<N>>(def, request))
      } catch (err) {
        const outcome = isSwitchyardError(err) && DENIALS.has(err.code) ? 'denied' as const : 'error' as const
        const target = defaultTarget(action, request)
        try {
          await audit.record({ ...base, target, outcome, error: errorSummary(err) }, !options.readOnly)
        } catch (auditErr) {
          onError(auditErr, `audit of a failed ${name}`)
        }
        logMutation(base, target, outcome, errorSummary(err))
        throw err
      }
      counters.recordSuccess(name, action, request, result.auditResult)
      for (const event of result.events ?? []) events.emit(event.type, event.data)
      if (result.events !== undefined) deps.history?.noteAdminEvents(result.events)
      const params = result.auditResult === undefined ? base.params : { ...base.params, result: result.auditResult }
      const target = (result.target ?? defaultTarget(action, request)).slice(0, MAX_TARGET)
      try {
        await audit.record({ ...base, params, target, outcome: 'ok' }, true)
      } catch (err) {
        logMutation(base, target, 'ok', `audit not stored: ${errorSummary(err)}`)
        throw AdminErrors.auditUnavailable(`${name} was applied but its audit event could not be stored: ${errorSummary(err)}`, { cause: err, details: { action, outcome: 'ok' } })
      }
      logMutation(base, target, 'ok')
      return result.response
    }
  }

  /** The one log line of a mutation, whatever its outcome: what the audit record says, for whoever reads the log. */
  function logMutation (base: { action: string, actor: string, requestId: string }, target: string, outcome: 'ok' | 'denied' | 'error', error?: string): void {
    const fields = { action: base.action, target, actor: base.actor, outcome, requestId: base.requestId, ...(error === undefined ? {} : { error }) }
    log.info(fields, `admin ${base.action} ${target} by ${base.actor}: ${outcome}${error === undefined ? '' : ` (${error})`}`)
  }

  /** as validateRequest, with the HTTP header named too: on the gateway afterId is Last-Event-ID */
  function validateEventsRequest (request: RequestOf<'StreamEvents'>): RequestOf<'StreamEvents'> {
    try {
      return validateRequest<RequestOf<'StreamEvents'>>(RPCS.StreamEvents, request)
    } catch (err) {
      const details = isSwitchyardError(err) ? err.details as { field?: unknown } | undefined : undefined
      if (details?.field !== 'afterId') throw err
      throw Errors.validation(`afterId (HTTP header Last-Event-ID): ${(err as Error).message.replace(/^afterId: /, '')}`, { cause: err, details: { ...details, header: 'Last-Event-ID' } })
    }
  }

  function streamEvents (request: RequestOf<'StreamEvents'>, call: CallContext): EventStream {
    const def = RPCS.StreamEvents
    const opened = (async () => {
      authorize(def, call, options)
      const valid = validateEventsRequest(request)
      if (!backend.capabilities.eventLog) throw Errors.unsupported(`the ${backend.name} backend keeps no event log`, { details: { backend: backend.name } })
      if (valid.afterId === undefined) return await tail.find()
      if (valid.afterId === FROM_OLDEST_EVENT_ID) return null
      await assertEventId(backend, valid.afterId)
      return valid.afterId
    })()
    const ready = opened.then(() => undefined)
    // A transport that iterates without awaiting `ready` still gets the error from the iterator.
    ready.catch(() => {})
    return {
      ready,
      async * [Symbol.asyncIterator] () {
        yield * followEvents(backend, pages, waker, tail, await opened, call.signal)
      },
      async * pages () {
        yield * followEventPages(backend, pages, waker, tail, await opened, call.signal)
      }
    }
  }

  /** a read-only server stream: authorised and validated before `ready`, then the items of `run` */
  function readStream<N extends 'GetJobArtifact'> (name: N, run: (request: RequestOf<N>, signal: AbortSignal | undefined) => AsyncGenerator<ResponseOf<N>>) {
    const def = RPCS[name]
    return (request: RequestOf<N>, call: CallContext): ServerStream<ResponseOf<N>> => {
      const opened = (async () => {
        authorize(def, call, options)
        const items = run(validateRequest<RequestOf<N>>(def, request), call.signal)
        // The first item finds the artifact: a refusal (404, 501) is answered before streaming starts.
        const first = await items.next()
        log.debug({ rpc: name, actor: call.actor, requestId: call.requestId }, `admin ${name} by ${call.actor}`)
        return { items, first }
      })()
      const ready = opened.then(() => undefined)
      ready.catch(() => {})
      return {
        ready,
        async * [Symbol.asyncIterator] () {
          const { items, first } = await opened
          if (first.done === true) return
          yield first.value
          yield * items
        }
      }
    }
  }

  return {
    GetHealth: read('GetHealth', async () => await getHealth(ctx)),
    GetOverview: read('GetOverview', () => getOverview(ctx, latency)),
    ListQueues: read('ListQueues', async () => await listQueues(ctx)),
    GetQueue: read('GetQueue', async request => await getQueue(ctx, request)),
    UpdateQueueWeight: mutation('UpdateQueueWeight', async request => await updateQueueWeight(ctx, request)),
    ResetQueueWeight: mutation('ResetQueueWeight', async request => await resetQueueWeight(ctx, request)),
    PauseQueue: mutation('PauseQueue', async request => await pauseQueue(ctx, request)),
    ListScheduleFactories: read('ListScheduleFactories', async () => await schedules.listFactories()),
    ListSchedules: read('ListSchedules', async () => await schedules.listSchedules()),
    CreateSchedule: mutation('CreateSchedule', async request => await schedules.create(request)),
    DeleteSchedule: mutation('DeleteSchedule', async request => await schedules.remove(request)),
    PauseSchedule: mutation('PauseSchedule', async request => await schedules.pause(request)),
    RunSchedule: mutation('RunSchedule', async request => await schedules.run(request)),
    PauseSchedules: mutation('PauseSchedules', async request => await schedules.pauseAll(request)),
    ListScheduleEvents: read('ListScheduleEvents', async request => await schedules.listEvents(request)),
    ListDLQ: read('ListDLQ', async request => await listDLQ(ctx, request)),
    GetDLQStats: read('GetDLQStats', async () => await getDLQStats(ctx)),
    GetDLQEntry: read('GetDLQEntry', async request => await getDLQEntry(ctx, request)),
    ReplayDLQ: mutation('ReplayDLQ', async request => await replayDLQ(ctx, request)),
    ReplayDLQByID: mutation('ReplayDLQByID', async request => await replayDLQByID(ctx, request)),
    DeleteDLQEntry: mutation('DeleteDLQEntry', async request => await deleteDLQEntry(ctx, request)),
    PurgeDLQ: mutation('PurgeDLQ', async request => await purgeDLQ(ctx, request)),
    PauseDequeue: mutation('PauseDequeue', async () => await pauseDequeue(ctx, true)),
    ResumeDequeue: mutation('ResumeDequeue', async () => await pauseDequeue(ctx, false)),
    ListTasks: read('ListTasks', async request => await listTasks(ctx, request)),
    GetTask: read('GetTask', async request => await getTask(ctx, request)),
    EnqueueTask: mutation('EnqueueTask', async request => await enqueueTask(ctx, request)),
    GetTaskGraph: read('GetTaskGraph', async request => await getTaskGraph(ctx, request)),
    CancelTask: mutation('CancelTask', async request => await cancelTask(ctx, request)),
    RetryTask: mutation('RetryTask', async request => await retryTask(ctx, request)),
    GetTaskByKey: read('GetTaskByKey', async request => await getTaskByKey(ctx, request)),
    CancelTaskByKey: mutation('CancelTaskByKey', async request => await cancelTaskByKey(ctx, request)),
    DeleteTaskByKey: mutation('DeleteTaskByKey', async request => await deleteTaskByKey(ctx, request)),
    ListWorkers: read('ListWorkers', async request => await listWorkers(ctx, request)),
    ListAuditEvents: read('ListAuditEvents', async request => await listAuditEvents(ctx, request)),
    ExportAudit: read('ExportAudit', async request => await exportAudit(ctx, request)),
    GetMetrics: read('GetMetrics', async request => await getMetrics(deps.metricsExporters ?? [], request)),
    StreamEvents: streamEvents,
    GetSession: read('GetSession', async (_request, call) => getSession(ctx, call)),
    ListEvents: read('ListEvents', async request => await listEvents(ctx, request)),
    GetMetricsHistory: read('GetMetricsHistory', async request => await getMetricsHistory(backend, request)),
    ListJobs: read('ListJobs', async request => await jobs.list(request)),
    GetJob: read('GetJob', async request => await jobs.get(request)),
    BulkTaskAction: mutation('BulkTaskAction', async request => await bulkTaskAction(ctx, request)),
    DrainQueue: mutation('DrainQueue', async request => await drainQueue(ctx, request)),
    RescheduleTask: mutation('RescheduleTask', async request => await rescheduleTask(ctx, request)),
    UpsertJob: mutation('UpsertJob', async request => await jobs.upsert(request)),
    DeleteJob: mutation('DeleteJob', async request => await jobs.remove(request)),
    RunJob: mutation('RunJob', async request => await jobs.run(request)),
    ListJobRuns: read('ListJobRuns', async request => await jobs.listRuns(request)),
    GetJobRun: read('GetJobRun', async request => await jobs.getRun(request)),
    CancelJobRun: mutation('CancelJobRun', async request => await jobs.cancelRun(request)),
    ListJobEvents: read('ListJobEvents', async request => await jobs.listEvents(request)),
    GetJobArtifactMeta: read('GetJobArtifactMeta', async request => await jobs.artifactMeta(request)),
    GetJobArtifact: readStream('GetJobArtifact', (request, signal) => jobs.artifactChunks(request, signal)),
    CordonWorker: mutation('CordonWorker', async request => await cordonWorker(ctx, request)),
    UncordonWorker: mutation('UncordonWorker', async request => await uncordonWorker(ctx, request)),
    ReleaseWorkerLeases: mutation('ReleaseWorkerLeases', async request => await releaseWorkerLeases(ctx, request)),
    SweepWorkers: mutation('SweepWorkers', async request => await sweepWorkers(ctx, request)),
    ListRateLimits: read('ListRateLimits', async () => await listRateLimits(ctx)),
    SetFlowLimit: mutation('SetFlowLimit', async request => await setFlowLimit(ctx, request)),
    ClearFlowLimit: mutation('ClearFlowLimit', async request => await clearFlowLimit(ctx, request)),
    async close () {
      await audit.close()
      await waker.close()
    }
  }
}
