// What the scale-out benchmark and its worker processes share: how a process opens the
// backend under test (the same storage in every process), and the messages they
// exchange over the IPC channel of child_process.fork.
import type { Backend } from '@switchyard/core'
import type { WorkerOptionsInput } from '../../core/worker/index.ts'
import { loadBackendFactory } from './load.ts'

export const SCALE_OUT_QUEUE = 'bench'
export const SCALE_OUT_HANDLER = 'noop'

/** one storage every process opens: a Postgres schema, or a Redis key prefix */
export type BackendSpec =
  | { kind: 'postgres', connectionString: string, schema: string, poolSize: number }
  | { kind: 'redis', url: string, prefix: string }
  | { kind: 'bullmq', url: string, prefix: string }

/** what a worker process is started with (its one argument, as JSON) */
export interface WorkerSpec {
  backend: BackendSpec
  worker: WorkerOptionsInput
  /** false: the worker appends no task.* events */
  taskEvents: boolean
}

/** parent → worker process */
export type ParentMessage = { type: 'go' } | { type: 'stop' }

/** worker process → parent */
export type WorkerMessage =
  | { type: 'ready' }
  /** handler runs so far (sent at most every PROGRESS_EVERY_MS while it changes) */
  | { type: 'progress', handled: number }
  /** after stop: the task numbers (payload.i) of every handler run, and the CPU this process spent from go to stop */
  | { type: 'done', ids: number[], cpuMs: number }
  | { type: 'failed', error: string }

export const PROGRESS_EVERY_MS = 50

/** Opens (and initialises) the backend a spec names; a failed init closes it again. */
export async function openBackend (spec: BackendSpec): Promise<Backend> {
  let backend: Backend
  if (spec.kind === 'postgres') {
    const create = await loadBackendFactory<{ connectionString: string, schema: string, poolSize: number }>('@switchyard/backend-postgres', 'createPostgresBackend')
    backend = create({ connectionString: spec.connectionString, schema: spec.schema, poolSize: spec.poolSize })
  } else if (spec.kind === 'redis') {
    const create = await loadBackendFactory<{ url: string, prefix: string }>('@switchyard/backend-redis', 'createRedisBackend')
    backend = create({ url: spec.url, prefix: spec.prefix })
  } else {
    const create = await loadBackendFactory<{ url: string, prefix: string }>('@switchyard/backend-bullmq', 'createBullMQBackend')
    backend = create({ url: spec.url, prefix: spec.prefix })
  }
  try {
    await backend.init()
  } catch (err) {
    await backend.close().catch(() => {})
    throw err
  }
  return backend
}
