import { Type, type Static } from 'typebox'
import { BYTE_SIZE_PATTERN, DURATION_PATTERN } from '@switchyard/core/plugin'

export const GitSourceOptionsSchema = Type.Object({
  repoAllowlist: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 512 }), {
    maxItems: 1000,
    description: 'Repositories jobs may fetch: an exact URL, a prefix ending in "/" (every repository under it), or "*" for all. Default: jobs.repoAllowlist (WORKER_JOB_REPO_ALLOWLIST); empty: no git job runs'
  })),
  gitBin: Type.Optional(Type.String({ minLength: 1, description: 'The git executable. Default: jobs.gitBin (WORKER_JOB_GIT_BIN), else "git" on PATH' })),
  timeout: Type.Union([Type.String({ pattern: DURATION_PATTERN }), Type.Integer({ minimum: 1 })], {
    default: '60s',
    description: 'Longest a whole fetch (ls-remote, fetch, checkout) may take (e.g. 30s, 2m, or milliseconds); git is killed when it runs out'
  }),
  maxBytes: Type.Union([Type.String({ pattern: BYTE_SIZE_PATTERN }), Type.Integer({ minimum: 1 })], {
    default: '256mb',
    description: 'Largest checkout (sum of file sizes), also the cap on the fetched pack while it downloads'
  }),
  maxFiles: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 50_000, description: 'Most files a checkout may hold' }),
  caFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of CA certificates git trusts for https repositories (private CAs); relative to the config file' }))
}, { additionalProperties: false })

export type GitSourceOptions = Static<typeof GitSourceOptionsSchema>
