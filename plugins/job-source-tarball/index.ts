// @switchyard/job-source-tarball: job sources from HTTPS tarball URLs and local tarball paths.
export { TarballJobSource, SOURCE_NAME, CONTEXT_DIR, type TarballSourceOptions } from './source.ts'
export { TarballSourceOptionsSchema, type TarballSourceOptionsInput } from './options.ts'
export { TarballErrors } from './errors.ts'
export { HostAllowlist, checkTarballUrl } from './url-rules.ts'
export { addressProblem } from './address.ts'
export { EntryRules, type ArchiveLimits, type EntryHeader } from './entry-rules.ts'
export { downloadTarball, type DownloadOptions, type Resolver } from './download.ts'
export { default } from './plugin.ts'
