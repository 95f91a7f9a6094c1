// @switchyard/job-source-git: git_tag job sources, fetched as one tag of an allowlisted repository.
export { GitJobSource, createGitJobSource, SOURCE_NAME, type GitJobSourceOptions } from './source.ts'
export { GitSourceOptionsSchema, type GitSourceOptions } from './options.ts'
export { GitSourceErrors } from './errors.ts'
export { checkRepoUrl, checkTagName, repoAllowed } from './validate.ts'
export { gitEnvironment } from './git-process.ts'
export { default } from './plugin.ts'
