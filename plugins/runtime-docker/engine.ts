// The connection to the Docker API: which socket, and one rule for every short call
// (ping, inspect, create, start, kill, remove, list): it gets its own deadline, and a
// failure to reach the engine becomes CONTAINER_ENGINE_UNAVAILABLE naming the socket.
// Long calls (build, logs, wait) are bounded by the caller's own deadline instead:
// dockerode's client-wide `timeout` is an idle timeout on every request, which would
// cut a quiet container's log stream.
import Docker from 'dockerode'
import { RuntimeDockerErrors } from './errors.ts'

export const DEFAULT_SOCKET = '/var/run/docker.sock'

/** The socket path: the explicit one, else DOCKER_HOST when it names a unix socket, else /var/run/docker.sock. */
export function resolveSocketPath (explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit !== undefined && explicit !== '') return explicit.startsWith('unix://') ? explicit.slice('unix://'.length) : explicit
  const host = env.DOCKER_HOST
  if (host !== undefined && host.startsWith('unix://')) return host.slice('unix://'.length)
  return DEFAULT_SOCKET
}

export interface EngineOptions {
  socketPath: string
  connectTimeoutMs: number
  requestTimeoutMs: number
}

/** Error codes of the transport (not of the engine): the engine was not reached or did not answer. */
const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EACCES', 'EPIPE', 'ETIMEDOUT', 'ENOTSOCK', 'ABORT_ERR'])

/** the connection was reset or closed before an answer came (no HTTP status) */
function isReset (err: unknown): boolean {
  if (statusOf(err) !== undefined) return false
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up/i.test(err instanceof Error ? err.message : '')
}

export function statusOf (err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode
  return typeof status === 'number' ? status : undefined
}

/** The engine's own message for a failed call (its JSON body), else the error's message. */
export function engineMessage (err: unknown): string {
  const json = (err as { json?: unknown } | null)?.json
  if (json !== null && typeof json === 'object' && typeof (json as { message?: unknown }).message === 'string') return (json as { message: string }).message
  if (typeof json === 'string' && json.trim() !== '') return json.trim()
  return err instanceof Error ? err.message : String(err)
}

/** Which engine answers: podman's compat API differs from Docker's where a safety rule depends on it (builds). */
export type EngineFlavour = 'docker' | 'podman'

export class Engine {
  readonly docker: Docker
  readonly socketPath: string
  readonly requestTimeoutMs: number
  #flavour: Promise<EngineFlavour> | null = null

  constructor (options: EngineOptions) {
    this.socketPath = options.socketPath
    this.requestTimeoutMs = options.requestTimeoutMs
    this.docker = new Docker({ socketPath: options.socketPath, connectionTimeout: options.connectTimeoutMs } as Docker.DockerOptions)
  }

  /** True when `err` says the engine was not reached or did not answer (not: answered with an error). */
  isUnreachable (err: unknown): boolean {
    if (statusOf(err) !== undefined) return false
    const code = (err as { code?: unknown } | null)?.code
    const name = (err as { name?: unknown } | null)?.name
    return (typeof code === 'string' && UNREACHABLE.has(code)) || name === 'AbortError' || name === 'TimeoutError' ||
      /socket hang up|timed? ?out|aborted/i.test(err instanceof Error ? err.message : '')
  }

  /** Docker or podman, from the engine's /version (asked once; asked again after a failure). */
  flavour (): Promise<EngineFlavour> {
    this.#flavour ??= this.call('a version query', async abortSignal => {
      const version = await (this.docker.version.bind(this.docker) as unknown as (options: object) => Promise<{ Components?: Array<{ Name?: string }> }>)({ abortSignal })
      return (version.Components ?? []).some(component => /podman/i.test(component.Name ?? '')) ? 'podman' : 'docker'
    }, undefined, { idempotent: true })
    this.#flavour.catch(() => { this.#flavour = null })
    return this.#flavour
  }

  unavailable (what: string, err: unknown): Error {
    return RuntimeDockerErrors.engineUnavailable(`the container engine at unix://${this.socketPath} did not answer ${what}: ${engineMessage(err)} (is Docker or \`podman system service\` listening there? set the runtime-docker plugin's socketPath, jobs.dockerSocket (WORKER_JOB_DOCKER_SOCKET) or DOCKER_HOST)`, { cause: err, details: { socketPath: this.socketPath } })
  }

  /**
   * Runs one short call with the request timeout (and the caller's signal, if any).
   * Unreachable-engine failures become CONTAINER_ENGINE_UNAVAILABLE; the engine's own
   * answers (404, 409, 500) are rethrown as they are for the caller to judge.
   */
  async call<T> (what: string, fn: (abortSignal: AbortSignal) => Promise<T>, signal?: AbortSignal, options: { idempotent?: boolean } = {}): Promise<T> {
    const deadline = AbortSignal.timeout(this.requestTimeoutMs)
    const abortSignal = signal === undefined ? deadline : AbortSignal.any([deadline, signal])
    try {
      return await fn(abortSignal)
    } catch (err) {
      if (signal?.aborted === true && !deadline.aborted) throw err
      // podman's service closes idle connections; a request written to one just closed
      // fails with a reset before the engine saw it. A call that is safe to repeat
      // (a read, kill, forced remove) is sent once more on a fresh connection.
      if (options.idempotent === true && !deadline.aborted && isReset(err)) {
        try {
          return await fn(abortSignal)
        } catch (again) {
          if (signal?.aborted === true && !deadline.aborted) throw again
          if (deadline.aborted || this.isUnreachable(again)) throw this.unavailable(`${what} within ${this.requestTimeoutMs} ms`, again)
          throw again
        }
      }
      if (deadline.aborted || this.isUnreachable(err)) throw this.unavailable(`${what} within ${this.requestTimeoutMs} ms`, err)
      throw err
    }
  }
}
