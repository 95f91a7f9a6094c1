// `switchyard events`: the admin event log (StreamEvents, Server-Sent Events through
// the gateway). Without --follow it replays the retained events and stops once caught
// up; with --follow it keeps printing, and after a dropped connection reconnects with
// Last-Event-ID set to the last event it printed, so the output has no gap and no
// repeat. A refusal (a bad id, a role that may not read) is not retried.
import { isSwitchyardError } from '../errors.ts'
import type { AdminEventT } from '../contract/messages.ts'
import type { AdminConnection } from './admin-connection.ts'
import { emit } from './format.ts'
import { eventData } from './payload.ts'
import type { CommandInput } from './spec.ts'
import { UsageError } from './usage.ts'
import { bool, optionalDuration, optionalInteger, str } from './values.ts'
import { withAdmin } from './with-admin.ts'

const DEFAULT_IDLE_MS = 2_000
const RECONNECT_FIRST_MS = 250
const RECONNECT_MAX_MS = 10_000
/** the id every backend accepts: replay from the oldest retained event */
const FROM_OLDEST = '0'

/** worth reconnecting after: the connection failed, or the service was unavailable; not a refusal of the request */
export function isTransient (err: unknown): boolean {
  if (!isSwitchyardError(err)) return true
  return err.statusCode >= 500 && err.statusCode !== 501
}

export function reconnectDelayMs (attempt: number): number {
  return Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** Math.max(0, attempt - 1))
}

function formatEvent (event: AdminEventT): string {
  return `${event.id}  ${event.time}  ${event.type}  ${JSON.stringify(eventData(event))}`
}

function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
    function done (): void { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
  })
}

type Next = IteratorResult<AdminEventT> | 'idle'

/** the next event, or 'idle' when none came within ms */
async function nextWithin (events: AsyncGenerator<AdminEventT>, ms: number | null): Promise<Next> {
  if (ms === null) return await events.next()
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([events.next(), new Promise<'idle'>(resolve => { timer = setTimeout(() => resolve('idle'), ms) })])
  } finally {
    clearTimeout(timer)
  }
}

export async function runEvents (input: CommandInput): Promise<number> {
  const { values } = input
  const follow = bool(values, 'follow')
  const limit = optionalInteger(values, 'limit', 1, Number.MAX_SAFE_INTEGER)
  const idleFlag = optionalDuration(values, 'idle')
  if (follow && idleFlag !== undefined) throw new UsageError('--idle: only without --follow (a follower waits for events as long as it runs)')
  if (idleFlag === 0) throw new UsageError('--idle: must be longer than 0')
  const idleMs = follow ? null : idleFlag ?? DEFAULT_IDLE_MS
  // A replay starts from the oldest retained event unless told otherwise; a follower from now.
  let lastId = str(values, 'after') ?? (follow ? undefined : FROM_OLDEST)
  const startedAt = Date.now()

  const stop = new AbortController()
  const onSignal = (): void => { stop.abort() }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    return await withAdmin(input, async (admin) => await pump(admin))
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }

  async function pump (admin: AdminConnection): Promise<number> {
    let printed = 0
    let failures = 0
    for (;;) {
      const connection = new AbortController()
      const onStop = (): void => { connection.abort() }
      stop.signal.addEventListener('abort', onStop, { once: true })
      const events = admin.events(lastId === undefined ? {} : { afterId: lastId }, { signal: connection.signal })
      let reason: string
      try {
        for (;;) {
          const next = await nextWithin(events, idleMs)
          if (next === 'idle') return 0
          if (next.done === true) break
          const event = next.value
          // Without --follow the replay is over at the first event appended after the command started.
          if (!follow && Date.parse(event.time) > startedAt) return 0
          emit(input, event, () => formatEvent(event))
          lastId = event.id
          printed++
          failures = 0
          if (limit !== undefined && printed >= limit) return 0
        }
        if (stop.signal.aborted) return 0
        reason = 'the gateway ended the stream'
      } catch (err) {
        if (stop.signal.aborted) return 0
        if (!follow || !isTransient(err)) throw err
        reason = err instanceof Error ? err.message.split('\n')[0] ?? err.message : String(err)
      } finally {
        stop.signal.removeEventListener('abort', onStop)
        connection.abort()
        await events.return(undefined).catch(() => {})
      }
      if (!follow) throw new Error(`${reason} before the replay caught up${lastId === undefined ? '' : ` (resume with --after ${lastId})`}`)
      failures++
      const delay = reconnectDelayMs(failures)
      input.io.stderr.write(`switchyard: event stream interrupted (${reason}); reconnecting in ${delay} ms${lastId === undefined ? '' : ` after event ${lastId}`}\n`)
      await sleep(delay, stop.signal)
      if (stop.signal.aborted) return 0
    }
  }
}
