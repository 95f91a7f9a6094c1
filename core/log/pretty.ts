// Human-readable log lines for a terminal, from the JSON records pino writes:
//   12:04:31.207 INFO  admin PauseQueue default by CN=ops: ok  requestId=3f2a…
// A small formatter rather than pino-pretty: the records are flat and few kinds, and
// this keeps the CLI's start-up free of another dozen modules and of a worker thread.

const LEVELS: Record<number, { label: string, color: string }> = {
  10: { label: 'TRACE', color: '90' },
  20: { label: 'DEBUG', color: '36' },
  30: { label: 'INFO ', color: '32' },
  40: { label: 'WARN ', color: '33' },
  50: { label: 'ERROR', color: '31' },
  60: { label: 'FATAL', color: '35' }
}

/** pino's own fields and the ones a line shows in front */
const SHOWN_APART = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'err', 'v'])

export interface PrettyOptions {
  /** ANSI colours for the level */
  color: boolean
}

function clock (time: unknown): string {
  const date = new Date(typeof time === 'number' ? time : Date.now())
  return date.toISOString().slice(11, 23)
}

function value (v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)
  if (v === null || typeof v !== 'object') return String(v)
  try { return JSON.stringify(v) } catch { return '[unserializable]' }
}

function errorText (err: unknown, withStack: boolean): string {
  if (err === null || typeof err !== 'object') return err === undefined ? '' : ` — ${String(err)}`
  const { message, stack, code } = err as { message?: unknown, stack?: unknown, code?: unknown }
  const head = ` — ${typeof code === 'string' ? `${code}: ` : ''}${typeof message === 'string' ? message : value(err)}`
  if (!withStack || typeof stack !== 'string') return head
  const frames = stack.split('\n').filter(line => line.trimStart().startsWith('at ')).map(line => `    ${line.trim()}`)
  return frames.length === 0 ? head : `${head}\n${frames.join('\n')}`
}

/** One record (a parsed pino line) as one line of text (an error's stack frames follow on their own lines). */
export function formatRecord (record: Record<string, unknown>, options: PrettyOptions): string {
  const level = typeof record.level === 'number' ? record.level : 30
  const spec = LEVELS[level] ?? { label: String(level).padEnd(5), color: '0' }
  const label = options.color ? `\u001b[${spec.color}m${spec.label}\u001b[0m` : spec.label
  const msg = typeof record.msg === 'string' ? record.msg : ''
  // A field the message already says (the target, the actor) is not repeated after it.
  const extras = Object.entries(record)
    .filter(([key, v]) => !SHOWN_APART.has(key) && v !== undefined && !(typeof v === 'string' && v !== '' && msg.includes(v)))
    .map(([key, v]) => `${key}=${value(v)}`)
  return `${clock(record.time)} ${label} ${msg}${errorText(record.err, level >= 50)}${extras.length === 0 ? '' : `  ${extras.join(' ')}`}`
}

/** A destination for pino (Fastify's `logger.stream`) that writes pretty lines to `out`. */
export function prettyStream (out: NodeJS.WritableStream, options: PrettyOptions): { write (chunk: string): boolean } {
  return {
    write (chunk: string): boolean {
      for (const line of chunk.split('\n')) {
        if (line === '') continue
        let record: unknown
        try { record = JSON.parse(line) } catch { out.write(line + '\n'); continue }
        out.write((record !== null && typeof record === 'object' ? formatRecord(record as Record<string, unknown>, options) : line) + '\n')
      }
      return true
    }
  }
}
