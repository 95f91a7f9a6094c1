// Running git for a job source: a clean environment (no system or global config, no
// prompts, only https and ssh transports), options that switch off what a repository
// could use to run code (hooks, submodules, fsmonitor, redirects to elsewhere), a
// process group killed as one when the fetch is aborted, and bounded output.
import { spawn } from 'node:child_process'
import { GitSourceErrors } from './errors.ts'

/** output kept per stream; git's answers we parse are far smaller (ls-tree is streamed) */
const MAX_CAPTURE_BYTES = 1024 * 1024

export interface GitRunnerOptions {
  gitBin: string
  /** PEM CA bundle for https (http.sslCAInfo) */
  caFile?: string
}

export interface GitResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface GitCall {
  args: string[]
  signal: AbortSignal
  /** git's working directory */
  cwd: string
  /** receives stdout as it comes, instead of capturing it */
  onStdout?: (chunk: Buffer) => void
}

// Set on every call, before the command, so they win over anything else git reads.
function safetyConfig (caFile: string | undefined): string[] {
  const pairs = [
    'core.hooksPath=/dev/null',
    'core.symlinks=false',
    'core.fsmonitor=false',
    'core.untrackedCache=false',
    'core.autocrlf=false',
    'core.askPass=',
    'credential.helper=',
    'submodule.recurse=false',
    'fetch.recurseSubmodules=false',
    'protocol.allow=never',
    'protocol.https.allow=always',
    'protocol.ssh.allow=always',
    'http.followRedirects=false',
    'transfer.fsckObjects=true',
    'gc.auto=0',
    'maintenance.auto=false',
    'advice.detachedHead=false',
    'init.defaultBranch=switchyard'
  ]
  if (caFile !== undefined) pairs.push(`http.sslCAInfo=${caFile}`)
  return pairs.flatMap(pair => ['-c', pair])
}

/** The environment git runs in: nothing of the worker's GIT_* settings, no config files, no prompts. */
export function gitEnvironment (source: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  // ssh needs HOME (known_hosts, keys) and the agent; nothing else is passed through.
  for (const name of ['PATH', 'HOME', 'SSH_AUTH_SOCK', 'TMPDIR']) {
    if (source[name] !== undefined) env[name] = source[name]
  }
  return {
    ...env,
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
    GIT_ALLOW_PROTOCOL: 'https:ssh',
    GIT_PROTOCOL_FROM_USER: '0',
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
    GIT_NO_REPLACE_OBJECTS: '1',
    GIT_OPTIONAL_LOCKS: '0'
  }
}

export class GitRunner {
  readonly gitBin: string
  private readonly config: string[]
  private readonly env: NodeJS.ProcessEnv

  constructor (options: GitRunnerOptions) {
    this.gitBin = options.gitBin
    this.config = safetyConfig(options.caFile)
    this.env = gitEnvironment()
  }

  /** Runs one git command; resolves with its exit code (rejects only when it could not run or was aborted). */
  run (call: GitCall): Promise<GitResult> {
    return new Promise((resolve, reject) => {
      if (call.signal.aborted) { reject(abortError(call.signal)); return }
      const child = spawn(this.gitBin, [...this.config, ...call.args], {
        cwd: call.cwd,
        env: this.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        // its own process group, so git-remote-https and ssh die with it
        detached: true
      })
      const stdout: Buffer[] = []
      const stderr: Buffer[] = []
      let stdoutBytes = 0
      let stderrBytes = 0
      const kill = (): void => {
        if (child.pid === undefined || child.exitCode !== null) return
        try { process.kill(-child.pid, 'SIGKILL') } catch { child.kill('SIGKILL') }
      }
      const onAbort = (): void => { kill() }
      call.signal.addEventListener('abort', onAbort, { once: true })
      child.stdout.on('data', (chunk: Buffer) => {
        if (call.onStdout !== undefined) { call.onStdout(chunk); return }
        if (stdoutBytes < MAX_CAPTURE_BYTES) { stdout.push(chunk); stdoutBytes += chunk.length }
      })
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderrBytes < MAX_CAPTURE_BYTES) { stderr.push(chunk); stderrBytes += chunk.length }
      })
      child.once('error', err => {
        call.signal.removeEventListener('abort', onAbort)
        reject(GitSourceErrors.failed(`git could not be started (${this.gitBin}): ${err.message}`, { cause: err, details: { gitBin: this.gitBin } }))
      })
      child.once('close', code => {
        call.signal.removeEventListener('abort', onAbort)
        if (call.signal.aborted) { reject(abortError(call.signal)); return }
        resolve({ code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') })
      })
    })
  }
}

/** The error an aborted fetch ends with: the reason when it is a Switchyard error (time limit, size cap), else a timeout. */
export function abortError (signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  if (reason instanceof Error && 'code' in reason && typeof reason.code === 'string' && reason.code.startsWith('JOB_SOURCE_')) return reason
  return GitSourceErrors.timeout('the git fetch was aborted (the run was canceled or ran out of time)', { cause: reason })
}

/** git's last stderr lines, for an error message */
export function gitWords (stderr: string): string {
  const lines = stderr.split('\n').map(line => line.trim()).filter(line => line !== '')
  return lines.slice(-3).join(' | ').slice(0, 500)
}
