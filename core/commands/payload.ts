// Payloads from the command line (`--payload`): JSON text, `@file` to read a file,
// `-` to read stdin. How a payload travels in a request is decided here only
// (`setPayload`), and how one is read back from an answer (`taskPayload`, and the
// JSON carried by events and audit records), so a change of the wire format touches
// this file alone.
import { readFile } from 'node:fs/promises'
import type { RequestOf } from '../contract/rpcs.ts'
import type { AdminEventT, AuditEventViewT, TaskViewT } from '../contract/messages.ts'
import { UsageError } from './usage.ts'

/** bytes read from a file or stdin at most: the contract's payload limit is smaller */
const PAYLOAD_READ_MAX = 8 * 1024 * 1024

async function readStdin (stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk as Buffer
    size += buf.length
    if (size > PAYLOAD_READ_MAX) throw new UsageError(`--payload -: stdin is larger than ${PAYLOAD_READ_MAX} bytes`)
    chunks.push(buf)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** the JSON value a `--payload` argument names */
export async function readPayload (raw: string, stdin: NodeJS.ReadableStream, flag = 'payload'): Promise<unknown> {
  let text: string
  let source: string
  if (raw === '-') {
    text = await readStdin(stdin)
    source = 'stdin'
  } else if (raw.startsWith('@')) {
    const path = raw.slice(1)
    if (path === '') throw new UsageError(`--${flag}: @ needs a file name (e.g. --${flag} @payload.json)`)
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      const code = (err as { code?: string }).code
      throw new UsageError(`--${flag}: cannot read ${path}${code === 'ENOENT' ? ': no such file' : code === undefined ? '' : ` (${code})`}`)
    }
    source = path
  } else {
    text = raw
    source = 'the argument'
  }
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new UsageError(`--${flag}: not valid JSON in ${source} (${(err as Error).message})`)
  }
}

/** the one place a payload is put into a request */
export function setPayload (request: RequestOf<'EnqueueTask'> | RequestOf<'ReplayDLQByID'>, payload: unknown): void {
  request.payload = payload
}

/** a task's payload as a JSON value */
export function taskPayload (task: TaskViewT): unknown {
  return task.payload
}

/** an event's data as a JSON value */
export function eventData (event: AdminEventT): unknown {
  return event.data
}

/** an audit record's parameters as a JSON value */
export function auditParams (event: AuditEventViewT): unknown {
  return event.params
}
