// The ContainerRuntime of Docker Engine and podman (its Docker-compatible API), over
// dockerode: image cache lookups, builds, hardened runs, and the managed-container
// listing the runner's reaper uses.
import type { ContainerRunResult, ContainerRunSpec, ContainerRuntime, ImageBuildRequest, ManagedContainer, PluginContext } from '@switchyard/core'
import { buildImage } from './build.ts'
import { Engine, statusOf } from './engine.ts'
import { ContainerRunner, type RunDefaults } from './run.ts'

export interface DockerRuntimeOptions {
  /** the name the runtime is registered under */
  name?: string
  socketPath: string
  connectTimeoutMs?: number
  requestTimeoutMs?: number
  /** upper bound of a build, whatever the request asks */
  buildTimeoutMs?: number
  /** defaults of a run: user, tmpfs size, limits, stop grace */
  defaults?: Partial<RunDefaults>
  /** most containers one listManagedContainers call returns */
  listLimit?: number
  log?: PluginContext['log']
}

export const RUNTIME_NAME = 'docker'

export const DEFAULT_RUN_DEFAULTS: RunDefaults = {
  user: '65534:65534',
  tmpfsBytes: 64 * 1024 * 1024,
  memoryBytes: 512 * 1024 * 1024,
  cpus: 1,
  pids: 256,
  stopGraceMs: 10_000
}

export class DockerRuntime implements ContainerRuntime {
  readonly name: string
  readonly engine: Engine
  readonly #runner: ContainerRunner
  readonly #buildTimeoutMs: number
  readonly #listLimit: number

  constructor (options: DockerRuntimeOptions) {
    this.name = options.name ?? RUNTIME_NAME
    this.engine = new Engine({ socketPath: options.socketPath, connectTimeoutMs: options.connectTimeoutMs ?? 5000, requestTimeoutMs: options.requestTimeoutMs ?? 30_000 })
    this.#runner = new ContainerRunner(this.engine, { ...DEFAULT_RUN_DEFAULTS, ...options.defaults }, options.log)
    this.#buildTimeoutMs = options.buildTimeoutMs ?? 30 * 60_000
    this.#listLimit = options.listLimit ?? 1000
  }

  get socketPath (): string { return this.engine.socketPath }

  async ping (): Promise<void> {
    try {
      await this.engine.call('a ping', abortSignal => {
        // @types/dockerode lags dockerode 5, whose ping takes options (the abort signal) too.
        const ping = this.engine.docker.ping.bind(this.engine.docker) as unknown as (options: object) => Promise<unknown>
        return ping({ abortSignal })
      }, undefined, { idempotent: true })
    } catch (err) {
      // Whatever the failure (refused, timed out, not an API at all), it means the same: no engine there.
      throw this.engine.unavailable(`a ping within ${this.engine.requestTimeoutMs} ms`, (err as Error).cause ?? err)
    }
  }

  async findImage (tag: string): Promise<string | null> {
    try {
      const image = await this.engine.call('an image inspect', abortSignal => this.engine.docker.getImage(tag).inspect({ abortSignal } as object), undefined, { idempotent: true }) as { Id: string }
      return image.Id
    } catch (err) {
      if (statusOf(err) === 404) return null
      throw err
    }
  }

  buildImage (request: ImageBuildRequest): Promise<{ imageId: string }> {
    return buildImage(this.engine, request, this.#buildTimeoutMs)
  }

  runContainer (spec: ContainerRunSpec): Promise<ContainerRunResult> {
    return this.#runner.run(spec)
  }

  async listManagedContainers (labelKey: string): Promise<ManagedContainer[]> {
    const listed = await this.engine.call('a container list', abortSignal => this.engine.docker.listContainers({
      all: true,
      limit: this.#listLimit,
      filters: { label: [labelKey] },
      abortSignal
    } as object), undefined, { idempotent: true })
    return listed.slice(0, this.#listLimit).map(container => ({
      id: container.Id,
      labels: container.Labels ?? {},
      running: container.State === 'running' || container.State === 'paused' || container.State === 'restarting'
    }))
  }

  removeContainer (id: string): Promise<void> {
    return this.#runner.remove(id)
  }
}

export function createDockerRuntime (options: DockerRuntimeOptions): DockerRuntime {
  return new DockerRuntime(options)
}
