// Child processes for the startup benchmark: timing a command from spawn to exit,
// starting `switchyard start` and timing it until its gateway answers, and reading a
// process tree's resident memory from /proc.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import https from 'node:https'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { CERT_FILES } from '../../core/transport/certs.ts'

/**
 * The environment children run with: the caller's, minus NODE_OPTIONS (a test runner
 * or loader preloaded there would be measured as the command's own cost), plus `extra`.
 */
export function childEnv (extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra }
  delete env.NODE_OPTIONS
  return env
}

export interface CommandRun {
  ms: number
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `node <args>` to completion; `ms` is wall time from spawn to exit. */
export function timeNode (args: string[], options: { cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number }): Promise<CommandRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`node ${args.join(' ')} did not exit within ${options.timeoutMs} ms`))
    }, options.timeoutMs)
    child.on('error', (err) => { clearTimeout(timer); reject(err) })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ ms: performance.now() - started, code, stdout, stderr })
    })
  })
}

/** A port free right now on 127.0.0.1 (the OS picks it; the listener closes before use). */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export interface TreeMemory {
  /** VmRSS of the process itself, MiB */
  rssMb: number
  /** VmHWM: the process's peak resident memory so far, MiB */
  peakRssMb: number
  /** VmRSS of the process plus every descendant (e.g. a compiler service it spawned), MiB */
  treeRssMb: number
}

async function statusKb (pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8')
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)
  if (match === null) throw new Error(`/proc/${pid}/status has no ${field} line`)
  return Number(match[1])
}

async function childrenOf (pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[])
  const children: number[] = []
  for (const task of tasks) {
    const text = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '')
    for (const id of text.trim().split(/\s+/)) if (id !== '') children.push(Number(id))
  }
  return children
}

const mib = (kb: number): number => Math.round(kb / 102.4) / 10

/** Resident memory of a process and its descendants, from /proc (Linux). */
export async function treeMemory (pid: number): Promise<TreeMemory> {
  try {
    const rssKb = await statusKb(pid, 'VmRSS')
    const peakKb = await statusKb(pid, 'VmHWM')
    let treeKb = rssKb
    const pending = await childrenOf(pid)
    while (pending.length > 0) {
      const child = pending.pop()!
      treeKb += await statusKb(child, 'VmRSS').catch(() => 0)
      pending.push(...await childrenOf(child))
    }
    return { rssMb: mib(rssKb), peakRssMb: mib(peakKb), treeRssMb: mib(treeKb) }
  } catch (err) {
    throw new Error(`reading resident memory of pid ${pid} from /proc failed (this benchmark needs Linux /proc): ${(err as Error).message}`)
  }
}

// USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux platform Node runs on
const CLOCK_TICKS_PER_S = 100

/** CPU time (user + system, every thread) a process has used so far, ms; null when /proc cannot tell. */
export async function cpuMs (pid: number): Promise<number | null> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null)
  if (text === null) return null
  // fields after the parenthesised command name, which may itself hold spaces
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return Number.isFinite(utime) && Number.isFinite(stime) ? ((utime + stime) * 1000) / CLOCK_TICKS_PER_S : null
}

/**
 * A process's minor page faults and system CPU so far (every thread); null when /proc
 * cannot tell. What an allocator setting costs shows here first: memory mapped and
 * returned per buffer is faulted in again each time, in the kernel.
 */
export async function faultsAndSystemMs (pid: number): Promise<{ minorFaults: number, systemMs: number } | null> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null)
  if (text === null) return null
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const minorFaults = Number(fields[7])
  const stime = Number(fields[12])
  return Number.isFinite(minorFaults) && Number.isFinite(stime) ? { minorFaults, systemMs: (stime * 1000) / CLOCK_TICKS_PER_S } : null
}

export interface GatewayClient {
  url: string
  certDir: string
}

/** GET /admin/v1/health over mutual TLS with the development client certificate: true on 200. */
async function healthAnswers (gateway: GatewayClient): Promise<boolean> {
  let tls: { ca: Buffer, cert: Buffer, key: Buffer }
  try {
    tls = {
      ca: await readFile(join(gateway.certDir, CERT_FILES.ca)),
      cert: await readFile(join(gateway.certDir, CERT_FILES.client)),
      key: await readFile(join(gateway.certDir, CERT_FILES.clientKey))
    }
  } catch {
    return false // not generated yet (first start)
  }
  const url = new URL('/admin/v1/health', gateway.url)
  return await new Promise<boolean>((resolve) => {
    // A start writing its certificates right now can leave a half-written key: not ready yet.
    let req: ReturnType<typeof https.request>
    try {
      req = https.request({ host: url.hostname, port: url.port, path: url.pathname, servername: 'localhost', agent: false, timeout: 2_000, ...tls }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode === 200))
      })
    } catch {
      resolve(false)
      return
    }
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(false))
    req.end()
  })
}

export interface RunningStart {
  readonly pid: number
  /** spawn → first 200 from /admin/v1/health, ms */
  readonly readyMs: number
  /**
   * CPU the process used until it was ready, ms (every thread): on a busy machine wall
   * time grows with the wait for a core, this does not
   */
  readonly readyCpuMs: number | null
  /** what the process said about its own start-up ("started in N ms"), if it said it */
  readonly reportedStartMs: number | null
  /** the phases of its start-up, ms each, from its "start-up phases" log record (JSON log), if it wrote one */
  readonly phasesMs: Record<string, number> | null
  /** the exit code once the process exited (null: by a signal), undefined while it runs */
  readonly exitCode: number | null | undefined
  /** the last 20,000 characters the process wrote (stdout and stderr) */
  output (): string
  /** SIGINT, then waits for the exit; resolves with the exit code and the time it took */
  stop (timeoutMs: number): Promise<{ code: number | null, ms: number }>
}

const POLL_MS = 10

/** the `phasesMs` of the "start-up phases" record in a JSON log, or null */
export function startupPhases (output: string): Record<string, number> | null {
  for (const line of output.split('\n')) {
    if (!line.includes('"start-up phases"')) continue
    try {
      const record = JSON.parse(line) as { phasesMs?: unknown }
      if (record.phasesMs !== null && typeof record.phasesMs === 'object') return record.phasesMs as Record<string, number>
    } catch {
      // a line cut off by the output cap: not this one
    }
  }
  return null
}

/**
 * Spawns `node <bin> start` and resolves once its gateway answers /admin/v1/health.
 * Fails with the process's output if it exits first or is not ready in time.
 */
export async function startAndWait (bin: string, options: { cwd: string, env: NodeJS.ProcessEnv, gateway: GatewayClient, timeoutMs: number, nodeArgs?: string[] }): Promise<RunningStart> {
  const started = performance.now()
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), bin, 'start'], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const keep = (chunk: string): void => { output = (output + chunk).slice(-20_000) }
  child.stdout!.setEncoding('utf8').on('data', keep)
  child.stderr!.setEncoding('utf8').on('data', keep)
  let exited: number | null | undefined
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => { exited = code; resolve(code) }))
  const fail = (why: string): Error => {
    if (exited === undefined) child.kill('SIGKILL')
    return new Error(`switchyard start ${why}; its output:\n${output.slice(-4000)}`)
  }
  while (!(await healthAnswers(options.gateway))) {
    if (exited !== undefined) throw fail(`exited with code ${String(exited)} before its gateway answered`)
    if (performance.now() - started > options.timeoutMs) throw fail(`was not ready within ${options.timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
  const readyMs = performance.now() - started
  const readyCpuMs = await cpuMs(child.pid!)
  // the "started in" line is printed right after the listeners are up; give it a moment
  const reported = (): number | null => { const m = /started in (\d+) ms/.exec(output); return m === null ? null : Number(m[1]) }
  for (let i = 0; i < 50 && reported() === null && exited === undefined; i++) await new Promise(resolve => setTimeout(resolve, POLL_MS))
  return {
    pid: child.pid!,
    readyMs,
    readyCpuMs,
    reportedStartMs: reported(),
    phasesMs: startupPhases(output),
    get exitCode () { return exited },
    output: () => output,
    async stop (timeoutMs) {
      const began = performance.now()
      if (exited === undefined) child.kill('SIGINT')
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      const code = await exit.finally(() => clearTimeout(timer))
      if (code !== 0) throw new Error(`switchyard start exited with code ${String(code)} after SIGINT; its output:\n${output.slice(-4000)}`)
      return { code, ms: performance.now() - began }
    }
  }
}
