// The runtime-docker plugin: registers a ContainerRuntime that runs job containers
// through Docker Engine or podman's Docker-compatible API on a unix socket (which one:
// socket.ts, from the options or the config's jobs.dockerSocket / jobs.dockerBin).
import { definePlugin, parseByteSize, parseDuration } from '@switchyard/core/plugin'
import { RuntimeDockerOptionsSchema } from './options.ts'
import { checkedUser } from './run.ts'
import { createDockerRuntime } from './runtime.ts'
import { chooseSocket } from './socket.ts'

export default definePlugin({
  name: 'runtime-docker',
  version: '0.1.0',
  options: RuntimeDockerOptionsSchema,
  async register (hooks, options, ctx) {
    // The schema guarantees these parse; the fallbacks only satisfy the types.
    const ms = (value: string | number, fallback: number): number => parseDuration(value) ?? fallback
    const bytes = (value: string | number, fallback: number): number => parseByteSize(value) ?? fallback
    const socket = await chooseSocket(options.socketPath, ctx.config)
    const runtime = createDockerRuntime({
      name: options.name,
      socketPath: socket.socketPath,
      connectTimeoutMs: ms(options.connectTimeout, 5000),
      requestTimeoutMs: ms(options.requestTimeout, 30_000),
      buildTimeoutMs: ms(options.buildTimeout, 30 * 60_000),
      defaults: {
        user: checkedUser(options.defaultUser),
        tmpfsBytes: bytes(options.tmpfsSize, 64 * 1024 * 1024),
        memoryBytes: bytes(options.defaultMemory, 512 * 1024 * 1024),
        cpus: options.defaultCpus,
        pids: options.defaultPids,
        stopGraceMs: ms(options.stopGrace, 10_000)
      },
      listLimit: options.listLimit,
      log: ctx.log
    })
    hooks.registerContainerRuntime(runtime)
    ctx.log.debug({ socketPath: runtime.socketPath, from: socket.from, name: runtime.name }, 'container runtime registered')
  }
})
