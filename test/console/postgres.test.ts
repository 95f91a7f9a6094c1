// The console in a real Chromium against `switchyard start` on the PostgreSQL server:
// the same UI flows as the embedded run, on the backend a production cluster uses, and
// the worker operations against a second worker process that is killed.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { CONSOLE_LISTENER, startConsoleDeployment } from './deployment.ts'
import { browserMissing, launchChromium, screenshot } from './browser.ts'
import { dlqReplayFlow, enqueueCancelFlow, pauseQueueFlow, timelineFlow } from './flows.ts'
import { cordonWorkerFlow, drainQueueFlow, rateLimitFlow } from './operations-flows.ts'
import { killedWorkerFlow, type SpawnedWorker } from './operations-more-flows.ts'
import { startCli } from '../cli/support.ts'

t.setTimeout(300_000)

const missing = browserMissing()
if (missing !== null) {
  t.plan(0, `skipped: ${missing}`)
} else {
  await main()
}

async function main (): Promise<void> {
  const d = await startConsoleDeployment(t, { backend: 'postgres' })
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, ignoreHTTPSErrors: true })).newPage()
  await page.goto(d.signInUrl)
  await page.getByTestId('tiles').waitFor({ timeout: 30_000 })
  await screenshot(page, 'postgres-overview')
  await t.test('live timeline and its URL state', async t => { await timelineFlow(t, page, d.origin) })
  await t.test('pause a queue', async t => { await pauseQueueFlow(t, page, d.origin) })
  await t.test('replay from the DLQ with the preview', async t => { await dlqReplayFlow(t, page, d.origin) })
  await t.test('enqueue and cancel a task', async t => { await enqueueCancelFlow(t, page, d.origin) })
  await t.test('drain a queue after its dry-run count', async t => { await drainQueueFlow(t, page, d.origin) })
  await t.test('set, list and clear a queue concurrency limit', async t => { await rateLimitFlow(t, page, d.origin) })
  await t.test('cordon and uncordon the live worker; the stale toggle and the sweep preview', async t => { await cordonWorkerFlow(t, page, d.origin) })
  await t.test('a killed worker process: release its lease and sweep its entry, each after the dry run', async t => {
    await killedWorkerFlow(t, page, d.origin, async queue => await spawnWorker(t, d.dir, queue))
  })
}

/** a `switchyard worker` on the deployment's backend (its config, one queue of its own, quick heartbeats) */
async function spawnWorker (t: Test, dir: string, queue: string): Promise<SpawnedWorker> {
  const config = (await readFile(join(dir, 'sy.yaml'), 'utf8'))
    .replace(/^worker:.*$/m, `worker: { queues: [${queue}], pollInterval: 100ms, heartbeatInterval: 500ms }`)
  // `switchyard worker` runs no demo: its one handler, a sleep that holds the lease, served by no other worker
  await writeFile(join(dir, 'worker-handlers.mjs'), [
    'export const handlers = {',
    '  \'hold-lease\': async (payload, ctx) => await new Promise((resolve, reject) => {',
    '    const timer = setTimeout(resolve, payload.ms)',
    '    ctx.signal.addEventListener(\'abort\', () => { clearTimeout(timer); reject(new Error(\'aborted\')) }, { once: true })',
    '  })',
    '}',
    ''
  ].join('\n'))
  await writeFile(join(dir, 'worker.yaml'), `${config}handlers: [worker-handlers.mjs]\n`)
  const proc = startCli(['worker', '--config', 'worker.yaml'], dir, CONSOLE_LISTENER)
  t.teardown(() => { if (proc.child.exitCode === null) proc.child.kill('SIGKILL') })
  const pid = proc.child.pid
  if (pid === undefined) throw new Error(`switchyard worker did not start: ${proc.stderr()}`)
  return {
    pid,
    handler: 'hold-lease',
    kill: async () => { proc.child.kill('SIGKILL'); await proc.exited }
  }
}
