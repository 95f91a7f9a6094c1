// The console in a real Chromium against `switchyard start` on the PostgreSQL server:
// the same UI flows as the embedded run, on the backend a production cluster uses.
import t from 'tap'
import { browserMissing, launchChromium, screenshot } from './browser.ts'
import { startConsoleDeployment } from './deployment.ts'
import { dlqReplayFlow, enqueueCancelFlow, pauseQueueFlow, timelineFlow } from './flows.ts'

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
}
