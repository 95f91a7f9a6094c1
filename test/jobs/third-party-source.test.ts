// A third-party job source is one more plugin: loaded by path from the config, it
// registers through registerJobSource and the runner fetches git_tag jobs through it
// (no job-source-git is loaded), builds and runs what it fetched.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { jobApp, jobDefinition, jobWorld, podmanMissing } from './support.ts'

const missing = await podmanMissing()
if (missing !== null) t.plan(0, `skipped: ${missing}`)
else await suite()

async function suite (): Promise<void> {
  t.setTimeout(600_000)
  const world = await jobWorld(t)
  const plugin = fileURLToPath(new URL('./fixtures/third-party-source.ts', import.meta.url))
  const app = await jobApp(t, world, {}, { extraPlugins: [`  - name: "${plugin}"`, `    options: { baseImage: "${world.baseImage}" }`] })

  t.test('a git_tag job runs through the source a plugin loaded by path registered', async t => {
    const definition = { ...jobDefinition('third-party', ''), source: 'git_tag', repo: 'https://mirror.example/app.git', tag: `t-${world.schema}`, tarballPath: undefined } as unknown as ReturnType<typeof jobDefinition>
    const run = await app.waitFinal((await app.startRun(definition)).id)
    t.match(run, { state: 'succeeded', exitCode: 0, revision: `template-t-${world.schema}` }, `succeeded: ${run.state} ${run.error ?? ''}`)
    const output = (await app.eventsOf(run.id)).filter(event => event.type === 'job.output').map(event => String((event.data as { text?: string }).text)).join('')
    t.match(output, new RegExp(`from the template source, tag t-${world.schema}`))
  })
}
