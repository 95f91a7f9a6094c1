// The Jobs page in a real Chromium against `switchyard start` on the Postgres server with a
// real container engine (podman's Docker API), jobs built from local tarballs and an
// artifact store: a run's output arrives live on its page while the container runs, its
// artifact downloads, and a running run is canceled from its page (the container is gone).
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import t from 'tap'
import * as tar from 'tar'
import { RUN_LABEL } from '../../core/jobs/types.ts'
import { ensureJobBaseImage, podmanMissing, startPodmanService, type PodmanService } from '../support/podman.ts'
import { browserMissing, launchChromium, screenshot } from './browser.ts'
import { startConsoleDeployment } from './deployment.ts'
import { consoleCall, goto } from './pages.ts'

t.setTimeout(600_000)

const WAIT = { timeout: 30_000 }
/** building an image and starting a container on a loaded machine */
const SLOW = { timeout: 240_000 }

const missing = browserMissing() ?? await podmanMissing()
if (missing !== null) {
  t.plan(0, `skipped: ${missing}`)
} else {
  await main()
}

interface RunView { id: string, state: string, artifacts: Array<{ name: string, size: number }> }

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sy-console-jobs-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const podman = await startPodmanService()
  t.teardown(() => podman.close())
  const baseImage = await ensureJobBaseImage(podman.env)
  const d = await startConsoleDeployment(t, {
    backend: 'postgres',
    plugins: [
      '  - name: "@switchyard/runtime-docker"',
      `    options: { socketPath: "${podman.socketPath}", stopGrace: 2s }`,
      '  - name: job-source-tarball',
      `    options: { dir: "${join(dir, 'tarballs')}" }`,
      '  - name: artifact-store-fs',
      `    options: { dir: "${join(dir, 'artifacts')}" }`
    ],
    config: ['demo: { enabled: true, interval: 1h }', `jobs: { workdir: "${join(dir, 'work')}" }`]
  })
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, ignoreHTTPSErrors: true, acceptDownloads: true })).newPage()
  await page.goto(d.signInUrl)
  await page.getByTestId('tiles').waitFor(WAIT)

  /** a job built FROM the BusyBox base image whose container runs `script` */
  const defineJob = async (name: string, script: string): Promise<void> => {
    const context = join(dir, 'sources', name)
    await mkdir(context, { recursive: true })
    await writeFile(join(context, 'Dockerfile'), `FROM ${baseImage}\nCOPY job.sh /job.sh\nCMD ["sh", "/job.sh"]\n`)
    // the directory in the script makes the source (and so its image) new to this run of the test
    await writeFile(join(context, 'job.sh'), `# ${dir}\n${script}\n`)
    await mkdir(join(dir, 'tarballs'), { recursive: true })
    const file = join(dir, 'tarballs', `${name}.tar.gz`)
    await tar.create({ gzip: true, cwd: context, file, portable: true }, await readdir(context))
    await consoleCall(page, 'POST', '/jobs', {
      name, description: `console test job ${name}`, source: 'tarball_path', tarballPath: file, queue: 'jobs', retries: 0, timeoutSeconds: 180, resources: { memory: '64mb', cpus: 1, pids: 64 }, command: [], env: []
    })
  }

  await t.test('a run\'s output arrives live on its page; its artifact downloads', async t => {
    const name = `console-producer-${Math.random().toString(36).slice(2, 7)}`
    await defineJob(name, ['echo first-line', 'sleep 8', 'echo result > /artifacts/result.txt', 'echo second-line'].join('\n'))
    const runId = await runFromList(page, d.origin, name)
    const output = page.getByTestId('job-output')
    await explainedWait(page, runId, output.getByText(/first-line/).waitFor(SLOW))
    const stateWhenFirst = await page.getByTestId('job-run-state').textContent() ?? ''
    t.match(stateWhenFirst, /running/, `the first line shows while the container still runs (${stateWhenFirst})`)
    t.notMatch(await output.textContent() ?? '', /second-line/, 'before the second line exists')
    await screenshot(page, 'job-run-live-output')
    await output.getByText(/second-line/).waitFor(WAIT)
    await page.getByTestId('job-run-state').getByText('succeeded').waitFor(WAIT)
    t.ok(true, 'the second line and the final state arrive without a reload')
    const link = page.getByTestId('job-artifacts').getByRole('link', { name: 'artifacts/result.txt' })
    await link.waitFor(WAIT)
    const [download] = await Promise.all([page.waitForEvent('download', WAIT), link.click()])
    const path = await download.path()
    t.equal(await readFile(path, 'utf8'), 'result\n', 'the downloaded artifact is the file the container wrote')
    const { run } = await consoleCall<{ run: RunView }>(page, 'GET', `/jobs/runs/${runId}`)
    t.same([run.state, run.artifacts.some(a => a.name === 'artifacts/result.txt')], ['succeeded', true], 'the stored run succeeded with the artifact')
    await screenshot(page, 'job-run-artifacts')
  })

  await t.test('a running run is canceled from its page; its container is gone', async t => {
    const name = `console-long-${Math.random().toString(36).slice(2, 7)}`
    await defineJob(name, ['echo started', 'sleep 150', 'echo never'].join('\n'))
    const runId = await runFromList(page, d.origin, name)
    await explainedWait(page, runId, page.getByTestId('job-output').getByText(/started/).waitFor(SLOW))
    t.match(await page.getByTestId('job-run-state').textContent() ?? '', /running/, 'the run is running')
    await page.getByRole('button', { name: 'Cancel run' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByText(/stops the run's container/).waitFor(WAIT)
    await screenshot(page, 'job-run-cancel-preview')
    await dialog.getByRole('button', { name: 'Cancel run' }).click()
    await dialog.waitFor({ state: 'detached', ...WAIT })
    await page.getByTestId('job-run-state').getByText('canceled').waitFor(WAIT)
    t.equal(await page.getByRole('button', { name: 'Cancel run' }).count(), 0, 'a canceled run offers no cancel')
    const { run } = await consoleCall<{ run: RunView }>(page, 'GET', `/jobs/runs/${runId}`)
    t.equal(run.state, 'canceled', 'the stored run is canceled')
    t.same(await containersOfRun(podman, runId), [], 'no container of the run is left')
    t.notMatch(await page.getByTestId('job-output').textContent() ?? '', /never/, 'the container was stopped before its last line')
    await screenshot(page, 'job-run-canceled')
  })
}

/** runs the job from the Jobs list after the confirm; answers the run id from the URL */
async function runFromList (page: Page, origin: string, name: string): Promise<string> {
  await goto(page, origin, `#/jobs?job=${name}`)
  const row = page.locator(`tr[data-job="${name}"]`)
  await row.getByRole('button', { name: 'Run' }).click()
  const dialog = page.getByRole('dialog')
  await dialog.getByTestId('impact').waitFor(WAIT)
  await dialog.getByRole('button', { name: /^Run$/ }).click()
  await dialog.waitFor({ state: 'detached', ...WAIT })
  await page.waitForURL(/[?&]run=/, WAIT)
  return new URL(page.url().replace('#/', '')).searchParams.get('run') ?? ''
}

/**
 * The wait for a run's first output line; when it times out, the failure says where the
 * run was (its stored state and events, the page's state, output and live-feed status),
 * so a timeout on a loaded machine can be told apart from a lost line.
 */
async function explainedWait (page: Page, runId: string, wait: Promise<void>): Promise<void> {
  try {
    await wait
  } catch (err) {
    const facts: Record<string, unknown> = { at: new Date().toISOString() }
    try {
      facts.run = (await consoleCall<{ run: unknown }>(page, 'GET', `/jobs/runs/${runId}`)).run
      const { events } = await consoleCall<{ events: Array<{ type: string, time: string, data?: { text?: string } }> }>(page, 'GET', `/jobs/events?runId=${runId}&limit=50`)
      facts.events = events.map(e => `${e.time} ${e.type}${e.data?.text !== undefined ? ` ${JSON.stringify(e.data.text)}` : ''}`)
      facts.pageState = await page.getByTestId('job-run-state').textContent()
      facts.pageOutput = await page.getByTestId('job-output').textContent()
      facts.banner = await page.locator('.banner').allTextContents()
    } catch (factErr) {
      facts.unreadable = (factErr as Error).message
    }
    throw new Error(`${(err as Error).message}\nwhere the run was: ${JSON.stringify(facts, null, 2)}`, { cause: err })
  }
}

async function containersOfRun (podman: PodmanService, runId: string): Promise<string[]> {
  const list = await podman.docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${runId}`] } })
  return list.map(container => container.Id)
}
