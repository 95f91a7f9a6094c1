// Which admin RPCs are mutations, and the action each counts as. The names are the
// audit actions the admin service records, so a metric and an audit line match.
const ACTION_BY_RPC: Readonly<Record<string, string>> = {
  UpdateQueueWeight: 'queue.weight.update',
  ResetQueueWeight: 'queue.weight.reset',
  PauseQueue: 'queue.pause',
  CreateSchedule: 'schedule.upsert',
  DeleteSchedule: 'schedule.delete',
  PauseSchedule: 'schedule.pause',
  RunSchedule: 'schedule.run',
  PauseSchedules: 'schedules.pause',
  UpsertJob: 'job.upsert',
  DeleteJob: 'job.delete',
  RunJob: 'job.run',
  ReplayDLQ: 'dlq.replay',
  ReplayDLQByID: 'dlq.replay_ids',
  DeleteDLQEntry: 'dlq.delete',
  PauseDequeue: 'dequeue.pause',
  ResumeDequeue: 'dequeue.resume',
  EnqueueTask: 'task.enqueue',
  CancelTask: 'task.cancel',
  RetryTask: 'task.retry'
}

/** The action a mutation RPC counts as, or undefined for reads. */
export function actionOfRpc (rpc: string): string | undefined {
  return Object.hasOwn(ACTION_BY_RPC, rpc) ? ACTION_BY_RPC[rpc] : undefined
}
