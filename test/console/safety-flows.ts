// Operating safely in a real Chromium: on a deployment that requires an approval token for
// every change, the console asks for the token when a risky action is confirmed; a wrong
// token is refused with the full error panel and changes nothing; the right one applies
// the action. Each step is checked against the backend and the audit log.
import type { Page } from 'playwright-core'
import type { Test } from 'tap'
import { screenshot } from './browser.ts'
import { consoleCall, goto } from './pages.ts'

type T = Test

const WAIT = { timeout: 30_000 }

const run = Math.random().toString(36).slice(2, 7)

interface AuditRow { action: string, target: string, outcome: string, requestId: string, error?: string }

export async function approvalFlow (t: T, page: Page, origin: string, approvalToken: string): Promise<void> {
  const queue = `e2e-approval-${run}`
  const approved = { 'x-admin-approval': approvalToken }
  // a queue to act on, set up through the API with the token (the console itself holds none yet)
  await consoleCall(page, 'POST', '/tasks', { handler: 'noop', queue, delayMs: 3_600_000 }, approved)
  const session = await page.evaluate(async () => await (await fetch('/api/session')).json() as { approvalRequired: boolean })
  t.equal(session.approvalRequired, true, 'the session says approval is required')

  await goto(page, origin, `#/queues?name=${queue}`)
  const row = page.locator(`tr[data-queue="${queue}"]`)
  await row.getByRole('button', { name: 'Pause' }).click()
  // the confirm dialog (with its impact preview), apart from the approval prompt above it
  const confirm = page.getByRole('dialog').filter({ has: page.getByTestId('impact') })
  await confirm.getByTestId('impact').waitFor(WAIT)
  await confirm.getByRole('button', { name: /^Pause queue$/ }).click()

  // the mutation answered 412 APPROVAL_REQUIRED: the console asks for the token
  const prompt = page.getByRole('dialog', { name: 'Approval required' })
  await prompt.waitFor(WAIT)
  await screenshot(page, 'approval-prompt')
  await prompt.getByLabel('Approval token').fill(`wrong-${approvalToken}`)
  await prompt.getByRole('button', { name: 'Send with token' }).click()
  await prompt.waitFor({ state: 'detached', ...WAIT })

  // refused: the confirm dialog keeps the error panel with code, message, request id, hint and docs link
  const panel = confirm.getByRole('alert')
  await panel.waitFor(WAIT)
  t.equal(await panel.locator('.error-code').textContent(), 'APPROVAL_REQUIRED', 'the panel names the error code')
  const text = await panel.textContent() ?? ''
  t.match(text, /approval/i, `the panel carries the message (${text})`)
  t.match(text, /Enter the approval token when asked/, 'and the hint')
  const requestId = await panel.locator('code').first().textContent() ?? ''
  t.ok(requestId.length > 0, `and the request id (${requestId})`)
  const docs = panel.getByRole('link', { name: 'Docs for APPROVAL_REQUIRED' })
  t.equal(await docs.getAttribute('href'), '#/docs?section=error-APPROVAL_REQUIRED', 'and a link to the docs section of the code')
  await screenshot(page, 'approval-refused')
  const refused = await consoleCall<{ queue: { paused: boolean } }>(page, 'GET', `/queues/${queue}`)
  t.equal(refused.queue.paused, false, 'the wrong token changed nothing in the backend')
  const denied = (await consoleCall<{ events: AuditRow[] }>(page, 'GET', `/audit?action=queue.pause&target=${queue}`)).events
  // newest first: the call with the wrong token (the panel's request id), then the first call, sent without a token
  t.same(denied.map(e => e.outcome), ['denied', 'denied'], 'both refusals are audited')
  t.equal(denied[0]?.requestId, requestId, 'the refusal of the wrong token is audited under the request id the panel shows')

  // again: the wrong token kept for the tab is refused once more, the console asks anew, the right one applies it
  await confirm.getByRole('button', { name: /^Pause queue$/ }).click()
  await prompt.waitFor(WAIT)
  await prompt.getByLabel('Approval token').fill(approvalToken)
  await prompt.getByRole('button', { name: 'Send with token' }).click()
  await confirm.waitFor({ state: 'detached', ...WAIT })
  await row.getByText('paused').waitFor(WAIT)
  const after = await consoleCall<{ queue: { paused: boolean } }>(page, 'GET', `/queues/${queue}`)
  t.equal(after.queue.paused, true, 'the right token paused the queue in the backend')
  const audit = (await consoleCall<{ events: AuditRow[] }>(page, 'GET', `/audit?action=queue.pause&target=${queue}`)).events
  t.same(audit.map(e => e.outcome), ['ok', 'denied', 'denied', 'denied'], 'the wrong token kept for the tab was refused once more, then the pause applied')

  // the next change goes through with the token the tab keeps, without asking
  await row.getByRole('button', { name: 'Resume' }).click()
  await confirm.getByTestId('impact').waitFor(WAIT)
  await confirm.getByRole('button', { name: /^Resume queue$/ }).click()
  await confirm.waitFor({ state: 'detached', ...WAIT })
  t.equal(await prompt.count(), 0, 'no second prompt once the right token is kept')
  const resumed = await consoleCall<{ queue: { paused: boolean } }>(page, 'GET', `/queues/${queue}`)
  t.equal(resumed.queue.paused, false, 'resumed in the backend')

  // the docs link of the error leads to the code's section
  await goto(page, origin, '#/docs?section=error-APPROVAL_REQUIRED')
  await page.locator('#error-APPROVAL_REQUIRED.selected').waitFor(WAIT)
  t.ok(true, 'the docs section of APPROVAL_REQUIRED is shown selected')
  await goto(page, origin, '#/settings')
  await screenshot(page, 'approval-settings')
}

/**
 * A deployment whose admin API is read-only (admin.readOnly): even an admin sees the
 * read-only badge and no change control on any page, and the API refuses a change anyway.
 */
export async function readOnlyFlow (t: T, page: Page, origin: string): Promise<void> {
  const session = await page.evaluate(async () => await (await fetch('/api/session')).json() as { readOnly: boolean, role: string })
  t.same([session.role, session.readOnly], ['admin', true], 'an admin, in read-only mode')
  await goto(page, origin, '#/overview')
  await page.locator('.who .badge.warn', { hasText: 'read-only' }).waitFor(WAIT)
  const controls: Array<[string, RegExp]> = [
    ['queues', /^(Pause|Resume|Set|Reset|Drain…|Drain queue…)$/],
    ['tasks', /^(Enqueue a task|Cancel task|Retry task|Reschedule…)$/],
    ['dlq', /^(Replay all matching…|Purge matching…|Replay…|Delete…)$|^Replay \d+ selected/],
    ['schedules', /^(New schedule|Pause all…|Resume all…|Run now|Pause|Resume|Edit|Delete)$/],
    ['jobs', /^(New job|Run|Edit|Delete)$/],
    ['workers', /^(Cordon|Uncordon|Release leases…|Sweep stale entries…)$/],
    ['rate-limits', /^(New limit|Edit|Clear…)$/]
  ]
  for (const [name, labels] of controls) {
    await goto(page, origin, `#/${name}`)
    // the event stream keeps a request open, so wait for the page's data, not network idle
    for (let i = 0; i < 300 && await page.locator('main').getByText('Loading…', { exact: true }).count() > 0; i++) await page.waitForTimeout(100)
    if (name === 'queues') await page.locator('tr[data-queue="default"]').waitFor(WAIT)
    t.equal(await page.locator('main').getByRole('button', { name: labels }).count(), 0, `no change controls on ${name}`)
  }
  t.equal(await page.locator('main').getByRole('checkbox', { name: /^Select/ }).count(), 0, 'no row selection for bulk actions')
  await page.keyboard.press('Control+k')
  const palette = page.getByRole('dialog')
  await palette.getByRole('textbox', { name: 'Command' }).fill('queues')
  await palette.getByText('Go to Queues').waitFor(WAIT)
  await palette.getByRole('textbox', { name: 'Command' }).fill('pause dequeue')
  t.equal(await palette.getByText('Pause dequeue everywhere').count(), 0, 'the command palette offers no pause either')
  await page.keyboard.press('Escape')
  await screenshot(page, 'read-only-rate-limits')
  // the API refuses anyway, and nothing changes in the backend
  const refused = await page.evaluate(async () => {
    const session = await (await fetch('/api/session')).json() as { csrfToken: string }
    const res = await fetch('/api/admin/v1/queues/default/pause', { method: 'POST', headers: { 'x-csrf-token': session.csrfToken, 'content-type': 'application/json' }, body: JSON.stringify({ paused: true }) })
    return { status: res.status, body: await res.json() as { error?: { code?: string } } }
  })
  t.same([refused.status, refused.body.error?.code], [403, 'READ_ONLY'], 'the API refuses a change with READ_ONLY')
  const queue = await consoleCall<{ queue: { paused: boolean } }>(page, 'GET', '/queues/default')
  t.equal(queue.queue.paused, false, 'the queue is not paused in the backend')
}
