// The artifact-store-fs plugin: job artifacts (source archives, output.log, files a
// run wrote to /artifacts) in a local directory. A gateway running apart reaches them
// through the admin service (GetJobArtifact), so only the workers' hosts need the
// directory.
import { isAbsolute, join, resolve } from 'node:path'
import { definePlugin, parseByteSize } from '@switchyard/core/plugin'
import type { ResolvedConfig } from '@switchyard/core'
import { FsArtifactStoreOptionsSchema } from './options.ts'
import { createFsArtifactStore } from './store.ts'

/** jobs.workdir when the running core's config has a jobs section */
function jobsWorkdir (config: ResolvedConfig): string | null {
  const workdir = (config as unknown as { jobs?: { workdir?: unknown } }).jobs?.workdir
  return typeof workdir === 'string' && workdir !== '' ? workdir : null
}

export default definePlugin({
  name: 'artifact-store-fs',
  version: '0.1.0',
  options: FsArtifactStoreOptionsSchema,
  register (hooks, options, ctx) {
    const dir = options.dir === undefined
      ? join(jobsWorkdir(ctx.config) ?? ctx.config.dataDir, 'artifacts')
      : (isAbsolute(options.dir) ? options.dir : resolve(ctx.configDir, options.dir))
    // The schema guarantees maxBytes parses; the fallback only satisfies the types.
    hooks.registerArtifactStore(createFsArtifactStore({ dir, maxBytes: parseByteSize(options.maxBytes) ?? 256 * 1024 * 1024 }))
  }
})
