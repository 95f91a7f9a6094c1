// The console's main flows in a real Chromium, shared by the embedded and the Postgres
// runs: each flow acts through the UI and checks what the page then shows.
import type { Browser, Page } from 'playwright-core'
import type { Test } from 'tap'
import { axeViolations, screenshot, serious } from './browser.ts'
import { consoleCall, goto, PAGES } from './pages.ts'

// the browser globals the page-side callbacks below read (the test program has no DOM lib)
declare const document: { documentElement: { scrollWidth: number } }
declare const window: { innerWidth: number }

type T = Test

const WAIT = { timeout: 30_000 }

/** a unique suffix so reruns on a shared backend never see each other's queues */
const run = Math.random().toString(36).slice(2, 7)
const q = (name: string): string => `e2e-${name}-${run}`

async function confirmDialog (page: Page, label: RegExp): Promise<void> {
  const dialog = page.getByRole('dialog')
  await dialog.getByTestId('impact').waitFor(WAIT)
  await dialog.getByRole('button', { name: label }).click()
  await dialog.waitFor({ state: 'detached', ...WAIT })
}

export async function pauseQueueFlow (t: T, page: Page, origin: string): Promise<void> {
  const queue = q('pause')
  await consoleCall(page, 'POST', '/tasks', { handler: 'noop', queue, delayMs: 3_600_000 })
  await goto(page, origin, `#/queues?name=${queue}`)
  const row = page.locator(`tr[data-queue="${queue}"]`)
  await row.getByRole('button', { name: 'Pause' }).click()
  await page.getByRole('dialog').getByText(/stop taking tasks/).waitFor(WAIT)
  await confirmDialog(page, /^Pause queue$/)
  await row.getByText('paused').waitFor(WAIT)
  const after = await consoleCall<{ queue: { paused: boolean } }>(page, 'GET', `/queues/${queue}`)
  t.equal(after.queue.paused, true, 'the queue is paused in the backend')
  await screenshot(page, 'queues')
}

export async function dlqReplayFlow (t: T, page: Page, origin: string): Promise<void> {
  const queue = q('dlq')
  const parking = q('parking')
  // the replayed task lands in a paused queue, so it stays put for the check
  await consoleCall(page, 'POST', '/tasks', { handler: 'noop', queue: parking, delayMs: 3_600_000 })
  await consoleCall(page, 'POST', `/queues/${parking}/pause`, { paused: true })
  const { id } = await consoleCall<{ id: string }>(page, 'POST', '/tasks', { handler: 'fail', queue, maxAttempts: 1 })
  let state = ''
  for (let i = 0; i < 120 && state !== 'dead'; i++) {
    state = (await consoleCall<{ task: { state: string } }>(page, 'GET', `/tasks/${id}`)).task.state
    if (state !== 'dead') await page.waitForTimeout(500)
  }
  t.equal(state, 'dead', 'the failing task reached the DLQ')
  await goto(page, origin, `#/dlq?queue=${queue}`)
  await page.locator(`tr[data-task="${id}"]`).waitFor(WAIT)
  await page.getByRole('textbox', { name: 'To queue' }).fill(parking)
  await page.getByRole('button', { name: 'Replay all matching…' }).click()
  const preview = page.getByRole('dialog').getByTestId('replay-count')
  await preview.waitFor(WAIT)
  t.equal(await preview.textContent(), '1', 'the dry run counts the one matching entry first')
  await screenshot(page, 'dlq-replay-preview')
  await confirmDialog(page, /^Replay$/)
  await page.getByText('Nothing matches.').waitFor(WAIT)
  const task = await consoleCall<{ task: { state: string, queue: string, replays: number } }>(page, 'GET', `/tasks/${id}`)
  t.same([task.task.state, task.task.queue, task.task.replays], ['ready', parking, 1], 'replayed into the other queue, waiting there')
  await screenshot(page, 'dlq')
}

export async function scheduleFlow (t: T, page: Page, origin: string): Promise<void> {
  await goto(page, origin, '#/schedules')
  await page.getByRole('button', { name: 'New schedule' }).click()
  const dialog = page.getByRole('dialog')
  await dialog.getByLabel('Factory').selectOption('noop')
  await dialog.getByLabel('Cron spec').fill('0 9 * * 1')
  await dialog.getByLabel('Time zone').selectOption('Asia/Tokyo')
  const fires = dialog.getByTestId('fire-preview').locator('li')
  await fires.first().waitFor(WAIT)
  t.equal(await fires.count(), 5, 'the next five fire times are previewed')
  t.match(await fires.first().textContent(), /9:00:00|09:00:00/, 'in the chosen time zone')
  await screenshot(page, 'schedule-form')
  await dialog.getByRole('button', { name: 'Save schedule' }).click()
  await dialog.waitFor({ state: 'detached', ...WAIT })
  const row = page.locator('tr[data-schedule="noop"]')
  await row.waitFor(WAIT)
  t.ok(page.url().includes('name=noop'), 'the saved schedule is selected in the URL')
  await row.getByRole('button', { name: 'Run now' }).click()
  await confirmDialog(page, /^Run now$/)
  await page.getByTestId('schedule-events').getByText('run_now').first().waitFor(WAIT)
  const list = await consoleCall<{ schedules: Array<{ name: string, fired: number, timezone: string }> }>(page, 'GET', '/schedules')
  const noop = list.schedules.find(s => s.name === 'noop')
  t.same([noop?.timezone, (noop?.fired ?? 0) >= 1], ['Asia/Tokyo', true], 'created in its time zone and run once')
  await screenshot(page, 'schedules')
}

/** a job defined through the form, run from the list; without a container runtime its run fails fast */
export async function jobFlow (t: T, page: Page, origin: string): Promise<void> {
  const name = q('job')
  await goto(page, origin, '#/jobs')
  await page.getByTestId('jobs').waitFor(WAIT)
  await page.getByRole('button', { name: 'New job' }).click()
  const dialog = page.getByRole('dialog')
  await dialog.getByLabel('Name', { exact: true }).fill(name)
  await dialog.getByLabel('Source').selectOption('git_tag')
  await dialog.getByLabel('Repository', { exact: true }).fill('https://git.example.test/switchyard/e2e.git')
  await dialog.getByLabel('Tag', { exact: true }).fill('v1.0.0')
  await dialog.getByLabel('Retries', { exact: true }).fill('0')
  await dialog.getByLabel('Timeout (s)', { exact: true }).fill('60')
  await screenshot(page, 'job-form')
  await dialog.getByRole('button', { name: 'Save job' }).click()
  await dialog.waitFor({ state: 'detached', ...WAIT })
  const row = page.locator(`tr[data-job="${name}"]`)
  await row.waitFor(WAIT)
  t.match(await row.textContent(), /v1\.0\.0/, 'the new definition is listed with its source')
  await row.getByRole('button', { name: 'Run' }).click()
  await confirmDialog(page, /^Run$/)
  await page.waitForURL(/[?&]run=/, WAIT)
  const state = page.getByTestId('job-run-state')
  await state.getByText(/^(failed|timed_out)$/).waitFor({ timeout: 90_000 })
  const error = await page.getByTestId('job-run-error').textContent()
  t.ok((error ?? '').length > 0, `the run page shows the failed state and its error (${error ?? ''})`)
  const runs = await consoleCall<{ runs: Array<{ id: string, state: string, job: string }> }>(page, 'GET', `/jobs/runs?job=${name}`)
  t.same(runs.runs.map(r => [r.job, r.state]), [[name, 'failed']], 'the one run of the job is stored as failed')
  await screenshot(page, 'job-run')
  await goto(page, origin, `#/jobs?job=${name}`)
  await page.getByTestId('job-runs').locator(`tr[data-run="${runs.runs[0]?.id ?? ''}"]`).waitFor(WAIT)
  t.ok(true, 'the run is listed among the job\'s runs')
  await screenshot(page, 'jobs')
}

export async function enqueueCancelFlow (t: T, page: Page, origin: string): Promise<void> {
  const queue = q('cancel')
  await goto(page, origin, '#/tasks')
  await page.getByRole('button', { name: 'Enqueue a task' }).click()
  const dialog = page.getByRole('dialog')
  await dialog.getByLabel('Handler').fill('noop')
  await dialog.getByLabel('Queue (default queue when empty)').fill(queue)
  await dialog.getByLabel('Payload (JSON)').fill('{"from":"e2e"}')
  await dialog.getByLabel('Delay (ms)').fill('3600000')
  await dialog.getByRole('button', { name: 'Enqueue' }).click()
  const detail = page.getByTestId('task-detail')
  await detail.getByText('"from": "e2e"').waitFor(WAIT)
  t.match(page.url(), /[?&]id=/, 'the new task is selected in the URL')
  await detail.getByTestId('task-state').getByText('scheduled').waitFor(WAIT)
  await detail.getByRole('button', { name: 'Cancel task' }).click()
  await confirmDialog(page, /^Cancel task$/)
  await detail.getByTestId('task-state').getByText('canceled').waitFor(WAIT)
  t.ok(true, 'enqueued through the form and canceled before it ran')
  await screenshot(page, 'tasks')
}

/** the task list's time window lives in the URL: it filters, and a reload keeps it */
export async function taskWindowFlow (t: T, page: Page, origin: string): Promise<void> {
  const queue = q('window')
  const { id } = await consoleCall<{ id: string }>(page, 'POST', '/tasks', { handler: 'noop', queue, delayMs: 3_600_000 })
  await goto(page, origin, `#/tasks?queue=${queue}`)
  const row = page.locator(`tr[data-task="${id}"]`)
  await row.waitFor(WAIT)
  await page.getByLabel('Time window').selectOption('1h')
  await page.waitForURL(/window=1h/, WAIT)
  await row.waitFor(WAIT)
  t.ok(true, 'a task created a moment ago is in the last hour')
  await page.getByLabel('Time window').selectOption('custom')
  await page.getByLabel('Window to').fill('2020-01-01T00:00')
  await page.waitForURL(/until=2020/, WAIT)
  await page.getByText('Nothing matches.').waitFor(WAIT)
  t.ok(true, 'a window that ended in 2020 leaves it out')
  await page.reload()
  await page.getByText('Nothing matches.').waitFor(WAIT)
  t.same([await page.getByLabel('Time window').inputValue(), await page.getByLabel('Window to').inputValue(), await page.locator('input[name=queue]').inputValue()],
    ['custom', '2020-01-01T00:00', queue], 'the window and the queue filter survive a reload')
  await page.getByLabel('Time window').selectOption('24h')
  await row.waitFor(WAIT)
  t.notMatch(page.url(), /until=/, 'a preset drops the custom bounds from the URL')
  await screenshot(page, 'tasks-window')
}

/** cancel two of three selected tasks at once; the dry run counts them first */
export async function bulkCancelFlow (t: T, page: Page, origin: string): Promise<void> {
  const queue = q('bulk')
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push((await consoleCall<{ id: string }>(page, 'POST', '/tasks', { handler: 'noop', queue, delayMs: 3_600_000 })).id)
  await goto(page, origin, `#/tasks?queue=${queue}`)
  for (const id of ids) await page.locator(`tr[data-task="${id}"]`).waitFor(WAIT)
  await page.getByLabel(`Select ${ids[0] ?? ''}`).check()
  await page.getByLabel(`Select ${ids[1] ?? ''}`).check()
  await page.getByLabel('Bulk action').selectOption('cancel')
  await page.getByRole('button', { name: 'Cancel 2 selected…' }).click()
  const count = page.getByRole('dialog').getByTestId('bulk-count')
  await count.waitFor(WAIT)
  t.equal(await count.textContent(), '2', 'the dry run counts the two selected tasks')
  t.equal(await page.getByRole('dialog').getByRole('table', { name: 'Sample of the tasks' }).locator('tbody tr').count(), 2, 'and lists them as the sample')
  await screenshot(page, 'tasks-bulk-preview')
  await confirmDialog(page, /^Cancel tasks$/)
  await page.locator(`tr[data-task="${ids[0] ?? ''}"]`).getByText('canceled').waitFor(WAIT)
  const states: string[] = []
  for (const id of ids) states.push((await consoleCall<{ task: { state: string } }>(page, 'GET', `/tasks/${id}`)).task.state)
  t.same(states, ['canceled', 'canceled', 'scheduled'], 'the two selected are canceled, the third still waits')
  // the third waits: reschedule it from its detail, and a child task shows it as its parent
  const { id: child } = await consoleCall<{ id: string }>(page, 'POST', '/tasks', { handler: 'noop', queue, dependsOn: { ids: [ids[2]] } })
  await goto(page, origin, `#/tasks?queue=${queue}&id=${ids[2] ?? ''}`)
  const detail = page.getByTestId('task-detail')
  await detail.getByTestId('task-graph').locator(`[data-graph-node="${child}"]`).waitFor(WAIT)
  t.ok(true, 'the parent\'s detail lists its child among the descendants')
  await detail.getByRole('button', { name: 'Reschedule…' }).click()
  await page.waitForURL(/action=reschedule/, WAIT)
  const dialog = page.getByRole('dialog')
  await dialog.getByLabel('Priority').fill('7')
  await dialog.getByRole('button', { name: 'Reschedule', exact: true }).click()
  await dialog.waitFor({ state: 'detached', ...WAIT })
  const after = await consoleCall<{ task: { priority: number, state: string } }>(page, 'GET', `/tasks/${ids[2] ?? ''}`)
  t.same([after.task.priority, after.task.state], [7, 'scheduled'], 'rescheduled to priority 7, still scheduled')
}

/** purge the DLQ entries of a queue: a dry run first, and an age bound that matches none */
export async function dlqPurgeFlow (t: T, page: Page, origin: string): Promise<void> {
  const queue = q('purge')
  const { id } = await consoleCall<{ id: string }>(page, 'POST', '/tasks', { handler: 'fail', queue, maxAttempts: 1 })
  let state = ''
  for (let i = 0; i < 120 && state !== 'dead'; i++) {
    state = (await consoleCall<{ task: { state: string } }>(page, 'GET', `/tasks/${id}`)).task.state
    if (state !== 'dead') await page.waitForTimeout(500)
  }
  t.equal(state, 'dead', 'the failing task reached the DLQ')
  await goto(page, origin, `#/dlq?queue=${queue}`)
  await page.locator(`tr[data-task="${id}"]`).waitFor(WAIT)
  const dialog = page.getByRole('dialog')
  await page.getByLabel('Failed longer ago than').fill('1d')
  await page.getByRole('button', { name: 'Purge matching…' }).click()
  await dialog.getByTestId('purge-count').waitFor(WAIT)
  t.equal(await dialog.getByTestId('purge-count').textContent(), '0', 'nothing in the queue failed more than a day ago')
  await dialog.getByRole('button', { name: 'Cancel', exact: true }).click()
  await dialog.waitFor({ state: 'detached', ...WAIT })
  await page.getByLabel('Failed longer ago than').fill('')
  await page.getByRole('button', { name: 'Purge matching…' }).click()
  await dialog.getByTestId('purge-count').waitFor(WAIT)
  t.equal(await dialog.getByTestId('purge-count').textContent(), '1', 'the dry run counts the one entry of the queue')
  await screenshot(page, 'dlq-purge-preview')
  await confirmDialog(page, /^Purge for good$/)
  await page.getByText('Nothing matches.').waitFor(WAIT)
  const left = await consoleCall<{ entries: unknown[] }>(page, 'GET', `/dlq?queue=${queue}`)
  t.equal(left.entries.length, 0, 'the queue has no DLQ entries left')
}

export async function timelineFlow (t: T, page: Page, origin: string): Promise<void> {
  const queue = q('timeline')
  await goto(page, origin, '#/overview')
  await page.getByTestId('tiles').waitFor(WAIT)
  // live: an event that happens while the overview is open shows up without a reload
  const { id } = await consoleCall<{ id: string }>(page, 'POST', '/tasks', { handler: 'noop', queue, delayMs: 3_600_000 })
  await page.getByTestId('timeline').getByText(id).first().waitFor(WAIT)
  t.ok(true, 'a new task appears in the open timeline without a reload')
  await page.getByLabel('Kind').selectOption('task')
  await page.getByRole('textbox', { name: 'Target' }).fill(queue)
  await page.waitForURL(/kind=task/, WAIT)
  await page.reload()
  await page.getByTestId('timeline').getByText(id).first().waitFor(WAIT)
  t.equal(await page.getByLabel('Kind').inputValue(), 'task', 'the kind filter survives a reload')
  t.equal(await page.getByRole('textbox', { name: 'Target' }).inputValue(), queue, 'the target filter survives a reload')
  const types: Array<string | null> = []
  for (const row of await page.locator('[data-testid=timeline] tbody tr[data-event-type]').all()) types.push(await row.getAttribute('data-event-type'))
  t.ok(types.length > 0 && types.every(type => type?.startsWith('task.')), `only task events are listed (${types.join(', ')})`)
  // a deep link to one event
  await page.locator('[data-testid=timeline] tbody tr').first().locator('a').first().click()
  await page.getByTestId('event-detail').waitFor(WAIT)
  const link = page.url()
  await page.goto('about:blank')
  await page.goto(link)
  await page.getByTestId('event-detail').waitFor(WAIT)
  t.ok(true, 'an event link opens the same event')
}

export async function everyPage (t: T, browser: Browser, page: Page, origin: string, label: string): Promise<void> {
  for (const name of PAGES) {
    await goto(page, origin, `#/${name}`)
    // the event stream keeps a request open, so wait for the page's data, not network idle
    for (let i = 0; i < 300 && await page.locator('main').getByText('Loading…', { exact: true }).count() > 0; i++) await page.waitForTimeout(100)
    await screenshot(page, `${label}-${name}`)
    const bad = serious(await axeViolations(page))
    t.same(bad.map(v => `${v.id}: ${v.help} ${JSON.stringify(v.nodes.slice(0, 3).map(n => n.target))}`), [], `${name}: no serious accessibility violations`)
  }
  // dark theme and a phone-sized screen
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', ignoreHTTPSErrors: true, storageState: await page.context().storageState() })
  try {
    await goto(phone, origin, '#/overview')
    await phone.getByTestId('tiles').waitFor(WAIT)
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    t.ok(overflow <= 1, `no horizontal scrolling of the page at phone width (overflow ${overflow}px)`)
    await screenshot(phone, `${label}-overview-phone-dark`)
    const bad = serious(await axeViolations(phone))
    t.same(bad.map(v => v.id), [], 'dark theme at phone width: no serious accessibility violations')
  } finally {
    await phone.close()
  }
}

export async function paletteFlow (t: T, page: Page, origin: string): Promise<void> {
  await goto(page, origin, '#/overview')
  await page.keyboard.press('Control+k')
  const input = page.getByRole('dialog').getByRole('textbox', { name: 'Command' })
  await input.fill('go workers')
  await input.press('Enter')
  await page.waitForURL(/#\/workers/, WAIT)
  await page.locator('body').press('g')
  await page.locator('body').press('d')
  await page.waitForURL(/#\/dlq/, WAIT)
  t.ok(true, 'the palette and the g-shortcuts navigate')
}

/** signs in through the login form (password mode) */
export async function signInWithForm (page: Page, origin: string, user: string, password: string): Promise<void> {
  await page.goto(`${origin}/#/overview`)
  await page.getByLabel('User').fill(user)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByTestId('tiles').waitFor(WAIT)
}

/** a viewer sees no mutation controls, and the API refuses a mutation anyway */
export async function viewerFlow (t: T, page: Page, origin: string): Promise<void> {
  await goto(page, origin, '#/queues')
  await page.getByTestId('queues').waitFor(WAIT)
  t.equal(await page.getByRole('button', { name: /^(Pause|Resume)$/ }).count(), 0, 'no pause or resume buttons on Queues')
  await goto(page, origin, '#/tasks')
  t.equal(await page.getByRole('button', { name: 'Enqueue a task' }).count(), 0, 'no enqueue button on Tasks')
  t.equal(await page.getByLabel('Bulk action').count() + await page.getByRole('checkbox').count(), 0, 'no bulk actions or row selection on Tasks')
  await goto(page, origin, '#/dlq')
  t.equal(await page.getByRole('button', { name: /Replay|Purge/ }).count(), 0, 'no replay or purge controls on the DLQ')
  await goto(page, origin, '#/jobs')
  await page.getByTestId('jobs').waitFor(WAIT)
  t.equal(await page.getByRole('button', { name: /^(New job|Run|Edit|Delete)$/ }).count(), 0, 'no job create, run, edit or delete controls on Jobs')
  await goto(page, origin, '#/settings')
  await page.getByText('refused: viewers can only look').waitFor(WAIT)
  const refused = await page.evaluate(async () => {
    const session = await (await fetch('/api/session')).json() as { csrfToken: string }
    const res = await fetch('/api/admin/v1/pause', { method: 'POST', headers: { 'x-csrf-token': session.csrfToken } })
    return { status: res.status, body: await res.json() as { error?: { code?: string } } }
  })
  t.same([refused.status, refused.body.error?.code], [403, 'FORBIDDEN'], 'the API refuses a viewer\'s mutation')
}
