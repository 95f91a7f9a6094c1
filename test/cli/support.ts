import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../../core/bin/switchyard.js', import.meta.url))

export interface RunResult { code: number | null, stdout: string, stderr: string }

/** Runs the CLI to completion (bounded). */
export function runCli (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`switchyard ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`)) }, timeoutMs)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

export interface Running {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** resolves when stdout contains text (bounded) */
  waitFor: (text: string | RegExp, timeoutMs?: number) => Promise<void>
  exited: Promise<number | null>
}

/** Starts a long-running CLI command (e.g. start) and lets the test wait on its output. */
export function startCli (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const waiters = new Set<() => void>()
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); for (const w of waiters) w() })
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { for (const w of waiters) w(); resolve(code) }))
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor: (text, timeoutMs = 60_000) => new Promise<void>((resolve, reject) => {
      const matches = (): boolean => typeof text === 'string' ? stdout.includes(text) : text.test(stdout)
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
