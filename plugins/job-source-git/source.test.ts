import t, { type Test } from 'tap'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { JobSourceRequest } from '@switchyard/core'
import { GitJobSource, type GitJobSourceOptions } from './index.ts'
import { buildFixtureRepo, recordingGit, startGitServer } from './test-support.ts'

const root = await mkdtemp(join(tmpdir(), 'sy-git-source-'))
t.teardown(() => rm(root, { recursive: true, force: true }))
// What a hostile repository or a careless worker configuration would touch if anything ran.
const marker = join(root, 'PWNED')
const fixtures = join(root, 'fixtures')
await mkdir(fixtures)
const repo = await buildFixtureRepo(fixtures, marker)
const server = await startGitServer(fixtures, join(root, 'certs'))
t.teardown(() => server.close())
const appRepo = `${server.base}app.git`

// The worker's own git configuration must not reach the source: a global config
// that would run a hook and a smudge filter on every checkout.
const evilHooks = join(root, 'evil-hooks')
await mkdir(evilHooks)
await writeFile(join(evilHooks, 'post-checkout'), `#!/bin/sh\ntouch '${marker}'\n`)
await chmod(join(evilHooks, 'post-checkout'), 0o755)
const evilConfig = join(root, 'evil.gitconfig')
await writeFile(evilConfig, `[core]\n\thooksPath = ${evilHooks}\n[filter "evil"]\n\tsmudge = sh -c 'touch ${marker}; cat'\n\trequired = true\n[protocol "file"]\n\tallow = always\n`)
const savedGlobal = process.env.GIT_CONFIG_GLOBAL
process.env.GIT_CONFIG_GLOBAL = evilConfig
t.teardown(() => { if (savedGlobal === undefined) delete process.env.GIT_CONFIG_GLOBAL; else process.env.GIT_CONFIG_GLOBAL = savedGlobal })

const recorder = await recordingGit(root)
let counter = 0

function source (options: Partial<GitJobSourceOptions> = {}): GitJobSource {
  return new GitJobSource({ repoAllowlist: [server.base], gitBin: recorder.bin, timeoutMs: 30_000, maxBytes: 1024 * 1024, maxFiles: 1000, caFile: server.caFile, ...options })
}

async function dest (): Promise<string> {
  const dir = join(root, 'runs', `r${++counter}`, 'src')
  await mkdir(dir, { recursive: true })
  return dir
}

function request (destDir: string, fields: Partial<JobSourceRequest>): JobSourceRequest {
  return { kind: 'git_tag', repo: appRepo, tag: 'v1.0', destDir, signal: new AbortController().signal, ...fields }
}

async function gitCalls (): Promise<string[]> {
  try { return (await readFile(recorder.logFile, 'utf8')).split('\n').filter(Boolean) } catch { return [] }
}

async function exists (path: string): Promise<boolean> {
  try { await stat(path); return true } catch { return false }
}

async function refusedBeforeGit (t: Test, fields: Partial<JobSourceRequest>, code: string, message: RegExp, options: Partial<GitJobSourceOptions> = {}): Promise<void> {
  const before = (await gitCalls()).length
  const dir = await dest()
  await t.rejects(source(options).fetch(request(dir, fields)), { code, message })
  t.equal((await gitCalls()).length, before, 'git was not invoked')
  t.same(await readdir(dir), [], 'nothing written')
}

t.test('a tag is fetched, checked out alone (no .git) and its commit returned', async t => {
  const dir = await dest()
  const fetched = await source().fetch(request(dir, {}))
  t.same(fetched, { dir, revision: repo.v1, sha256: null })
  t.same((await readdir(dir)).sort(), ['Dockerfile', 'run.sh'])
  t.equal(await readFile(join(dir, 'run.sh'), 'utf8'), '#!/bin/sh\necho hello\n')
  const calls = await gitCalls()
  const fetch = calls.find(line => / fetch /.test(line))
  t.match(fetch, / -- https:\/\/127\.0\.0\.1:\d+\/git\/app\.git \+refs\/tags\/v1\.0:refs\/tags\/v1\.0$/, 'the repo and the refspec come after --')
  t.ok(calls.every(line => line.includes('core.hooksPath=/dev/null')), 'every call switches hooks off')
})

t.test('a lightweight tag resolves to its commit', async t => {
  const fetched = await source().fetch(request(await dest(), { tag: 'v2-light' }))
  t.equal(fetched.revision, repo.head)
})

t.test('a branch name is refused, naming it', async t => {
  const dir = await dest()
  await t.rejects(source().fetch(request(dir, { tag: 'main' })), { code: 'JOB_SOURCE_REFUSED', message: /"main" is a branch of .*not a tag/ })
  t.same(await readdir(dir), [])
})

t.test('a missing tag and an abbreviated SHA are not found', async t => {
  await t.rejects(source().fetch(request(await dest(), { tag: 'v9.9' })), { code: 'JOB_SOURCE_NOT_FOUND', message: /has no tag "v9\.9"/ })
  await t.rejects(source().fetch(request(await dest(), { tag: repo.v1.slice(0, 7) })), { code: 'JOB_SOURCE_NOT_FOUND' })
})

t.test('a full commit SHA is refused before git runs', async t => {
  await refusedBeforeGit(t, { tag: repo.v1 }, 'JOB_SOURCE_REFUSED', /is a commit SHA; git jobs fetch tags only/)
})

t.test('a repository not on the allowlist is refused before git runs', async t => {
  await refusedBeforeGit(t, {}, 'JOB_SOURCE_REFUSED', /is not on the allowlist/, { repoAllowlist: ['https://127.0.0.1/other/'] })
  await refusedBeforeGit(t, {}, 'JOB_SOURCE_REFUSED', /is not on the allowlist/, { repoAllowlist: [] })
  // a prefix must end at a separator
  await refusedBeforeGit(t, { repo: `${server.base}app.git` }, 'JOB_SOURCE_REFUSED', /is not on the allowlist/, { repoAllowlist: [server.base.slice(0, -1)] })
  const fetched = await source({ repoAllowlist: [appRepo] }).fetch(request(await dest(), {}))
  t.equal(fetched.revision, repo.v1, 'an exact entry allows that repository')
  t.equal((await source({ repoAllowlist: ['*'] }).fetch(request(await dest(), {}))).revision, repo.v1, '* allows all')
})

t.test('other protocols, local paths and option injection are refused before git runs', async t => {
  const everything = { repoAllowlist: ['*'] }
  for (const bad of [
    `file://${fixtures}/app.git`,
    `ext::sh -c touch% ${marker}`,
    'ext::sh',
    `${fixtures}/app.git`,
    './app.git',
    `--upload-pack=touch ${marker}`,
    `-u touch ${marker}`,
    `http://127.0.0.1/git/app.git`,
    'ssh://-oProxyCommand=touch/x',
    '-oProxyCommand=x@host:repo',
    'git@-oProxyCommand=x:repo',
    `${server.base}../secret.git`,
    `${server.base}app.git?x=1`,
    'https://user:pw@example.com/app.git'
  ]) {
    await refusedBeforeGit(t, { repo: bad }, 'JOB_SOURCE_REFUSED', /repository/, everything)
  }
  for (const bad of ['-x', `--upload-pack=touch ${marker}`, 'a..b', 'a b', 'v1^{}', 'refs/heads/main', 'x.lock', '.hidden', 'a/', 'a:b', '@']) {
    await refusedBeforeGit(t, { tag: bad }, 'JOB_SOURCE_REFUSED', /tag|commit SHA|full ref/, everything)
  }
  await refusedBeforeGit(t, { kind: 'tarball_url' }, 'JOB_SOURCE_REFUSED', /fetches git_tag sources/)
  t.notOk(await exists(marker), 'nothing ran')
})

t.test('hooks, filters and submodules of the repository (and the worker\'s git config) have no effect', async t => {
  const withHook = await dest()
  await source().fetch(request(withHook, { tag: 'with-hook-and-filter' }))
  t.equal(await readFile(join(withHook, 'run.sh'), 'utf8'), '#!/bin/sh\necho hello\n', 'no filter rewrote the content')
  t.ok(await exists(join(withHook, 'hooks', 'post-checkout')), 'the hook is a plain file of the checkout')
  const withSubmodule = await dest()
  await source().fetch(request(withSubmodule, { tag: 'with-submodule' }))
  t.same(await readdir(join(withSubmodule, 'sub')).catch(() => []), [], 'the submodule was not fetched')
  const evilModules = await dest()
  await t.rejects(source().fetch(request(evilModules, { tag: 'with-evil-gitmodules' })), { code: 'JOB_SOURCE_FAILED', message: /disallowed submodule update/ }, 'fsck refuses a .gitmodules that runs a command')
  t.same(await readdir(evilModules), [])
  t.notOk(await exists(marker), 'no hook, filter or submodule command ran')
  t.same((await readdir(join(root, 'runs'))).length, counter, 'nothing was written beside the run directories')
})

t.test('a tag whose tree holds a symlink is refused and leaves nothing', async t => {
  const dir = await dest()
  await t.rejects(source().fetch(request(dir, { tag: 'with-symlink' })), { code: 'JOB_SOURCE_REFUSED', message: /symbolic link \(passwd\)/ })
  t.same(await readdir(dir), [])
})

t.test('size limits: bytes and files', async t => {
  const big = await dest()
  await t.rejects(source({ maxBytes: 16 * 1024 }).fetch(request(big, { tag: 'big' })), { code: 'JOB_SOURCE_TOO_LARGE', message: /larger than 16384 bytes|pack grew past/ })
  t.same(await readdir(big), [])
  const many = await dest()
  await t.rejects(source({ maxFiles: 10 }).fetch(request(many, { tag: 'many' })), { code: 'JOB_SOURCE_TOO_LARGE', message: /more than 10 files/ })
  t.same(await readdir(many), [])
})

t.test('the time limit stops git; so does the run\'s abort signal', async t => {
  const stalledRepo = `${server.stalled}app.git`
  const slow = source({ repoAllowlist: [server.stalled], timeoutMs: 500 })
  const dir = await dest()
  await t.rejects(slow.fetch(request(dir, { repo: stalledRepo })), { code: 'JOB_SOURCE_TIMEOUT', message: /took longer than 500 ms/ })
  t.same(await readdir(dir), [])
  const abort = new AbortController()
  const canceled = source({ repoAllowlist: [server.stalled] }).fetch({ ...request(await dest(), { repo: stalledRepo }), signal: abort.signal })
  setTimeout(() => abort.abort(new Error('canceled')), 200)
  await t.rejects(canceled, { code: 'JOB_SOURCE_TIMEOUT', message: /aborted/ })
})

t.test('an https server whose CA git does not trust fails the fetch', async t => {
  const dir = await dest()
  const { caFile: _ignored, ...rest } = { caFile: undefined }
  void _ignored
  await t.rejects(new GitJobSource({ repoAllowlist: ['*'], gitBin: 'git', timeoutMs: 30_000, maxBytes: 1024 * 1024, maxFiles: 1000, ...rest }).fetch(request(dir, {})), { code: 'JOB_SOURCE_FAILED', message: /ls-remote/ })
})

t.test('a legitimate job still fetches after all of the above', async t => {
  const fetched = await source().fetch(request(await dest(), {}))
  t.equal(fetched.revision, repo.v1)
  t.notOk(await exists(marker))
})
