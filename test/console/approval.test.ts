// The console in a real Chromium against a `switchyard start` (embedded default) that
// requires an approval token for every change: the console asks for the token, a wrong
// one is refused with the full error panel and changes nothing, the right one applies.
import t from 'tap'
import { browserMissing, launchChromium } from './browser.ts'
import { startConsoleDeployment } from './deployment.ts'
import { approvalFlow } from './safety-flows.ts'

t.setTimeout(300_000)

const missing = browserMissing()
if (missing !== null) {
  t.plan(0, `skipped: ${missing}`)
} else {
  await main()
}

async function main (): Promise<void> {
  const approvalToken = `approve-${Math.random().toString(36).slice(2)}`
  const d = await startConsoleDeployment(t, {
    backend: 'embedded',
    // the demo's trickle is not needed here: one batch an hour keeps the machine quiet
    config: ['demo: { enabled: true, interval: 1h }', 'admin:', '  requireApproval: true', `  approvalToken: "${approvalToken}"`]
  })
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, ignoreHTTPSErrors: true })).newPage()
  const pageErrors: string[] = []
  page.on('pageerror', err => pageErrors.push(err.message))
  page.on('console', msg => { if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) pageErrors.push(msg.text()) })
  await page.goto(d.signInUrl)
  await page.getByTestId('tiles').waitFor({ timeout: 30_000 })
  await t.test('approval token asked for, a wrong one refused with the error panel, the right one applied', async t => { await approvalFlow(t, page, d.origin, approvalToken) })
  t.same(pageErrors, [], 'no script errors in the page')
}
