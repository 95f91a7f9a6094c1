// The log of a Switchyard process: pino (Fastify's logger) writing to stderr, as JSON
// lines for collectors, or as human-readable lines when a person watches a terminal.
// log.format (SWITCHYARD_LOG_FORMAT) says which; auto asks whether stderr is a TTY.
import type { LogFormat, LogLevel } from '../config/types.ts'
import { prettyStream } from './pretty.ts'

export { formatRecord, prettyStream } from './pretty.ts'

type Output = NodeJS.WritableStream & { isTTY?: boolean }

/** The format `auto` stands for on `out`. */
export function effectiveLogFormat (format: LogFormat, out: Output = process.stderr): 'pretty' | 'json' {
  if (format !== 'auto') return format
  return out.isTTY === true ? 'pretty' : 'json'
}

/** Colours only on a terminal, and never with NO_COLOR set (https://no-color.org). */
function wantsColor (out: Output, env: NodeJS.ProcessEnv): boolean {
  return out.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '')
}

/** Fastify's `logger` option for a process configured with `log`. */
export function loggerOptions (log: { level: LogLevel, format: LogFormat }, out: Output = process.stderr, env: NodeJS.ProcessEnv = process.env): { level: LogLevel, stream: { write (chunk: string): unknown } } {
  const stream = effectiveLogFormat(log.format, out) === 'pretty' ? prettyStream(out, { color: wantsColor(out, env) }) : out
  return { level: log.level, stream }
}
