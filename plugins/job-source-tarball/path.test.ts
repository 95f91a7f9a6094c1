// tarball_path: the file must resolve, after symlinks, inside the tarball directory.
import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { packedContext, rawTar, sandbox, sha256, sourceWith, tree } from './test-support.ts'
import type { TarballSourceOptions } from './source.ts'

async function setup (t: Test, overrides: Partial<TarballSourceOptions> = {}) {
  const box = await sandbox(t)
  const tarballs = join(box.root, 'tarballs')
  await mkdir(tarballs)
  const context = await packedContext(box.root)
  await writeFile(join(tarballs, 'ctx.tgz'), context)
  // A tarball outside the directory, which every attack below aims at.
  await writeFile(join(box.outside, 'secret.tgz'), context)
  const source = sourceWith({ dir: tarballs, ...overrides })
  const fetchPath = async (tarballPath: string, tarballSha256?: string) => await source.fetch({
    kind: 'tarball_path', tarballPath, destDir: box.destDir, signal: AbortSignal.timeout(30_000), ...(tarballSha256 === undefined ? {} : { tarballSha256 })
  })
  const refused = async (tarballPath: string, expected: { code: string, message: RegExp }) => {
    await t.rejects(fetchPath(tarballPath), expected)
    t.same(await readdir(box.destDir), [], 'destDir is empty')
  }
  return { box, tarballs, context, fetchPath, refused }
}

t.test('a tarball inside the directory extracts (relative or absolute path) and reports its SHA-256', async t => {
  const { box, tarballs, context, fetchPath } = await setup(t)
  const fetched = await fetchPath('ctx.tgz', sha256(context))
  t.equal(fetched.sha256, sha256(context))
  t.equal(fetched.archivePath, join(box.destDir, 'source.tar.gz'))
  t.same(await readFile(fetched.archivePath as string), context, 'a copy in the run directory, not the shared file')
  t.equal(await readFile(join(fetched.dir, 'hello.txt'), 'utf8'), 'hello from a tarball\n')
  const again = await setup(t)
  await mkdir(join(again.tarballs, 'team'))
  await writeFile(join(again.tarballs, 'team', 'x.tgz'), context)
  await symlink(join(again.tarballs, 'team', 'x.tgz'), join(again.tarballs, 'latest.tgz'))
  t.equal((await again.fetchPath(join(again.tarballs, 'team', 'x.tgz'))).sha256, sha256(context), 'an absolute path inside')
  t.ok(tarballs)
})

t.test('a symlink that stays inside the directory is followed', async t => {
  const { tarballs, context, fetchPath } = await setup(t)
  await symlink('ctx.tgz', join(tarballs, 'latest.tgz'))
  t.equal((await fetchPath('latest.tgz')).sha256, sha256(context))
})

t.test('paths outside the directory are refused, also through symlinks', async t => {
  const { box, tarballs, refused } = await setup(t)
  await refused('../outside/secret.tgz', { code: 'JOB_SOURCE_REFUSED', message: /is outside the tarball directory/ })
  await refused(join(box.outside, 'secret.tgz'), { code: 'JOB_SOURCE_REFUSED', message: /is outside the tarball directory/ })
  await refused('sub/../../outside/secret.tgz', { code: 'JOB_SOURCE_REFUSED', message: /is outside the tarball directory/ })
  await symlink(join(box.outside, 'secret.tgz'), join(tarballs, 'escape.tgz'))
  await refused('escape.tgz', { code: 'JOB_SOURCE_REFUSED', message: /resolves \(through a symlink\) outside the tarball directory/ })
  await symlink(box.outside, join(tarballs, 'shared'))
  await refused('shared/secret.tgz', { code: 'JOB_SOURCE_REFUSED', message: /resolves \(through a symlink\) outside/ })
  await symlink('/etc/passwd', join(tarballs, 'passwd.tgz'))
  await refused('passwd.tgz', { code: 'JOB_SOURCE_REFUSED', message: /outside/ })
  await refused('.', { code: 'JOB_SOURCE_REFUSED', message: /outside the tarball directory/ })
  await refused('a\0b', { code: 'JOB_SOURCE_REFUSED', message: /not a usable path/ })
  t.same(await tree(box.outside), ['secret.tgz'])
})

t.test('not a regular file, missing, or over the cap', async t => {
  const { tarballs, refused } = await setup(t, { maxBytes: 1024 })
  await mkdir(join(tarballs, 'dir.tgz'))
  await refused('dir.tgz', { code: 'JOB_SOURCE_REFUSED', message: /is not a regular file/ })
  execFileSync('mkfifo', [join(tarballs, 'fifo.tgz')])
  await refused('fifo.tgz', { code: 'JOB_SOURCE_REFUSED', message: /is not a regular file/ })
  await refused('missing.tgz', { code: 'JOB_SOURCE_NOT_FOUND', message: /does not exist/ })
  await writeFile(join(tarballs, 'big.tgz'), rawTar([{ path: 'noise', body: randomBytes(4096) }]))
  await refused('big.tgz', { code: 'JOB_SOURCE_TOO_LARGE', message: /over the 1024-byte tarball cap/ })
})

t.test('without a configured directory tarball_path is off', async t => {
  const { refused } = await setup(t, { dir: null })
  await refused('ctx.tgz', { code: 'JOB_SOURCE_REFUSED', message: /no tarball directory is configured/ })
})

t.test('a SHA-256 mismatch on a local tarball is refused', async t => {
  const { box, tarballs, fetchPath } = await setup(t)
  await writeFile(join(tarballs, 'other.tgz'), rawTar([{ path: 'a', body: 'x' }]))
  await t.rejects(fetchPath('other.tgz', 'b'.repeat(64)), { code: 'JOB_SOURCE_REFUSED', message: /not the tarballSha256/ })
  t.same(await readdir(box.destDir), [])
})
