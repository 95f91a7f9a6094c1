import { Type, type Static } from 'typebox'
import { BYTE_SIZE_PATTERN, DURATION_PATTERN } from '@switchyard/core/plugin'

function Duration (description: string, fallback: string) {
  return Type.Union([Type.String({ pattern: DURATION_PATTERN }), Type.Integer({ minimum: 1 })], {
    default: fallback,
    description: `${description} (e.g. 500ms, 5s, 10m, or milliseconds)`
  })
}

function ByteSize (description: string, fallback: string) {
  return Type.Union([Type.String({ pattern: BYTE_SIZE_PATTERN }), Type.Integer({ minimum: 1 })], {
    default: fallback,
    description: `${description} (e.g. 64mb, 1gb, or bytes)`
  })
}

export const RuntimeDockerOptionsSchema = Type.Object({
  name: Type.String({
    minLength: 1,
    maxLength: 64,
    pattern: '^[a-z0-9][a-z0-9._-]*$',
    default: 'docker',
    description: 'Name the runtime is registered under (the runner picks a runtime by name)'
  }),
  socketPath: Type.Optional(Type.String({
    minLength: 1,
    description: 'Unix socket of the Docker API (Docker Engine, or `podman system service`). Default: jobs.dockerSocket (WORKER_JOB_DOCKER_SOCKET), else DOCKER_HOST when it is unix://..., else the socket the CLI named by jobs.dockerBin (WORKER_JOB_DOCKER_BIN) reports, else /var/run/docker.sock'
  })),
  connectTimeout: Duration('How long connecting to the socket may take', '5s'),
  requestTimeout: Duration('How long one short API call (ping, inspect, create, start, kill, remove, list) may take', '30s'),
  buildTimeout: Duration('Upper bound of one image build when the caller gives a longer one', '30m'),
  defaultUser: Type.String({
    minLength: 1,
    maxLength: 64,
    default: '65534:65534',
    description: 'uid:gid a job runs as when its spec names no user; a root user (0, root) is refused'
  }),
  tmpfsSize: ByteSize('Size of the tmpfs mounted at /tmp (noexec, nosuid, nodev), the only writable place besides /artifacts', '64mb'),
  defaultMemory: ByteSize('Memory limit when the spec names none (swap is not added on top)', '512mb'),
  defaultCpus: Type.Number({ exclusiveMinimum: 0, maximum: 1024, default: 1, description: 'CPU limit when the spec names none' }),
  defaultPids: Type.Integer({ minimum: 8, maximum: 1_000_000, default: 256, description: 'Process limit when the spec names none' }),
  stopGrace: Duration('Time between SIGTERM and SIGKILL when the spec gives none (timeout, cancel)', '10s'),
  listLimit: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000, description: 'Most containers listManagedContainers returns in one call' })
}, { additionalProperties: false })

export type RuntimeDockerOptions = Static<typeof RuntimeDockerOptionsSchema>
