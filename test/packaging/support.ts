import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** every plugin package of the workspace (plugins/<name> with a package.json), as paths relative to ROOT */
export function workspacePlugins (): string[] {
  return readdirSync(join(ROOT, 'plugins')).filter(name => existsSync(join(ROOT, 'plugins', name, 'package.json'))).sort().map(name => `plugins/${name}`)
}

/**
 * The environment of a process outside the workspace: without the source condition,
 * tsx and the typebox bundle that scripts/workspace-sources.mjs adds to NODE_OPTIONS, and without the
 * npm_* variables of an enclosing `npm test`, so what runs is what an application
 * gets. (The test runner's own process tracking stays in NODE_OPTIONS: an empty one
 * would make it copy the parent's back in.)
 */
export function outsideEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (key.toLowerCase().startsWith('npm_')) continue
    env[key] = value
  }
  const nodeOptions = (process.env.NODE_OPTIONS ?? '').split(/\s+/)
    .filter(option => option.length > 0 && !option.includes('switchyard-source') && !/[/\\]tsx[/\\]/.test(option) && !option.includes('typebox-bundle'))
  if (nodeOptions.length > 0) env.NODE_OPTIONS = nodeOptions.join(' ')
  else delete env.NODE_OPTIONS
  return { ...env, ...extra }
}

export interface Finished { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** Runs a command to completion within `timeoutMs` (then kills it and rejects). */
export function run (command: string, args: readonly string[], options: { cwd: string, env?: NodeJS.ProcessEnv, timeoutMs: number }): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? outsideEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${options.timeoutMs} ms\n${stdout}\n${stderr}`))
    }, options.timeoutMs)
    child.on('error', (err) => { clearTimeout(timer); reject(err) })
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }) })
  })
}

export interface Watched {
  child: ChildProcess
  output: () => string
  /** resolves once stdout matches; rejects when the process exits first or on timeout */
  waitFor: (pattern: RegExp, timeoutMs: number) => Promise<void>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Starts a long-running process whose stdout the test waits on. */
export function watch (command: string, args: readonly string[], options: { cwd: string, env: NodeJS.ProcessEnv }): Watched {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const listeners = new Set<() => void>()
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); for (const l of listeners) l() })
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => { for (const l of listeners) l(); resolve({ code, signal }) })
  })
  const output = (): string => `stdout:\n${stdout}\nstderr (last 3000 characters):\n${stderr.slice(-3000)}`
  return {
    child,
    output,
    exited,
    waitFor: (pattern, timeoutMs) => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { listeners.delete(check); reject(new Error(`timed out waiting for ${String(pattern)}\n${output()}`)) }, timeoutMs)
      function check (): void {
        if (pattern.test(stdout)) {
          clearTimeout(timer); listeners.delete(check); resolve()
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer); listeners.delete(check); reject(new Error(`exited (${child.exitCode ?? child.signalCode}) before ${String(pattern)}\n${output()}`))
        }
      }
      listeners.add(check)
      check()
    })
  }
}

/** The code blocks of one README section ("## title" up to the next "## "), by language. */
export async function readmeBlocks (title: string): Promise<Map<string, string[]>> {
  const readme = await readFile(new URL('README.md', `file://${ROOT}`), 'utf8')
  const start = readme.indexOf(`\n## ${title}\n`)
  if (start < 0) throw new Error(`README has no section "## ${title}"`)
  const end = readme.indexOf('\n## ', start + 1)
  const section = readme.slice(start, end < 0 ? undefined : end)
  const blocks = new Map<string, string[]>()
  for (const match of section.matchAll(/```(\w+)\n([\s\S]*?)```/g)) {
    const lang = match[1] as string
    blocks.set(lang, [...(blocks.get(lang) ?? []), match[2] as string])
  }
  return blocks
}
