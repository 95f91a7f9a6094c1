import type { ResolvedConfig } from '@switchyard/core'

/** The parts of the config's `jobs` section (WORKER_JOB_*) this plugin falls back to. */
export interface GitJobSettings {
  repoAllowlist?: string[]
  gitBin?: string
}

/** The `jobs` section when the running core has one; read loosely so the plugin also runs on a core without it. */
export function gitJobSettings (config: ResolvedConfig): GitJobSettings {
  const jobs = (config as unknown as { jobs?: Record<string, unknown> }).jobs
  if (jobs === undefined || jobs === null) return {}
  const out: GitJobSettings = {}
  if (Array.isArray(jobs.repoAllowlist) && jobs.repoAllowlist.every(entry => typeof entry === 'string')) out.repoAllowlist = jobs.repoAllowlist as string[]
  if (typeof jobs.gitBin === 'string' && jobs.gitBin !== '') out.gitBin = jobs.gitBin
  return out
}
