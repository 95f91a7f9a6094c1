// @switchyard/runtime-docker: job containers through Docker Engine or podman's Docker-compatible API.
export { DockerRuntime, createDockerRuntime, RUNTIME_NAME, DEFAULT_RUN_DEFAULTS, type DockerRuntimeOptions } from './runtime.ts'
export { RuntimeDockerOptionsSchema, type RuntimeDockerOptions } from './options.ts'
export { RuntimeDockerErrors } from './errors.ts'
export { resolveSocketPath, DEFAULT_SOCKET } from './engine.ts'
export { checkedUser, containerCreateOptions, type RunDefaults } from './run.ts'
export { checkedDockerfile } from './context.ts'
export { CappedOutput, FrameDecoder, truncationMarker } from './output.ts'
export { default } from './plugin.ts'
