// Hostile archives, fed through the tarball_path source (the same extraction the URL
// source uses). Each is refused with nothing extracted: the run's directory is left
// empty and nothing appears anywhere else in the sandbox.
import t, { type Test } from 'tap'
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { create } from 'tar'
import { rawTar, sandbox, sha256, sourceWith, tree, type RawEntry } from './test-support.ts'
import type { TarballSourceOptions } from './source.ts'

async function setup (t: Test, overrides: Partial<TarballSourceOptions> = {}) {
  const box = await sandbox(t)
  const tarballs = join(box.root, 'tarballs')
  await mkdir(tarballs)
  const source = sourceWith({ dir: tarballs, ...overrides })
  let n = 0
  const fetchArchive = async (archive: Buffer) => {
    const name = `a${++n}.tgz`
    await writeFile(join(tarballs, name), archive)
    return await source.fetch({ kind: 'tarball_path', tarballPath: name, destDir: box.destDir, signal: AbortSignal.timeout(30_000) })
  }
  const refused = async (archive: Buffer, expected: { code: string, message: RegExp }) => {
    await t.rejects(fetchArchive(archive), expected)
    t.same(await readdir(box.destDir), [], 'destDir is empty')
    t.same((await tree(box.root)).filter(p => !p.startsWith('tarballs/')), ['outside/', 'work/', 'work/dest/'], 'nothing written anywhere else')
  }
  return { box, tarballs, fetchArchive, refused }
}

t.test('a legitimate archive extracts; directories and "./" entries are fine', async t => {
  const { box, fetchArchive } = await setup(t)
  const archive = rawTar([
    { path: './', type: 'Directory' },
    { path: './src/', type: 'Directory', mode: 0o2777 },
    { path: './src/main.sh', body: 'echo ok\n', mode: 0o6755 },
    { path: 'README', body: 'read me\n', mode: 0o666 }
  ])
  const fetched = await fetchArchive(archive)
  t.equal(fetched.sha256, sha256(archive))
  t.same(await tree(box.destDir), ['context/', 'context/README', 'context/src/', 'context/src/main.sh', 'source.tar.gz'])
  t.equal((await stat(join(fetched.dir, 'src'))).mode & 0o7777, 0o755, 'setgid and world-write dropped from a directory')
  t.equal((await stat(join(fetched.dir, 'src', 'main.sh'))).mode & 0o7777, 0o755, 'setuid/setgid dropped, executable kept')
  t.equal((await stat(join(fetched.dir, 'README'))).mode & 0o7777, 0o644, 'world-write dropped')
  t.equal(await readFile(join(fetched.dir, 'src', 'main.sh'), 'utf8'), 'echo ok\n')
})

t.test('a ".." entry is refused', async t => {
  const { refused } = await setup(t)
  await refused(rawTar([{ path: 'ok.txt', body: 'fine' }, { path: '../../outside/pwned', body: 'x' }]), { code: 'JOB_SOURCE_REFUSED', message: /"\.\.\/\.\.\/outside\/pwned" contains '\.\.'/ })
  await refused(rawTar([{ path: 'a/../../b', body: 'x' }]), { code: 'JOB_SOURCE_REFUSED', message: /contains '\.\.'/ })
})

t.test('an absolute entry is refused (not stripped)', async t => {
  const { box, refused } = await setup(t)
  await refused(rawTar([{ path: `${box.outside}/pwned`, body: 'x' }]), { code: 'JOB_SOURCE_REFUSED', message: /is an absolute path/ })
  await refused(rawTar([{ path: 'C:/windows/x', body: 'x' }]), { code: 'JOB_SOURCE_REFUSED', message: /drive letter/ })
  await refused(rawTar([{ path: 'a\\..\\..\\x', body: 'x' }]), { code: 'JOB_SOURCE_REFUSED', message: /backslash/ })
})

t.test('a symlink entry is refused', async t => {
  const { box, refused } = await setup(t)
  await refused(rawTar([{ path: 'link', type: 'SymbolicLink', linkpath: box.outside }]), { code: 'JOB_SOURCE_REFUSED', message: /"link" is a symbolic link/ })
  await refused(rawTar([{ path: 'inside', type: 'SymbolicLink', linkpath: 'README' }, { path: 'README', body: 'x' }]), { code: 'JOB_SOURCE_REFUSED', message: /symbolic link/ })
})

t.test('a hard link entry is refused', async t => {
  const { refused } = await setup(t)
  await refused(rawTar([{ path: 'a', body: 'x' }, { path: 'b', type: 'Link', linkpath: 'a' }]), { code: 'JOB_SOURCE_REFUSED', message: /"b" is a hard link/ })
  await refused(rawTar([{ path: 'passwd', type: 'Link', linkpath: '/etc/passwd' }]), { code: 'JOB_SOURCE_REFUSED', message: /hard link/ })
})

t.test('devices and FIFOs are refused', async t => {
  const { refused } = await setup(t)
  await refused(rawTar([{ path: 'null', type: 'CharacterDevice' }]), { code: 'JOB_SOURCE_REFUSED', message: /character device/ })
  await refused(rawTar([{ path: 'pipe', type: 'FIFO' }]), { code: 'JOB_SOURCE_REFUSED', message: /FIFO/ })
})

t.test('a symlink and then a file through it is refused, as is a path through a file', async t => {
  const { box, refused } = await setup(t)
  await refused(rawTar([{ path: 'escape', type: 'SymbolicLink', linkpath: box.outside }, { path: 'escape/pwned', body: 'x' }]), { code: 'JOB_SOURCE_REFUSED', message: /symbolic link/ })
  await refused(rawTar([{ path: 'plain', body: 'a file' }, { path: 'plain/child', body: 'x' }]), { code: 'JOB_SOURCE_REFUSED', message: /"plain\/child" goes through "plain", which is a file/ })
})

t.test('duplicates and case or Unicode collisions are refused', async t => {
  const { refused } = await setup(t)
  await refused(rawTar([{ path: 'a.txt', body: '1' }, { path: 'a.txt', body: '2' }]), { code: 'JOB_SOURCE_REFUSED', message: /appears more than once/ })
  await refused(rawTar([{ path: 'Dir/', type: 'Directory' }, { path: 'dir/x', body: '1' }]), { code: 'JOB_SOURCE_REFUSED', message: /"dir\/x" collides with "Dir"/ })
  await refused(rawTar([{ path: 'caf\u00e9', body: '1' }, { path: 'cafe\u0301', body: '2' }]), { code: 'JOB_SOURCE_REFUSED', message: /collides/ })
  await refused(rawTar([{ path: 'x/', type: 'Directory' }, { path: 'x', body: '1' }]), { code: 'JOB_SOURCE_REFUSED', message: /appears more than once \(or as both a file and a directory\)/ })
})

t.test('too many entries are refused', async t => {
  const { refused } = await setup(t, { maxEntries: 20 })
  const entries: RawEntry[] = Array.from({ length: 21 }, (_, i) => ({ path: `f${i}`, body: String(i) }))
  await refused(rawTar(entries), { code: 'JOB_SOURCE_TOO_LARGE', message: /more than 20 entries/ })
})

t.test('too deep a path is refused', async t => {
  const { refused } = await setup(t, { maxDepth: 8 })
  await refused(rawTar([{ path: `${'d/'.repeat(8)}f`, body: 'x' }]), { code: 'JOB_SOURCE_REFUSED', message: /is 9 levels deep, over the limit of 8/ })
})

t.test('a total unpacked size over the cap is refused from the headers', async t => {
  const { refused } = await setup(t, { maxUnpackedBytes: 100_000 })
  await refused(rawTar([{ path: 'a', body: Buffer.alloc(60_000, 1) }, { path: 'b', body: Buffer.alloc(60_000, 2) }]), { code: 'JOB_SOURCE_TOO_LARGE', message: /unpacks to more than 100000 bytes \(at entry "b"\)/ })
})

t.test('a compression bomb is refused by its ratio before it is unpacked', async t => {
  const { refused } = await setup(t, { maxRatio: 100 })
  // 32 MiB of zeros gzip to about 32 KiB: a ratio near 1000.
  const bomb = rawTar([{ path: 'zeros', body: Buffer.alloc(32 * 1024 * 1024) }])
  t.ok(bomb.length < 100 * 1024, `the bomb is small (${bomb.length} bytes)`)
  await refused(bomb, { code: 'JOB_SOURCE_TOO_LARGE', message: /decompresses to more than 100 times its packed size/ })
})

t.test('gzip inside gzip, an empty archive and other formats are refused', async t => {
  const { refused } = await setup(t)
  await refused(gzipSync(rawTar([{ path: 'a', body: 'x' }])), { code: 'JOB_SOURCE_REFUSED', message: /does not hold a tar archive/ })
  await refused(gzipSync(Buffer.alloc(10240)), { code: 'JOB_SOURCE_REFUSED', message: /does not hold a tar archive/ })
  await refused(Buffer.from('BZh91AY&SY not really bzip2'), { code: 'JOB_SOURCE_REFUSED', message: /neither gzip-compressed nor a plain tar/ })
  await refused(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]), { code: 'JOB_SOURCE_REFUSED', message: /neither gzip-compressed nor a plain tar/ })
})

t.test('a truncated archive is refused', async t => {
  const { refused } = await setup(t)
  const whole = rawTar([{ path: 'a', body: Buffer.alloc(4096, 3) }], false)
  await refused(gzipSync(whole.subarray(0, 1024)), { code: 'JOB_SOURCE_REFUSED', message: /damaged|does not hold/ })
})

t.test('a destDir that is not empty is refused before fetching', async t => {
  const { box, fetchArchive } = await setup(t)
  await writeFile(join(box.destDir, 'leftover'), 'x')
  await t.rejects(fetchArchive(rawTar([{ path: 'a', body: 'x' }])), { code: 'JOB_SOURCE_FAILED', message: /must be an empty directory/ })
  t.same(await readdir(box.destDir), ['leftover'], 'what was there is untouched')
})

t.test('long names (pax headers written by node-tar) pass both the scan and the extraction', async t => {
  const { box, fetchArchive } = await setup(t)
  const dir = join(box.root, 'long')
  const deep = join(dir, 'a-rather-long-directory-name-number-one', 'another-rather-long-directory-name-number-two')
  await mkdir(deep, { recursive: true })
  const name = `${'n'.repeat(120)}.txt`
  await writeFile(join(deep, name), 'long\n')
  const chunks: Buffer[] = []
  for await (const chunk of create({ cwd: dir, gzip: true, portable: true }, ['.']) as AsyncIterable<Buffer>) chunks.push(chunk)
  const fetched = await fetchArchive(Buffer.concat(chunks))
  t.equal(await readFile(join(fetched.dir, 'a-rather-long-directory-name-number-one', 'another-rather-long-directory-name-number-two', name), 'utf8'), 'long\n')
})
