import { defineError, Errors } from '@switchyard/core'

export const RuntimeDockerErrors = {
  /** the socket does not answer, refuses, or a call ran out of its request timeout */
  engineUnavailable: defineError('CONTAINER_ENGINE_UNAVAILABLE'),
  /** the build failed (the message ends with the last lines of its output) or its context is not usable */
  buildFailed: defineError('IMAGE_BUILD_FAILED'),
  /** the engine refused to create, start or wait for the container */
  runFailed: defineError('CONTAINER_RUN_FAILED'),
  /** a spec the runtime will not run (a root user, a relative artifacts directory), naming the field */
  invalidSpec: Errors.validation
} as const
