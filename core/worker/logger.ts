// The shape of a pino logger (what Fastify hands out), so the platform's logger can
// be passed straight in; only the calls the worker makes are required.
export interface Logger {
  debug (obj: object, msg?: string): void
  info (obj: object, msg?: string): void
  warn (obj: object, msg?: string): void
  error (obj: object, msg?: string): void
  child? (bindings: Record<string, unknown>): Logger
}

function write (level: string, obj: object, msg?: string): void {
  const err = (obj as { err?: unknown }).err
  const reason = err instanceof Error ? `: ${err.message}` : ''
  console.error(`[switchyard] ${level} ${msg ?? ''}${reason}`, JSON.stringify(obj, (key, value: unknown) => key === 'err' ? undefined : value))
}

/** Warnings and errors to stderr; routine messages are dropped. */
export const consoleLogger: Logger = {
  debug () {},
  info () {},
  warn (obj, msg) { write('WARN', obj, msg) },
  error (obj, msg) { write('ERROR', obj, msg) }
}

export const silentLogger: Logger = {
  debug () {},
  info () {},
  warn () {},
  error () {}
}
