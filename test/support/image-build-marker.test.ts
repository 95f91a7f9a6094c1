// The image-build marker (image-build-marker.ts) in a directory of the test's own: a
// marked build is seen until it is done, and a marker left by a process that is gone
// is removed instead of being waited on.
import { spawnSync } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { imageBuildsRunning, markImageBuild } from './image-build-marker.ts'

const dir = await mkdtemp(join(tmpdir(), 'sy-build-marker-'))
process.env.SWITCHYARD_BUILD_MARKER_DIR = dir
t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })

t.test('a marked build runs until it is done', async t => {
  t.same(imageBuildsRunning(), [], 'none before')
  const done = markImageBuild()
  t.same(imageBuildsRunning(), [process.pid], 'this process builds')
  done()
  t.same(imageBuildsRunning(), [], 'none after')
  t.same(await readdir(dir), [], 'no file left')
})

t.test('a marker of a process that is gone is stale and removed', async t => {
  const gone = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8', env: { PATH: process.env.PATH } }).stdout)
  t.ok(gone > 0, `a pid that has exited (${gone})`)
  await writeFile(join(dir, `build-${gone}`), `${gone}\n`)
  t.same(imageBuildsRunning(), [], 'not running')
  t.same(await readdir(dir), [], 'and removed')
})

t.test('a process that ends without calling done leaves no marker', async t => {
  const script = `import { markImageBuild } from ${JSON.stringify(new URL('./image-build-marker.ts', import.meta.url).href)}; markImageBuild(); console.log(process.pid)`
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, SWITCHYARD_BUILD_MARKER_DIR: dir } })
  t.equal(child.status, 0, child.stderr)
  t.same(await readdir(dir), [], 'the exit handler removed it')
})
