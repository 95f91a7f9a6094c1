// The console in a real Chromium against a real `switchyard start` on the embedded
// default (PGlite): sign in with the banner's one-time URL, the main flow of every page,
// a live update, the timeline's URL state, screenshots of every page, an axe-core check,
// and sign out.
import t from 'tap'
import { hashPassword } from '../../plugins/admin-console/passwords.ts'
import { browserMissing, launchChromium, screenshot } from './browser.ts'
import { startConsoleDeployment } from './deployment.ts'
import { staleBannerFlow } from './live-flows.ts'
import { cordonWorkerFlow, drainQueueFlow, rateLimitFlow, viewerOperationsFlow } from './operations-flows.ts'
import { cursorPagingFlow, dlqEditedReplayFlow, keyLookupFlow, rateLimitEditFlow, releaseLeasesFlow, sweepWorkersFlow } from './operations-more-flows.ts'
import { bulkCancelFlow, dlqPurgeFlow, dlqReplayFlow, enqueueCancelFlow, everyPage, jobFlow, paletteFlow, pauseQueueFlow, scheduleFlow, signInWithForm, taskWindowFlow, timelineFlow, viewerFlow } from './flows.ts'

t.setTimeout(420_000)

const missing = browserMissing()
if (missing !== null) {
  t.plan(0, `skipped: ${missing}`)
} else {
  await main()
}

async function main (): Promise<void> {
  const viewerPassword = `viewer-${Math.random().toString(36).slice(2)}`
  const d = await startConsoleDeployment(t, {
    backend: 'embedded',
    config: ['console:', '  auth:', '    users:', `      viewer: { passwordHash: "${await hashPassword(viewerPassword)}", role: viewer }`]
  })
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  // the console serves HTTPS with the development certificate switchyard start generated
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ignoreHTTPSErrors: true })
  const page = await context.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', err => pageErrors.push(err.message))
  page.on('console', msg => { if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) pageErrors.push(msg.text()) })

  await t.test('the banner URL signs the local user in', async t => {
    await page.goto(d.signInUrl)
    await page.getByTestId('tiles').waitFor({ timeout: 30_000 })
    t.match(page.url(), new RegExp(`^${d.origin}/`), 'on the console')
    t.notMatch(page.url(), /token=/, 'the one-time token is not left in the address bar')
    await screenshot(page, 'overview')
  })

  await t.test('live timeline, filters that survive a reload, deep links', async t => { await timelineFlow(t, page, d.origin) })
  await t.test('pause a queue after its impact preview', async t => { await pauseQueueFlow(t, page, d.origin) })
  await t.test('replay from the DLQ into another queue, with the dry-run count first', async t => { await dlqReplayFlow(t, page, d.origin) })
  await t.test('create a schedule with its fire-time preview, then run it now', async t => { await scheduleFlow(t, page, d.origin) })
  await t.test('create a job through the form, run it, follow the run to its failure', async t => { await jobFlow(t, page, d.origin) })
  await t.test('enqueue a task through the form, then cancel it', async t => { await enqueueCancelFlow(t, page, d.origin) })
  await t.test('filter tasks by a time window; the window survives a reload', async t => { await taskWindowFlow(t, page, d.origin) })
  await t.test('cancel selected tasks in bulk, with the dry-run count first', async t => { await bulkCancelFlow(t, page, d.origin) })
  await t.test('purge the DLQ entries of a queue, with the dry-run count first', async t => { await dlqPurgeFlow(t, page, d.origin) })
  await t.test('drain a queue after its dry-run count', async t => { await drainQueueFlow(t, page, d.origin) })
  await t.test('set a queue concurrency limit on the Rate limits page, see it listed, clear it', async t => { await rateLimitFlow(t, page, d.origin) })
  await t.test('cordon and uncordon the live worker; the stale toggle and the sweep preview', async t => { await cordonWorkerFlow(t, page, d.origin) })
  await t.test('replay selected DLQ entries, one with an edited payload, after the dry run', async t => { await dlqEditedReplayFlow(t, page, d.origin) })
  await t.test('look a task up by its idempotency key (key: search); the search survives a reload', async t => { await keyLookupFlow(t, page, d.origin) })
  await t.test('the Tasks page pages by cursor: Older, reload on the second page, Newer', async t => { await cursorPagingFlow(t, page, d.origin) })
  await t.test('edit a queue limit on the Rate limits page; the preview names what it replaces', async t => { await rateLimitEditFlow(t, page, d.origin) })
  await t.test('force-release a live worker\'s leases after the dry run', async t => { await releaseLeasesFlow(t, page, d.origin) })
  await t.test('sweep stale worker entries after the dry run', async t => { await sweepWorkersFlow(t, page, d.origin) })
  await t.test('the stream is cut: stale banner with the last update, polling keeps the page fresh, Reconnect resumes with Last-Event-ID', async t => { await staleBannerFlow(t, browser, context, d.origin) })
  await t.test('command palette and shortcuts', async t => { await paletteFlow(t, page, d.origin) })
  await t.test('every page: screenshot and no serious axe-core violation', async t => { await everyPage(t, browser, page, d.origin, 'embedded') })

  await t.test('sign out', async t => {
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 30_000 })
    await page.reload()
    await page.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 30_000 })
    const status = await page.evaluate(async () => (await fetch('/api/session')).status)
    t.equal(status, 401, 'the session is gone on the server too')
    await screenshot(page, 'signed-out')
  })

  await t.test('a viewer signs in with the form, sees no mutation controls and is refused by the API', async t => {
    const viewer = await browser.newPage({ viewport: { width: 1280, height: 900 }, ignoreHTTPSErrors: true })
    t.teardown(() => viewer.close())
    await signInWithForm(viewer, d.origin, 'viewer', viewerPassword)
    await viewerFlow(t, viewer, d.origin)
    await viewerOperationsFlow(t, viewer, d.origin)
    await screenshot(viewer, 'viewer-settings')
  })

  t.same(pageErrors, [], 'no script errors in the page')
}
