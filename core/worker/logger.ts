import { formatRecord } from '../log/pretty.ts'

// The shape of a pino logger (what Fastify hands out), so the platform's logger can
// be passed straight in; only the calls the worker makes are required.
export interface Logger {
  debug (obj: object, msg?: string): void
  info (obj: object, msg?: string): void
  warn (obj: object, msg?: string): void
  error (obj: object, msg?: string): void
  child? (bindings: Record<string, unknown>): Logger
}

/** the record pino would write: numeric level, time, message, an err reduced to its fields */
function record (level: number, obj: object, msg?: string): Record<string, unknown> {
  const fields: Record<string, unknown> = { level, time: Date.now(), msg: msg ?? '' }
  for (const [key, value] of Object.entries(obj)) {
    fields[key] = key === 'err' && value instanceof Error
      ? { type: value.name, message: value.message, stack: value.stack, ...('code' in value ? { code: (value as { code: unknown }).code } : {}) }
      : value
  }
  return fields
}

function write (level: number, obj: object, msg?: string): void {
  const line = record(level, obj, msg)
  // as the platform's log (core/log): readable on a terminal, JSON lines elsewhere
  let text: string
  try {
    text = process.stderr.isTTY === true ? formatRecord(line, { color: false }) : JSON.stringify(line)
  } catch {
    text = JSON.stringify({ level, time: line.time, msg: line.msg })
  }
  process.stderr.write(text + '\n')
}

/** Warnings and errors to stderr, for a worker or scheduler created without a logger; routine messages are dropped. */
export const consoleLogger: Logger = {
  debug () {},
  info () {},
  warn (obj, msg) { write(40, obj, msg) },
  error (obj, msg) { write(50, obj, msg) }
}

export const silentLogger: Logger = {
  debug () {},
  info () {},
  warn () {},
  error () {}
}
