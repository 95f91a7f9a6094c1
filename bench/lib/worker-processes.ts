// The worker processes of the scale-out benchmark, seen from the parent: fork them,
// wait until each has opened the backend, start them together, follow their handler
// runs, stop them and collect what each ran. Every wait is bounded; a process that
// fails or exits early fails the wait with its error (or the end of its stderr).
import { fork, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ParentMessage, WorkerMessage, WorkerSpec } from './scale-out-protocol.ts'
import { Completion } from './wait.ts'

const WORKER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'scale-out-worker.ts')
/** stderr kept per process for error messages */
const STDERR_KEEP = 4000

export interface ProcessReport {
  pid: number
  /** task numbers (payload.i) of every handler run in this process */
  ids: number[]
  /** CPU (user + system) of the process from go to stop */
  cpuMs: number
}

class WorkerProcess {
  readonly child: ChildProcess
  handled = 0
  ready = false
  report: ProcessReport | null = null
  failure: string | null = null
  private stderr = ''

  constructor (spec: WorkerSpec, private readonly onChange: () => void) {
    // the parent's own Node flags (the tsx loader, the source condition), so the child loads the same modules
    this.child = fork(WORKER_SCRIPT, [JSON.stringify(spec)], { execArgv: process.execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { this.stderr = (this.stderr + chunk).slice(-STDERR_KEEP) })
    this.child.on('message', (message: WorkerMessage) => {
      if (message.type === 'ready') this.ready = true
      else if (message.type === 'progress') this.handled = message.handled
      else if (message.type === 'done') this.report = { pid: this.child.pid ?? 0, ids: message.ids, cpuMs: message.cpuMs }
      else if (message.type === 'failed') this.failure = message.error
      this.onChange()
    })
    this.child.on('error', (err) => { this.failure ??= err.message; this.onChange() })
    this.child.on('close', (code, signal) => {
      // 'close' comes after the IPC channel is drained, so a report sent just before exiting is in
      if (this.report === null) this.failure ??= `exited (code ${code}, signal ${signal}) before reporting; stderr: ${this.stderr.trim() || '(empty)'}`
      this.onChange()
    })
  }

  send (message: ParentMessage): void {
    if (this.child.connected) this.child.send(message)
  }
}

export class WorkerProcesses {
  private readonly processes: WorkerProcess[]
  private readonly completion = new Completion()

  constructor (count: number, spec: WorkerSpec) {
    this.processes = Array.from({ length: count }, () => new WorkerProcess(spec, () => this.completion.nudge()))
  }

  get pids (): number[] {
    return this.processes.map(p => p.child.pid).filter((pid): pid is number => pid !== undefined)
  }

  /** handler runs reported so far, summed over the processes (up to PROGRESS_EVERY_MS behind) */
  get handled (): number {
    return this.processes.reduce((sum, p) => sum + p.handled, 0)
  }

  private throwIfFailed (): void {
    const failed = this.processes.find(p => p.failure !== null)
    if (failed !== undefined) throw new Error(`scale-out worker process ${failed.child.pid ?? '?'}: ${failed.failure}`)
  }

  private async until (what: string, done: () => boolean, timeoutMs: number): Promise<void> {
    await this.completion.until(what, () => { this.throwIfFailed(); return done() }, timeoutMs)
  }

  /** waits until every process has opened the backend */
  async ready (timeoutMs: number): Promise<void> {
    await this.until(`${this.processes.length} worker processes to open the backend`, () => this.processes.every(p => p.ready), timeoutMs)
  }

  go (): void {
    for (const p of this.processes) p.send({ type: 'go' })
  }

  /** waits until the processes report at least `count` handler runs */
  async handledAtLeast (count: number, timeoutMs: number): Promise<void> {
    await this.until(`the worker processes to run ${count} handlers (ran ${this.handled})`, () => this.handled >= count, timeoutMs)
  }

  /** stops every worker (running handlers finish, acks are flushed) and collects their reports */
  async stop (timeoutMs: number): Promise<ProcessReport[]> {
    for (const p of this.processes) p.send({ type: 'stop' })
    await this.until('the worker processes to stop and report', () => this.processes.every(p => p.report !== null), timeoutMs)
    return this.processes.map(p => p.report!)
  }

  /** ends any process still running (after a failure); safe to call always */
  kill (): void {
    for (const p of this.processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL')
  }
}
