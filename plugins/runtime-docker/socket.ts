// Which Docker API socket the plugin talks to when its own `socketPath` option is not
// given, in this order: the config's jobs.dockerSocket (WORKER_JOB_DOCKER_SOCKET),
// DOCKER_HOST when it names a unix socket, the socket the engine's CLI named by
// jobs.dockerBin (WORKER_JOB_DOCKER_BIN) reports, and /var/run/docker.sock.
import { execFile } from 'node:child_process'
import { basename, isAbsolute } from 'node:path'
import type { ResolvedConfig } from '@switchyard/core'
import { DEFAULT_SOCKET } from './engine.ts'

/** how long asking the CLI may take (podman info reads its storage) */
export const CLI_QUERY_TIMEOUT_MS = 10_000

export interface SocketChoice {
  socketPath: string
  /** where it came from, for the start-up log */
  from: 'option' | 'jobs.dockerSocket' | 'DOCKER_HOST' | 'jobs.dockerBin' | 'default'
}

/** The `jobs` section's engine settings when the running core has them; read loosely so the plugin also runs on a core without them. */
export function engineSettings (config: ResolvedConfig): { dockerSocket?: string, dockerBin?: string } {
  const jobs = (config as unknown as { jobs?: Record<string, unknown> }).jobs
  if (jobs === undefined || jobs === null) return {}
  return {
    ...(typeof jobs.dockerSocket === 'string' && jobs.dockerSocket !== '' ? { dockerSocket: jobs.dockerSocket } : {}),
    ...(typeof jobs.dockerBin === 'string' && jobs.dockerBin !== '' ? { dockerBin: jobs.dockerBin } : {})
  }
}

function unixPath (value: string): string | null {
  const path = value.startsWith('unix://') ? value.slice('unix://'.length) : value
  return isAbsolute(path) ? path : null
}

/**
 * The API socket the CLI `bin` reports: podman's `info` for a podman binary, else
 * docker's current context. Null when the CLI is missing, fails, answers something
 * that is not a unix socket, or takes longer than the timeout.
 */
export async function socketFromCli (bin: string, timeoutMs = CLI_QUERY_TIMEOUT_MS): Promise<string | null> {
  const args = basename(bin).includes('podman')
    ? ['info', '--format', '{{.Host.RemoteSocket.Path}}']
    : ['context', 'inspect', '--format', '{{.Endpoints.docker.Host}}']
  const answer = await new Promise<string | null>(resolve => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 64 * 1024, env: process.env }, (err, stdout) => {
      resolve(err === null ? stdout.trim() : null)
    })
  })
  if (answer === null || answer === '' || answer.includes('\n')) return null
  return unixPath(answer)
}

export async function chooseSocket (option: string | undefined, config: ResolvedConfig, env: NodeJS.ProcessEnv = process.env): Promise<SocketChoice> {
  if (option !== undefined && option !== '') return { socketPath: unixPath(option) ?? option, from: 'option' }
  const settings = engineSettings(config)
  if (settings.dockerSocket !== undefined) return { socketPath: unixPath(settings.dockerSocket) ?? settings.dockerSocket, from: 'jobs.dockerSocket' }
  const host = env.DOCKER_HOST
  if (host !== undefined && host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length), from: 'DOCKER_HOST' }
  if (settings.dockerBin !== undefined) {
    const reported = await socketFromCli(settings.dockerBin)
    if (reported !== null) return { socketPath: reported, from: 'jobs.dockerBin' }
  }
  return { socketPath: DEFAULT_SOCKET, from: 'default' }
}
