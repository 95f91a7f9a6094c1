import { Errors } from '../errors.ts'
import { parseDuration } from '../config/units.ts'
import type { EnqueueInput } from '../tasks/enqueue.ts'
import { openClient } from '../app.ts'

export async function runEnqueue (values: Record<string, string | undefined>, positionals: string[]): Promise<number> {
  const [handler, extra] = positionals
  if (handler === undefined) throw Errors.validation('handler: missing (usage: switchyard enqueue <handler> [--payload json])')
  if (extra !== undefined) throw Errors.validation(`unexpected argument "${extra}" (quote the payload and pass it with --payload)`)
  const input: EnqueueInput = { handler }
  if (values.payload !== undefined) {
    try { input.payload = JSON.parse(values.payload) } catch (err) {
      throw Errors.validation(`--payload: not valid JSON (${(err as Error).message})`)
    }
  }
  if (values.queue !== undefined) input.queue = values.queue
  if (values.key !== undefined) input.idempotencyKey = values.key
  if (values.delay !== undefined) {
    const delay = parseDuration(values.delay)
    if (delay === null) throw Errors.validation(`--delay: "${values.delay}" is not a duration (use e.g. 500ms, 30s, 5m, 1h30m)`)
    input.delayMs = delay
  }
  if (values.priority !== undefined) input.priority = integer('--priority', values.priority)
  if (values['max-attempts'] !== undefined) input.maxAttempts = integer('--max-attempts', values['max-attempts'])

  const client = await openClient(values.config)
  try {
    const [result] = await client.enqueue([input])
    process.stdout.write(JSON.stringify(result) + '\n')
    return 0
  } finally {
    await client.close()
  }
}

function integer (flag: string, value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n)) throw Errors.validation(`${flag}: "${value}" is not an integer`)
  return n
}
