// The job-source-git plugin: registers the git source for git_tag jobs. Options win
// over the config's jobs section (jobs.repoAllowlist, jobs.gitBin), which the
// WORKER_JOB_REPO_ALLOWLIST and WORKER_JOB_GIT_BIN variables set.
import { isAbsolute, resolve } from 'node:path'
import { definePlugin, parseByteSize, parseDuration } from '@switchyard/core/plugin'
import { GitSourceOptionsSchema } from './options.ts'
import { gitJobSettings } from './settings.ts'
import { createGitJobSource } from './source.ts'

export default definePlugin({
  name: 'job-source-git',
  version: '0.1.0',
  options: GitSourceOptionsSchema,
  register (hooks, options, ctx) {
    const settings = gitJobSettings(ctx.config)
    const repoAllowlist = options.repoAllowlist ?? settings.repoAllowlist ?? []
    const gitBin = options.gitBin ?? settings.gitBin ?? 'git'
    const caFile = options.caFile === undefined ? undefined : (isAbsolute(options.caFile) ? options.caFile : resolve(ctx.configDir, options.caFile))
    // The schema guarantees these parse; the fallbacks only satisfy the types.
    const source = createGitJobSource({
      repoAllowlist,
      gitBin,
      timeoutMs: parseDuration(options.timeout) ?? 60_000,
      maxBytes: parseByteSize(options.maxBytes) ?? 256 * 1024 * 1024,
      maxFiles: options.maxFiles,
      ...(caFile === undefined ? {} : { caFile })
    })
    if (repoAllowlist.length === 0) ctx.log.info('no repository is allowed (jobs.repoAllowlist is empty): git jobs will be refused')
    hooks.registerJobSource(source)
  }
})
