import { defineError, Errors } from '@switchyard/core'

export const ArtifactStoreErrors = {
  /** the content is over maxBytes; nothing of it was kept */
  tooLarge: defineError('ARTIFACT_TOO_LARGE'),
  /** a key or content type that the store does not accept */
  invalid: Errors.validation
} as const
