// One hardened container run: create (SPEC §6: no new privileges, every capability
// dropped, read-only root with a size-limited noexec tmpfs at /tmp, a non-root numeric
// user, memory/CPU/pids limits, network none unless configured, no host path but the
// artifacts directory), start, read the combined output through `logs` (not `attach`:
// podman's attach stream begins with the echoed request), stop it on timeout or abort
// (SIGTERM, then SIGKILL after the grace period), wait for the exit code, and always
// remove it.
import { chmod } from 'node:fs/promises'
import { isAbsolute } from 'node:path'
import type Docker from 'dockerode'
import type { ContainerRunResult, ContainerRunSpec, PluginContext } from '@switchyard/core'
import type { Engine } from './engine.ts'
import { engineMessage, statusOf } from './engine.ts'
import { RuntimeDockerErrors } from './errors.ts'
import { CappedOutput, FrameDecoder } from './output.ts'

export interface RunDefaults {
  user: string
  tmpfsBytes: number
  memoryBytes: number
  cpus: number
  pids: number
  stopGraceMs: number
}

const NUMERIC_USER = /^([0-9]{1,10})(?::([0-9]{1,10}))?$/

/**
 * The user a container runs as: numeric uid or uid:gid, never 0. A user name is refused
 * because the image's own /etc/passwd decides what a name means (it could map to uid 0).
 */
export function checkedUser (user: string): string {
  const match = NUMERIC_USER.exec(user)
  if (match === null) {
    throw RuntimeDockerErrors.invalidSpec(`user must be a numeric uid or uid:gid (a name could mean root in the image), got ${JSON.stringify(user)}`, { details: { field: 'user' } })
  }
  if (Number(match[1]) === 0 || (match[2] !== undefined && Number(match[2]) === 0)) {
    throw RuntimeDockerErrors.invalidSpec(`user must not be root (uid or gid 0), got ${JSON.stringify(user)}`, { details: { field: 'user' } })
  }
  return user
}

export function containerCreateOptions (spec: ContainerRunSpec, defaults: RunDefaults): Docker.ContainerCreateOptions {
  const user = checkedUser(spec.user === '' ? defaults.user : spec.user)
  const memory = spec.memoryBytes ?? defaults.memoryBytes
  const cpus = spec.cpus ?? defaults.cpus
  const pids = spec.pids ?? defaults.pids
  if (!Number.isSafeInteger(memory) || memory < 4 * 1024 * 1024) throw RuntimeDockerErrors.invalidSpec(`memoryBytes must be at least 4 MiB, got ${memory}`, { details: { field: 'memoryBytes' } })
  if (!(cpus > 0)) throw RuntimeDockerErrors.invalidSpec(`cpus must be above 0, got ${cpus}`, { details: { field: 'cpus' } })
  if (!Number.isSafeInteger(pids) || pids < 1) throw RuntimeDockerErrors.invalidSpec(`pids must be a positive whole number, got ${pids}`, { details: { field: 'pids' } })
  const network = spec.network === '' ? 'none' : spec.network
  // The host's network stack, or another container's, would undo the isolation the rest of this sets up.
  if (network === 'host' || network.includes(':')) throw RuntimeDockerErrors.invalidSpec(`network ${JSON.stringify(network)} is refused: a job runs on 'none' or on a named network`, { details: { field: 'network' } })
  if (spec.artifactsDir !== undefined && !isAbsolute(spec.artifactsDir)) throw RuntimeDockerErrors.invalidSpec(`artifactsDir must be an absolute path, got ${JSON.stringify(spec.artifactsDir)}`, { details: { field: 'artifactsDir' } })
  return {
    Image: spec.image,
    ...(spec.command.length > 0 ? { Cmd: spec.command } : {}),
    Env: spec.env,
    Labels: spec.labels,
    User: user,
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    HostConfig: {
      Privileged: false,
      SecurityOpt: ['no-new-privileges'],
      CapDrop: ['ALL'],
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': `rw,noexec,nosuid,nodev,size=${defaults.tmpfsBytes}` },
      Memory: memory,
      // Equal to Memory: no swap on top of the limit.
      MemorySwap: memory,
      NanoCpus: Math.round(cpus * 1e9),
      PidsLimit: pids,
      NetworkMode: network,
      AutoRemove: false,
      Mounts: spec.artifactsDir === undefined ? [] : [{ Type: 'bind', Source: spec.artifactsDir, Target: '/artifacts', ReadOnly: false }]
    }
  }
}

function delay (ms: number): Promise<void> {
  return new Promise(resolve => { setTimeout(resolve, ms).unref() })
}

export class ContainerRunner {
  constructor (private readonly engine: Engine, private readonly defaults: RunDefaults, private readonly log?: PluginContext['log']) {}

  async run (spec: ContainerRunSpec): Promise<ContainerRunResult> {
    const engine = this.engine
    const options = containerCreateOptions(spec, this.defaults)
    if (!(spec.timeoutMs > 0)) throw RuntimeDockerErrors.invalidSpec(`timeoutMs must be above 0, got ${spec.timeoutMs}`, { details: { field: 'timeoutMs' } })
    const output = new CappedOutput(spec.outputMaxBytes)
    const stopGraceMs = Number.isFinite(spec.stopGraceMs) && spec.stopGraceMs >= 0 ? spec.stopGraceMs : this.defaults.stopGraceMs
    if (spec.artifactsDir !== undefined) {
      // The job runs as an unprivileged uid the worker does not share (and, with rootless
      // podman, one mapped to a subordinate uid): the directory must be writable by it.
      // Its parent is the runner's private per-run directory, so this opens it to no one else.
      await chmod(spec.artifactsDir, 0o777).catch((err: unknown) => {
        throw RuntimeDockerErrors.invalidSpec(`artifactsDir ${spec.artifactsDir} cannot be opened to the job's user: ${(err as Error).message}`, { cause: err, details: { field: 'artifactsDir' } })
      })
    }
    const container = await this.#engineStep('creating a container from ' + spec.image, abortSignal => engine.docker.createContainer({ ...options, abortSignal } as Docker.ContainerCreateOptions))
    const state = { exited: false }
    try {
      spec.onCreated?.(container.id)
      if (spec.signal.aborted) {
        const now = Date.now()
        return { containerId: container.id, exitCode: null, timedOut: false, canceled: true, output: output.result(), outputBytes: 0, truncated: false, startedAt: now, finishedAt: now }
      }
      return await this.#runCreated(container, spec, output, stopGraceMs, state)
    } finally {
      // A failure here is logged by remove(); the run's result stands and the reaper removes the container later.
      await this.remove(container.id, { exited: state.exited }).catch(() => undefined)
    }
  }

  async #runCreated (container: Docker.Container, spec: ContainerRunSpec, output: CappedOutput, stopGraceMs: number, state: { exited: boolean }): Promise<ContainerRunResult> {
    const engine = this.engine
    await this.#engineStep(`starting container ${container.id}`, abortSignal => container.start({ abortSignal } as object))
    const startedAt = Date.now()
    // wait and logs are long requests: each gets a controller of its own, aborted when
    // the run gives up on it (a client-wide idle timeout would cut a quiet container).
    const waitController = new AbortController()
    const logsController = new AbortController()
    const exited = (container.wait({ abortSignal: waitController.signal } as object) as Promise<{ StatusCode: number }>)
      .then(answer => ({ statusCode: answer.StatusCode, error: null as unknown }), (error: unknown) => ({ statusCode: null, error }))
    const reader = this.#outputReader(container, spec, output)
    const drained = reader.live(logsController.signal)

    let timedOut = false
    let canceled = false
    let stopping: Promise<void> | null = null
    const stop = (why: 'timeout' | 'cancel'): void => {
      if (stopping !== null) return
      if (why === 'timeout') timedOut = true
      else canceled = true
      stopping = this.#stop(container, stopGraceMs, exited).catch((err: unknown) => {
        this.log?.warn({ err, containerId: container.id }, 'stopping a job container failed; it is removed with force')
      })
    }
    const timer = setTimeout(() => { stop('timeout') }, spec.timeoutMs)
    const onAbort = (): void => { stop('cancel') }
    spec.signal.addEventListener('abort', onAbort, { once: true })
    if (spec.signal.aborted) onAbort()
    // A bound on the wait itself, for an engine that never answers it.
    const giveUp = setTimeout(() => { waitController.abort() }, spec.timeoutMs + stopGraceMs + 2 * engine.requestTimeoutMs)
    let exit: Awaited<typeof exited>
    try {
      exit = await exited
    } finally {
      clearTimeout(timer)
      clearTimeout(giveUp)
      spec.signal.removeEventListener('abort', onAbort)
    }
    if (stopping !== null) await stopping
    // the engine answered the wait: the container is no longer running
    if (exit.error === null) state.exited = true
    // The container has exited: the live stream is closed rather than left to end by
    // itself (podman's follow mode noticed the exit up to ~250 ms after the wait
    // answered, measured), and the rest pass reads what it had not delivered yet in a
    // few ms, within a bounded time.
    logsController.abort()
    await drained
    const restController = new AbortController()
    const giveUpOutput = setTimeout(() => { restController.abort() }, engine.requestTimeoutMs)
    await reader.rest(restController.signal)
    clearTimeout(giveUpOutput)
    const finishedAt = Date.now()
    if (exit.error !== null && !timedOut && !canceled) {
      if (engine.isUnreachable(exit.error)) throw engine.unavailable(`while waiting for container ${container.id}`, exit.error)
      throw RuntimeDockerErrors.runFailed(`waiting for container ${container.id} failed: ${engineMessage(exit.error)}`, { cause: exit.error })
    }
    return {
      containerId: container.id,
      exitCode: timedOut || canceled ? null : exit.statusCode,
      timedOut,
      canceled,
      output: output.result(),
      outputBytes: output.totalBytes,
      truncated: output.truncated,
      startedAt,
      finishedAt
    }
  }

  /**
   * Reads the container's combined output into the capped buffer: live through a
   * follow-mode log stream while it runs, then once more after it exited, skipping what
   * the live pass delivered. The second pass is what makes the output complete: podman's
   * follow stream may end at the container's exit before it sent everything the log
   * holds (seen with a 10 MB burst), and the live stream is closed once the container
   * exited. Bytes past the cap are read and dropped.
   */
  #outputReader (container: Docker.Container, spec: ContainerRunSpec, output: CappedOutput): { live: (abortSignal: AbortSignal) => Promise<void>, rest: (abortSignal: AbortSignal) => Promise<void> } {
    let delivered = 0
    const deliver = (payload: Buffer): void => {
      delivered += payload.length
      const kept = output.push(payload)
      if (kept.length === 0 || spec.onOutput === undefined) return
      try {
        spec.onOutput(kept)
      } catch (err) {
        this.log?.warn({ err, containerId: container.id }, 'a job output listener failed')
      }
    }
    const read = async (follow: boolean, abortSignal: AbortSignal, onPayload: (payload: Buffer) => void): Promise<void> => {
      const decoder = new FrameDecoder()
      try {
        const stream = await this.#logStream(container, follow, abortSignal)
        for await (const chunk of stream) {
          for (const payload of decoder.push(chunk)) onPayload(payload)
        }
      } catch (err) {
        if (!abortSignal.aborted) this.log?.warn({ err, containerId: container.id, follow }, 'reading a job container\'s output failed; the output may be incomplete')
      }
    }
    return {
      live: abortSignal => read(true, abortSignal, deliver),
      rest: abortSignal => {
        let skip = delivered
        return read(false, abortSignal, payload => {
          if (skip >= payload.length) { skip -= payload.length; return }
          const fresh = payload.subarray(skip)
          skip = 0
          deliver(fresh)
        })
      }
    }
  }

  /** The log stream as a stream in both modes (dockerode buffers a non-follow answer whole; a 10 MB log must not be). */
  #logStream (container: Docker.Container, follow: boolean, abortSignal: AbortSignal): Promise<AsyncIterable<Buffer>> {
    return new Promise((resolve, reject) => {
      this.engine.docker.modem.dial({
        path: `/containers/${container.id}/logs?`,
        method: 'GET',
        isStream: true,
        abortSignal,
        statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
        options: { follow, stdout: true, stderr: true }
      }, (err, stream) => { if (err === null || err === undefined) resolve(stream as unknown as AsyncIterable<Buffer>); else reject(err) })
    })
  }

  /** SIGTERM, then SIGKILL when the container has not exited after the grace period. */
  async #stop (container: Docker.Container, graceMs: number, exited: Promise<unknown>): Promise<void> {
    await this.#signal(container, 'SIGTERM')
    const done = await Promise.race([exited.then(() => true), delay(graceMs).then(() => false)])
    if (!done) await this.#signal(container, 'SIGKILL')
  }

  async #signal (container: Docker.Container, signal: string): Promise<void> {
    try {
      await this.engine.call(`kill ${signal}`, abortSignal => container.kill({ signal, abortSignal } as object), undefined, { idempotent: true })
    } catch (err) {
      // 404: already removed; 409 (Docker) / 500 (podman): no longer running. Both are the goal.
      const status = statusOf(err)
      if (status === 404 || status === 409 || status === 500) return
      throw err
    }
  }

  /**
   * SIGKILL and remove; a container that is not there is fine. The kill comes first
   * because podman's forced removal stops a running container with its stop timeout;
   * `exited` (the engine answered the wait) saves that call.
   */
  async remove (id: string, options: { exited?: boolean } = {}): Promise<void> {
    const container = this.engine.docker.getContainer(id)
    try {
      if (options.exited !== true) await this.#signal(container, 'SIGKILL')
      await this.engine.call('remove', abortSignal => container.remove({ force: true, v: true, abortSignal } as object), undefined, { idempotent: true })
    } catch (err) {
      if (statusOf(err) === 404) return
      this.log?.warn({ err, containerId: id }, 'removing a job container failed; the reaper removes it later')
      throw err
    }
  }

  /** A short engine call; the engine's refusal becomes CONTAINER_RUN_FAILED naming the step. */
  async #engineStep<T> (what: string, fn: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await this.engine.call(what, fn)
    } catch (err) {
      if (RuntimeDockerErrors.engineUnavailable.is(err)) throw err
      throw RuntimeDockerErrors.runFailed(`${what} failed: ${engineMessage(err)}`, { cause: err, details: { status: statusOf(err) } })
    }
  }
}
