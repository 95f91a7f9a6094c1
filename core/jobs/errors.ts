import { defineError } from '../errors.ts'

export const JobErrors = {
  jobNotFound: defineError('JOB_NOT_FOUND'),
  runNotFound: defineError('JOB_RUN_NOT_FOUND'),
  artifactNotFound: defineError('JOB_ARTIFACT_NOT_FOUND'),
  artifactStoreNotConfigured: defineError('ARTIFACT_STORE_NOT_CONFIGURED')
} as const
