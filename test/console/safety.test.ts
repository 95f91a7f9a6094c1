// The console in a real Chromium against two `switchyard start`s on the embedded default:
// one that requires an approval token for every change (the console asks for it, a wrong
// one is refused with the full error panel and changes nothing, the right one applies),
// and one whose admin API is read-only (no change controls, the API refuses anyway).
import t from 'tap'
import type { Browser, Page } from 'playwright-core'
import { browserMissing, launchChromium } from './browser.ts'
import { startConsoleDeployment, type ConsoleDeployment } from './deployment.ts'
import { approvalFlow, readOnlyFlow } from './safety-flows.ts'

t.setTimeout(300_000)

const missing = browserMissing()
if (missing !== null) {
  t.plan(0, `skipped: ${missing}`)
} else {
  await main()
}

async function main (): Promise<void> {
  const approvalToken = `approve-${Math.random().toString(36).slice(2)}`
  // both start at once; the approval one needs no demo trickle (one batch an hour keeps the machine quiet)
  const [approval, readOnly] = await Promise.all([
    startConsoleDeployment(t, { backend: 'embedded', config: ['demo: { enabled: true, interval: 1h }', 'admin:', '  requireApproval: true', `  approvalToken: "${approvalToken}"`] }),
    startConsoleDeployment(t, { backend: 'embedded', config: ['demo: { enabled: true, interval: 1h }', 'admin: { readOnly: true }'] })
  ])
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const pageErrors: string[] = []

  await t.test('approval token asked for, a wrong one refused with the error panel, the right one applied', async t => {
    await approvalFlow(t, await signedIn(browser, approval, pageErrors), approval.origin, approvalToken)
  })
  await t.test('read-only: no change controls on any page, and the API refuses a change', async t => {
    await readOnlyFlow(t, await signedIn(browser, readOnly, pageErrors), readOnly.origin)
  })
  t.same(pageErrors, [], 'no script errors in the pages')
}

/** a page of its own, signed in with the deployment's one-time URL */
async function signedIn (browser: Browser, d: ConsoleDeployment, pageErrors: string[]): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, ignoreHTTPSErrors: true })).newPage()
  page.on('pageerror', err => pageErrors.push(err.message))
  page.on('console', msg => { if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) pageErrors.push(msg.text()) })
  await page.goto(d.signInUrl)
  await page.getByTestId('tiles').waitFor({ timeout: 30_000 })
  return page
}
