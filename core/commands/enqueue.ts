import { Errors } from '../errors.ts'
import { parseDuration } from '../config/units.ts'
import type { RequestOf } from '../contract/rpcs.ts'
import { connectAdmin } from './admin-connection.ts'
import { connectOptions } from './connection-flags.ts'
import { print } from './format.ts'

export async function runEnqueue (values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number> {
  const [handler, extra] = positionals
  if (handler === undefined) throw Errors.validation('handler: missing (usage: switchyard enqueue <handler> [--payload json])')
  if (extra !== undefined) throw Errors.validation(`unexpected argument "${extra}" (quote the payload and pass it with --payload)`)
  const request: RequestOf<'EnqueueTask'> = { handler }
  const str = (k: string): string | undefined => typeof values[k] === 'string' ? values[k] as string : undefined
  const payload = str('payload')
  if (payload !== undefined) {
    try { request.payload = JSON.parse(payload) } catch (err) {
      throw Errors.validation(`--payload: not valid JSON (${(err as Error).message})`)
    }
  }
  const queue = str('queue')
  if (queue !== undefined) request.queue = queue
  const key = str('key')
  if (key !== undefined) request.idempotencyKey = key
  const delay = str('delay')
  if (delay !== undefined) {
    const ms = parseDuration(delay)
    if (ms === null) throw Errors.validation(`--delay: "${delay}" is not a duration (use e.g. 500ms, 30s, 5m, 1h30m)`)
    request.delayMs = ms
  }
  const priority = str('priority')
  if (priority !== undefined) request.priority = integer('--priority', priority)
  const attempts = str('max-attempts')
  if (attempts !== undefined) request.maxAttempts = integer('--max-attempts', attempts)

  const admin = await connectAdmin(connectOptions(values))
  try {
    const result = await admin.call('EnqueueTask', request)
    print(JSON.stringify(result))
    // stdout stays one JSON line for scripts; the warnings are repeated for the person at the terminal
    for (const warning of result.warnings ?? []) process.stderr.write(`warning: ${warning}\n`)
    return 0
  } finally {
    await admin.close()
  }
}

function integer (flag: string, value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n)) throw Errors.validation(`${flag}: "${value}" is not an integer`)
  return n
}
