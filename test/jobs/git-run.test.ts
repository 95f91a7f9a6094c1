// A git_tag job end to end: RunJob → the job-source-git plugin fetches the tag over
// HTTPS from git's own http-backend behind a test TLS server on loopback → the image
// is built → the container runs. The run records the tag's commit; a second run of the
// same tag builds nothing; a branch name is refused before anything is built or run.
import t from 'tap'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { git, startGitServer } from '../../plugins/job-source-git/test-support.ts'
import { containersOfRun, jobApp, jobDefinition, jobWorld, podmanMissing } from './support.ts'

const missing = await podmanMissing()
if (missing !== null) t.plan(0, `skipped: ${missing}`)
else await suite()

async function suite (): Promise<void> {
  t.setTimeout(600_000)
  const world = await jobWorld(t)
  const work = join(world.dir, 'git-work')
  const projects = join(world.dir, 'git-projects')
  await mkdir(work, { recursive: true })
  await mkdir(projects, { recursive: true })
  await writeFile(join(work, 'Dockerfile'), `FROM ${world.baseImage}\nCOPY job.sh /job.sh\nCMD ["sh", "/job.sh"]\n`)
  // the world's directory makes the commit (and so the image) new to this test run
  await writeFile(join(work, 'job.sh'), `# ${world.dir}\necho "hello from the tag"\n`)
  await git(work, 'init', '-q')
  await git(work, 'add', '-A')
  await git(work, 'commit', '-q', '-m', 'the job')
  await git(work, 'tag', '-a', 'v1.0', '-m', 'release 1.0')
  const commit = await git(work, 'rev-parse', 'v1.0^{commit}')
  await git(world.dir, 'clone', '-q', '--bare', work, join(projects, 'app.git'))
  const server = await startGitServer(projects, join(world.dir, 'git-certs'))
  t.teardown(() => server.close())
  const repo = `${server.base}app.git`

  const app = await jobApp(t, world, {}, {
    extraPlugins: ['  - name: job-source-git', `    options: { repoAllowlist: ["${server.base}"], caFile: "${server.caFile}" }`]
  })
  const gitJob = (name: string, tag: string): ReturnType<typeof jobDefinition> =>
    ({ ...jobDefinition(name, ''), source: 'git_tag', repo, tag, tarballPath: undefined } as unknown as ReturnType<typeof jobDefinition>)

  t.test('a tag is fetched over HTTPS, built and run; the run records its commit, and the next run builds nothing', async t => {
    const first = await app.waitFinal((await app.startRun(gitJob('git-run', 'v1.0'))).id)
    t.match(first, { state: 'succeeded', exitCode: 0, revision: commit, imageCached: false }, `succeeded, recording the commit: ${first.state} ${first.error ?? ''}`)
    const output = (await app.eventsOf(first.id)).filter(event => event.type === 'job.output').map(event => String((event.data as { text?: string }).text)).join('')
    t.match(output, /hello from the tag/)
    const fetched = (await app.eventsOf(first.id)).find(event => event.type === 'job.fetched')
    t.match(fetched?.data, { revision: commit }, 'job.fetched names the commit')
    const { run } = await app.sy.admin.RunJob({ name: 'git-run' }, { actor: 'CN=job-tests', requestId: 'git-second' })
    const second = await app.waitFinal(run.id)
    t.match(second, { state: 'succeeded', revision: commit, imageCached: true, imageId: first.imageId }, 'cached by the commit: nothing built')
  })

  t.test('a branch name is refused before anything is built or run', async t => {
    const run = await app.waitFinal((await app.startRun(gitJob('git-branch', 'main'))).id)
    t.match(run, { state: 'failed', error: /"main" is a branch .* not a tag/ }, `failed naming the branch: ${run.error ?? ''}`)
    t.equal(run.revision, undefined)
    const types = (await app.eventsOf(run.id)).map(event => event.type)
    t.notOk(types.includes('job.building') || types.includes('job.started'), `no build, no container: ${types.join(', ')}`)
    t.same(await containersOfRun(world, run.id), [])
  })
}
