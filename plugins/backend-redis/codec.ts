import type { AuditEvent, EnqueueResult, LeasedTask, StoredEvent, Task, TaskError, TaskState } from '@switchyard/core'

// Task hashes use short field names (they are written on every transition):
// q queue, h handler, p payload JSON, s state, a attempts, m maxAttempts, pr priority,
// ra runAt, ik idempotency key, to timeoutMs, le last error, er errors JSON, ca created,
// ua updated, sa started, fa finished, lx lease expiry, w worker, lt lease token,
// rp replays, ps payload bytes, rv result JSON, pg progress JSON, tn tenant, ci correlation
// id. An empty string means
// "no value". A task that was never leased, requeued or updated may lack a, rp, ps and
// ua (enqueue.lua writes only what differs): 0, 0, the payload's UTF-8 length and ca.

function int (v: string | undefined): number {
  return v === undefined || v === '' ? 0 : Number(v)
}

function optInt (v: string | undefined): number | null {
  return v === undefined || v === '' ? null : Number(v)
}

function optStr (v: string | undefined): string | null {
  return v === undefined || v === '' ? null : v
}

function parseErrors (v: string | undefined): TaskError[] {
  if (v === undefined || v === '') return []
  try {
    const parsed: unknown = JSON.parse(v)
    return Array.isArray(parsed) ? parsed as TaskError[] : []
  } catch {
    return []
  }
}

export function hashToTask (id: string, h: Record<string, string>): Task {
  return {
    id,
    queue: h.q ?? '',
    handler: h.h ?? '',
    payload: h.p === undefined ? null : JSON.parse(h.p),
    state: h.s as TaskState,
    attempts: int(h.a),
    maxAttempts: int(h.m),
    priority: int(h.pr),
    runAt: int(h.ra),
    idempotencyKey: optStr(h.ik),
    timeoutMs: int(h.to),
    lastError: optStr(h.le),
    errors: parseErrors(h.er),
    createdAt: int(h.ca),
    updatedAt: int(h.ua ?? h.ca),
    startedAt: optInt(h.sa),
    finishedAt: optInt(h.fa),
    leaseExpiresAt: h.s === 'processing' ? optInt(h.lx) : null,
    workerId: optStr(h.w),
    replays: int(h.rp),
    payloadSize: h.ps === undefined ? Buffer.byteLength(h.p ?? '', 'utf8') : int(h.ps),
    ...(h.rv === undefined || h.rv === '' ? {} : { result: JSON.parse(h.rv) }),
    ...(h.pg === undefined || h.pg === '' ? {} : { progress: JSON.parse(h.pg) }),
    ...(h.dp === undefined || h.dp === '' ? {} : { dependsOn: h.dp.split(','), onParentFailure: h.pf === 'dead' ? 'dead' : 'cancel' }),
    ...(h.tn === undefined || h.tn === '' ? {} : { tenant: h.tn }),
    ...(h.ci === undefined || h.ci === '' ? {} : { correlationId: h.ci })
  }
}

/** one result of enqueue.lua: 1 created, 0 left as is, 2 replaced, or the state that kept a replace from happening */
export function enqueueOutcome (id: string, code: string | number): EnqueueResult {
  if (code === 1) return { id, created: true }
  if (code === 2) return { id, created: false, outcome: 'replaced' }
  if (typeof code === 'string') return { id, created: false, outcome: 'existing', state: code as TaskState }
  return { id, created: false }
}

/** HGETALL as a flat [field, value, ...] list (how scripts return it) to an object. */
export function pairsToObject (flat: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!
  return out
}

const LEASE_FIELDS = 11

/** Decodes the lease script's reply: deadline, then 11 fields per task. */
export function decodeLeased (reply: Array<string | number>): LeasedTask[] {
  if (reply.length === 0) return []
  const leaseExpiresAt = Number(reply[0])
  const tasks: LeasedTask[] = []
  for (let i = 1; i < reply.length; i += LEASE_FIELDS) {
    tasks.push({
      id: reply[i] as string,
      queue: reply[i + 1] as string,
      handler: reply[i + 2] as string,
      payload: JSON.parse(reply[i + 3] as string),
      attempts: Number(reply[i + 4]),
      maxAttempts: Number(reply[i + 5]),
      priority: Number(reply[i + 6]),
      timeoutMs: Number(reply[i + 7]),
      createdAt: Number(reply[i + 8]),
      runAt: Number(reply[i + 9]),
      leaseToken: reply[i + 10] as string,
      leaseExpiresAt
    })
  }
  return tasks
}

/** the inbox format this worker reads and says so when it registers (push_wait.lua, lib/push.lua) */
export const PUSH_FORMAT = 2

/** whether an inbox entry is in format 2 (which only an enqueue that ends the worker's registration writes) */
export function isFormat2Entry (item: string): boolean {
  return item.startsWith('[2,')
}

/**
 * One lease pushed to a worker's inbox (lib/push.lua push_entry), in either format: 1, a
 * JSON array in leaseTasks' reply layout whose payload is JSON text again (an enqueue of
 * an older version pushes it); 2, the same led by the number 2, the payload inlined, so
 * one parse reads all of it.
 */
export function decodePushedEntry (item: string): LeasedTask {
  const f = JSON.parse(item) as unknown[]
  if (f[0] !== PUSH_FORMAT) return decodeLeased(f as string[])[0]!
  return {
    id: f[2] as string,
    queue: f[3] as string,
    handler: f[4] as string,
    payload: f[5],
    attempts: Number(f[6]),
    maxAttempts: Number(f[7]),
    priority: Number(f[8]),
    timeoutMs: Number(f[9]),
    createdAt: Number(f[10]),
    runAt: Number(f[11]),
    leaseToken: f[12] as string,
    leaseExpiresAt: Number(f[1])
  }
}

/** Stream ids are "<ms>-<seq>": the ms part is the Redis time the entry was added. */
export function streamIdTime (id: string): number {
  return Number(id.slice(0, id.indexOf('-')))
}

export function decodeEvent (id: string, fields: string[]): StoredEvent {
  const f = pairsToObject(fields)
  return { id, type: f.t ?? '', time: streamIdTime(id), data: f.d === undefined ? null : JSON.parse(f.d) }
}

export function decodeAudit (id: string, fields: string[]): AuditEvent {
  const f = pairsToObject(fields)
  const event: AuditEvent = {
    id,
    time: streamIdTime(id),
    action: f.a ?? '',
    target: f.tg ?? '',
    actor: f.ac ?? '',
    requestId: f.r ?? '',
    params: f.pm === undefined ? {} : JSON.parse(f.pm) as Record<string, unknown>,
    outcome: (f.o ?? 'ok') as AuditEvent['outcome']
  }
  if (f.e !== undefined && f.e !== '') event.error = f.e
  return event
}
