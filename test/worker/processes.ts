import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { POSTGRES_URL } from './support.ts'

// Real worker processes (test/fixtures/worker-process.ts) on a Postgres schema,
// speaking JSON lines on stdout.

const FIXTURE = fileURLToPath(new URL('../fixtures/worker-process.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface WorkerProcess {
  child: ChildProcess
  messages: Array<Record<string, unknown>>
  exited: Promise<number | null>
}

export function spawnWorker (config: Record<string, unknown>): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, SY_WORKER_PROCESS: JSON.stringify({ connectionString: POSTGRES_URL, ...config }) },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const messages: Array<Record<string, unknown>> = []
  createInterface({ input: child.stdout! }).on('line', line => {
    try { messages.push(JSON.parse(line) as Record<string, unknown>) } catch { /* not a protocol line */ }
  })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  return { child, messages, exited }
}

export async function stopWorker (proc: WorkerProcess): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return
  proc.child.kill('SIGTERM')
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 15_000)
  await proc.exited
  clearTimeout(timer)
}
