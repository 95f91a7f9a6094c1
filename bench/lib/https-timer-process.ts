// The parent's side of the admin-reads HTTPS client process (https-timer-child.ts): forks it, sends it
// one request at a time and waits for the answer. A client that fails or exits fails the
// pending call with its error (or the end of its stderr).
import { fork, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { HttpsTimer } from './https-timer.ts'
import type { TimedRequests, TimerReply, TimerRequest, TimerSpec } from './https-timer-protocol.ts'

const CLIENT_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'https-timer-child.ts')
/** stderr kept for error messages */
const STDERR_KEEP = 4000

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never

export class HttpsTimerProcess implements HttpsTimer {
  private readonly child: ChildProcess
  private stderr = ''
  private nextId = 1
  private pending: { id: number, resolve: (reply: TimerReply) => void, reject: (err: Error) => void } | null = null
  private failure: string | null = null

  constructor (spec: TimerSpec) {
    // the parent's own Node flags (the tsx loader, the source condition), so the child loads TypeScript too
    this.child = fork(CLIENT_SCRIPT, [JSON.stringify(spec)], { execArgv: process.execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { this.stderr = (this.stderr + chunk).slice(-STDERR_KEEP) })
    this.child.on('message', (reply: TimerReply) => {
      const pending = this.pending
      if (pending === null || pending.id !== reply.id) return
      this.pending = null
      if (reply.type === 'failed') pending.reject(new Error(`HTTPS client process: ${reply.error}`))
      else pending.resolve(reply)
    })
    this.child.on('error', (err) => { this.fail(err.message) })
    this.child.on('exit', (code, signal) => { this.fail(`exited (code ${code}, signal ${signal}); stderr: ${this.stderr.trim() || '(empty)'}`) })
  }

  private fail (why: string): void {
    this.failure ??= why
    const pending = this.pending
    this.pending = null
    pending?.reject(new Error(`HTTPS client process ${this.child.pid ?? '?'}: ${why}`))
  }

  private ask (request: Distribute<TimerRequest>): Promise<TimerReply> {
    if (this.failure !== null) return Promise.reject(new Error(`HTTPS client process ${this.child.pid ?? '?'}: ${this.failure}`))
    if (this.pending !== null) return Promise.reject(new Error('HTTPS client process: one request at a time'))
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending = { id, resolve, reject }
      this.child.send({ ...request, id } as TimerRequest)
    })
  }

  /** one GET: its status and body */
  async get (path: string, port?: number): Promise<{ status: number, body: string }> {
    const reply = await this.ask(port === undefined ? { type: 'get', path } : { type: 'get', path, port })
    if (reply.type !== 'got') throw new Error(`HTTPS client process: answered ${reply.type} to get`)
    return { status: reply.status, body: reply.body }
  }

  /** `count` sequential GETs, each answered 200: their latencies and starts, the TLS connections they used, the client's collections meanwhile */
  async time (path: string, count: number, port?: number): Promise<TimedRequests> {
    const reply = await this.ask(port === undefined ? { type: 'time', path, count } : { type: 'time', path, count, port })
    if (reply.type !== 'timed') throw new Error(`HTTPS client process: answered ${reply.type} to time`)
    return { samplesMs: reply.samplesMs, startsAtMs: reply.startsAtMs, sockets: reply.sockets, clientGc: reply.clientGc }
  }

  /** closes the channel (the client then ends its connection and exits) and waits for the exit */
  async close (): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise<void>(resolve => this.child.once('exit', () => resolve()))
    if (this.child.connected) this.child.disconnect()
    const timer = setTimeout(() => this.child.kill(), 5_000)
    await exited
    clearTimeout(timer)
  }
}
