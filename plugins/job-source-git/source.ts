// The git job source: one tag of an allowlisted repository, fetched as
// refs/tags/<tag> at depth 1 into an empty repository inside destDir, checked out
// there, and the repository removed again, so destDir holds the tag's tree alone.
// Every check that can be made before git runs is made first (URL, protocol, tag
// name, allowlist); git then runs with hooks, submodules, symlinks, redirects and
// the worker's git configuration switched off (git-process.ts), under one time limit
// for the whole fetch, with the pack's size watched while it downloads and the
// tree's size and symlinks checked before a file is written.
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { FetchedJobSource, JobSource, JobSourceKind, JobSourceRequest } from '@switchyard/core'
import { GitSourceErrors } from './errors.ts'
import { abortError, GitRunner, gitWords, type GitResult } from './git-process.ts'
import { checkCheckout, directoryBytes, TreeScanner } from './tree.ts'
import { checkRepoUrl, checkTagName, repoAllowed } from './validate.ts'

export const SOURCE_NAME = 'git'
const COMMIT_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/
/** how often the fetched pack's size is looked at while it downloads */
const PACK_WATCH_MS = 200

export interface GitJobSourceOptions {
  repoAllowlist: readonly string[]
  gitBin: string
  timeoutMs: number
  maxBytes: number
  maxFiles: number
  caFile?: string
}

export class GitJobSource implements JobSource {
  readonly name = SOURCE_NAME
  readonly kinds: readonly JobSourceKind[] = ['git_tag']
  readonly options: Readonly<GitJobSourceOptions>
  private readonly git: GitRunner

  constructor (options: GitJobSourceOptions) {
    this.options = Object.freeze({ ...options, repoAllowlist: [...options.repoAllowlist] })
    this.git = new GitRunner({ gitBin: options.gitBin, ...(options.caFile === undefined ? {} : { caFile: options.caFile }) })
  }

  /** Refuses what the request asks for without running git; the runner may call it to fail early. */
  check (request: Pick<JobSourceRequest, 'kind' | 'repo' | 'tag'>): { repo: string, tag: string } {
    if (request.kind !== 'git_tag') throw GitSourceErrors.refused(`the git source fetches git_tag sources, not ${String(request.kind)}`, { details: { field: 'source' } })
    const repo = request.repo ?? ''
    const tag = request.tag ?? ''
    checkRepoUrl(repo)
    checkTagName(tag)
    if (!repoAllowed(repo, this.options.repoAllowlist)) {
      throw GitSourceErrors.refused(`repository "${repo}" is not on the allowlist (jobs.repoAllowlist / WORKER_JOB_REPO_ALLOWLIST)`, { details: { field: 'repo', value: repo } })
    }
    return { repo, tag }
  }

  async fetch (request: JobSourceRequest): Promise<FetchedJobSource> {
    const { repo, tag } = this.check(request)
    const destDir = request.destDir
    if ((await readdir(destDir)).length > 0) throw GitSourceErrors.refused(`destination ${destDir} is not empty`, { details: { field: 'destDir' } })
    const deadline = new AbortController()
    const timer = setTimeout(() => {
      deadline.abort(GitSourceErrors.timeout(`fetching tag "${tag}" of ${repo} took longer than ${this.options.timeoutMs} ms`, { details: { timeoutMs: this.options.timeoutMs } }))
    }, this.options.timeoutMs)
    const signal = AbortSignal.any([request.signal, deadline.signal])
    try {
      const revision = await this.fetchInto(repo, tag, destDir, signal, deadline)
      return { dir: destDir, revision, sha256: null }
    } catch (err) {
      await emptyDirectory(destDir)
      throw signal.aborted ? abortError(signal) : err
    } finally {
      clearTimeout(timer)
    }
  }

  private async fetchInto (repo: string, tag: string, destDir: string, signal: AbortSignal, deadline: AbortController): Promise<string> {
    const describe = `tag "${tag}" of ${repo}`
    const tagRef = `refs/tags/${tag}`
    const git = async (args: string[], onStdout?: (chunk: Buffer) => void): Promise<GitResult> =>
      await this.git.run({ args, signal, cwd: destDir, ...(onStdout === undefined ? {} : { onStdout }) })

    // What the repository has under that name: a tag, a branch, or nothing.
    const listed = await git(['ls-remote', '--', repo, tagRef, `refs/heads/${tag}`])
    if (listed.code !== 0) throw GitSourceErrors.failed(`git ls-remote of ${repo} failed: ${gitWords(listed.stderr)}`, { details: { repo } })
    const refs = new Set(listed.stdout.split('\n').map(line => line.split('\t')[1]).filter(Boolean))
    if (!refs.has(tagRef)) {
      if (refs.has(`refs/heads/${tag}`)) throw GitSourceErrors.refused(`"${tag}" is a branch of ${repo}, not a tag; git jobs fetch tags only`, { details: { field: 'tag', value: tag } })
      throw GitSourceErrors.notFound(`${repo} has no tag "${tag}" (only tags are fetched: a branch name or a commit SHA is not a tag)`, { details: { field: 'tag', value: tag } })
    }

    const init = await git(['init', '-q', '--template=', '--', destDir])
    if (init.code !== 0) throw GitSourceErrors.failed(`git init in ${destDir} failed: ${gitWords(init.stderr)}`)

    const fetched = await this.watchPack(join(destDir, '.git', 'objects'), deadline, describe, async () =>
      await git(['fetch', '-q', '--depth', '1', '--no-tags', '--no-recurse-submodules', '--no-write-fetch-head', '--', repo, `+${tagRef}:${tagRef}`]))
    if (fetched.code !== 0) {
      if (/couldn't find remote ref/i.test(fetched.stderr)) throw GitSourceErrors.notFound(`${repo} has no tag "${tag}"`, { details: { field: 'tag', value: tag } })
      throw GitSourceErrors.failed(`git fetch of ${describe} failed: ${gitWords(fetched.stderr)}`, { details: { repo, tag } })
    }

    const resolved = await git(['rev-parse', '--verify', '-q', '--end-of-options', `${tagRef}^{commit}`])
    const revision = resolved.stdout.trim()
    if (resolved.code !== 0 || !COMMIT_SHA.test(revision)) throw GitSourceErrors.failed(`${describe} does not point at a commit`, { details: { repo, tag } })

    // The tree is judged before a single file of it is written.
    const scanner = new TreeScanner(this.options, describe)
    const listing = await git(['ls-tree', '-r', '-l', '-z', '--full-tree', revision], chunk => {
      scanner.push(chunk)
      if (scanner.failure !== null && !deadline.signal.aborted) deadline.abort(scanner.failure)
    })
    if (scanner.failure !== null) throw scanner.failure
    if (listing.code !== 0) throw GitSourceErrors.failed(`listing ${describe} failed: ${gitWords(listing.stderr)}`)

    const checkout = await git(['checkout', '-q', '-f', '--detach', revision])
    if (checkout.code !== 0) throw GitSourceErrors.failed(`checking out ${describe} failed: ${gitWords(checkout.stderr)}`)
    await rm(join(destDir, '.git'), { recursive: true, force: true })
    await checkCheckout(destDir, this.options, describe)
    return revision
  }

  /** Runs `work` while watching the bytes under `objectsDir`; a pack past maxBytes stops git. */
  private async watchPack<T> (objectsDir: string, deadline: AbortController, describe: string, work: () => Promise<T>): Promise<T> {
    let watching = true
    const watch = async (): Promise<void> => {
      while (watching && !deadline.signal.aborted) {
        await new Promise(resolve => setTimeout(resolve, PACK_WATCH_MS))
        if (watching && await directoryBytes(objectsDir) > this.options.maxBytes) {
          deadline.abort(GitSourceErrors.tooLarge(`${describe}: the fetched pack grew past ${this.options.maxBytes} bytes (maxBytes)`, { details: { maxBytes: this.options.maxBytes } }))
        }
      }
    }
    const watcher = watch()
    try {
      return await work()
    } finally {
      watching = false
      await watcher
    }
  }
}

/** Removes what a failed fetch left in destDir, keeping the directory the runner made. */
async function emptyDirectory (dir: string): Promise<void> {
  let entries: string[]
  try { entries = await readdir(dir) } catch { return }
  await Promise.all(entries.map(async name => await rm(join(dir, name), { recursive: true, force: true })))
}

export function createGitJobSource (options: GitJobSourceOptions): GitJobSource {
  return new GitJobSource(options)
}
