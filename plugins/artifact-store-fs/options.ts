import { Type, type Static } from 'typebox'
import { BYTE_SIZE_PATTERN } from '@switchyard/core/plugin'

export const FsArtifactStoreOptionsSchema = Type.Object({
  dir: Type.Optional(Type.String({
    minLength: 1,
    description: 'Directory of the store; relative to the config file. Default: <jobs.workdir>/artifacts (WORKER_JOB_WORKDIR), else <dataDir>/artifacts'
  })),
  maxBytes: Type.Union([Type.String({ pattern: BYTE_SIZE_PATTERN }), Type.Integer({ minimum: 1 })], {
    default: '256mb',
    description: 'Largest artifact accepted, enforced while it streams in; a larger one is refused and nothing of it is kept'
  })
}, { additionalProperties: false })

export type FsArtifactStorePluginOptions = Static<typeof FsArtifactStoreOptionsSchema>
