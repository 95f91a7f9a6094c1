import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { binEnv } from '../support/bin-env.ts'

export const BIN = fileURLToPath(new URL('../../core/bin/switchyard.js', import.meta.url))

/**
 * Admin listeners on ports the OS picks, so a test never collides with a
 * `switchyard start` on the default ports (or another test); the start banner
 * prints the addresses actually bound.
 */
export const EPHEMERAL_LISTENERS: NodeJS.ProcessEnv = { WORKER_ADMIN_HTTP_ADDR: '127.0.0.1:0', WORKER_ADMIN_GRPC_ADDR: '127.0.0.1:0', SWITCHYARD_CONSOLE_ADDR: '127.0.0.1:0' }

/** The gateway host:port a running `switchyard start` printed in its banner. */
export function gatewayAddress (stdout: string): string {
  const addr = /gateway: +https:\/\/([^/\s]+)\/admin\/v1/.exec(stdout)?.[1]
  if (addr === undefined) throw new Error(`no gateway address in the start banner:\n${stdout}`)
  return addr
}

export interface RunResult { code: number | null, stdout: string, stderr: string }

/** Runs the CLI to completion (bounded); `stdin` is piped in when given, else stdin is empty. */
export function runCli (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000, stdin?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...binEnv(), ...env }, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    if (stdin !== undefined) child.stdin?.end(stdin)
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`switchyard ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`)) }, timeoutMs)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

export interface Running {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** resolves when stdout (or, with stream 'stderr', the log on stderr) contains text (bounded) */
  waitFor: (text: string | RegExp, timeoutMs?: number, stream?: 'stdout' | 'stderr') => Promise<void>
  exited: Promise<number | null>
}

/** Starts a long-running CLI command (e.g. start) and lets the test wait on its output. */
export function startCli (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...binEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const waiters = new Set<() => void>()
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); for (const w of waiters) w() })
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); for (const w of waiters) w() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { for (const w of waiters) w(); resolve(code) }))
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor: (text, timeoutMs = 60_000, stream = 'stdout') => new Promise<void>((resolve, reject) => {
      const matches = (): boolean => {
        const seen = stream === 'stdout' ? stdout : stderr
        return typeof text === 'string' ? seen.includes(text) : text.test(seen)
      }
      if (matches()) { resolve(); return }
      const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out waiting for ${String(text)}\nstdout:\n${stdout}\nstderr:\n${stderr}`)) }, timeoutMs)
      function check (): void {
        if (matches()) { clearTimeout(timer); waiters.delete(check); resolve() } else if (child.exitCode !== null) {
          clearTimeout(timer); waiters.delete(check); reject(new Error(`process exited (${child.exitCode}) before ${String(text)}\nstdout:\n${stdout}\nstderr:\n${stderr}`))
        }
      }
      waiters.add(check)
    })
  }
}
