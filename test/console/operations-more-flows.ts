// More of the console's operations in a real Chromium: replay selected DLQ entries with a
// payload edited per entry, look a task up by its idempotency key, release a worker's
// leases and sweep stale worker entries after their dry runs, and edit a flow limit. Each
// flow acts through the UI and reads the result back through the admin contract.
import type { Page } from 'playwright-core'
import type { Test } from 'tap'
import { screenshot } from './browser.ts'
import { consoleCall, goto, waitForTaskState } from './pages.ts'

// the browser globals the page-side callbacks below read (the test program has no DOM lib)
declare const document: { activeElement: unknown }

type T = Test

const WAIT = { timeout: 30_000 }

/** a unique suffix so reruns on a shared backend never see each other's queues */
const run = Math.random().toString(36).slice(2, 7)
const q = (name: string): string => `e2e-${name}-${run}`

interface TaskRow { id: string, state: string, queue: string, payload: unknown, replays: number, attempts: number, workerId?: string }
interface AuditRow { action: string, target: string, outcome: string, params: Record<string, unknown> }

async function taskOf (page: Page, id: string): Promise<TaskRow> {
  return (await consoleCall<{ task: TaskRow }>(page, 'GET', `/tasks/${id}`)).task
}

/**
 * Waits until `rows` counts `n`, polled from the test side: the console's CSP (no
 * unsafe-eval) refuses what page.waitForFunction evaluates in the page.
 */
async function waitForCount (page: Page, rows: ReturnType<Page['locator']>, n: number): Promise<void> {
  for (let waited = 0; (await rows.count()) !== n; waited += 100) {
    if (waited > WAIT.timeout) throw new Error(`the page never listed ${n} rows (it lists ${await rows.count()})`)
    await page.waitForTimeout(100)
  }
}

async function confirmDialog (page: Page, label: RegExp): Promise<void> {
  const dialog = page.getByRole('dialog')
  await dialog.getByTestId('impact').waitFor(WAIT)
  await dialog.getByRole('button', { name: label }).click()
  await dialog.waitFor({ state: 'detached', ...WAIT })
}

/** two dead entries replayed together into a paused queue, one of them with an edited payload */
export async function dlqEditedReplayFlow (t: T, page: Page, origin: string): Promise<void> {
  const queue = q('edit-dlq')
  const parking = q('edit-parking')
  await consoleCall(page, 'POST', '/tasks', { handler: 'noop', queue: parking, delayMs: 3_600_000 })
  await consoleCall(page, 'POST', `/queues/${parking}/pause`, { paused: true })
  const edited = (await consoleCall<{ id: string }>(page, 'POST', '/tasks', { handler: 'fail', queue, maxAttempts: 1, payload: { n: 1 } })).id
  const kept = (await consoleCall<{ id: string }>(page, 'POST', '/tasks', { handler: 'fail', queue, maxAttempts: 1, payload: { n: 2 } })).id
  t.same([await waitForTaskState(page, edited, ['dead']), await waitForTaskState(page, kept, ['dead'])], ['dead', 'dead'], 'both failing tasks reached the DLQ')
  await goto(page, origin, `#/dlq?queue=${queue}`)
  for (const id of [edited, kept]) {
    await page.locator(`tr[data-task="${id}"]`).waitFor(WAIT)
    await page.getByLabel(`Select ${id}`).check()
  }
  await page.getByRole('button', { name: 'Replay 2 selected…' }).click()
  const form = page.getByRole('dialog', { name: 'Replay 2 selected DLQ entries' })
  await form.getByLabel('Replay to queue').fill(parking)
  await form.locator('summary').filter({ hasText: edited.slice(0, 12) }).click()
  const text = form.getByLabel(`Payload of ${edited} (JSON)`)
  await text.waitFor(WAIT)
  t.same(JSON.parse(await text.inputValue()), { n: 1 }, 'the entry opens with its stored payload')
  // a live update re-renders the page behind the dialog (a third entry changes the DLQ
  // stats): the caret must stay in the payload being edited, not jump to the first field
  await text.focus()
  const stats = page.getByTestId('dlq-stats')
  const statsBefore = await stats.textContent()
  const third = (await consoleCall<{ id: string }>(page, 'POST', '/tasks', { handler: 'fail', queue: q('edit-dlq-other'), maxAttempts: 1 })).id
  await waitForTaskState(page, third, ['dead'])
  // polled from here: page.waitForFunction would evaluate a string in the page, which the console's CSP refuses
  for (const deadline = Date.now() + WAIT.timeout; await stats.textContent() === statsBefore;) {
    if (Date.now() > deadline) throw new Error(`the DLQ stats did not change from "${statsBefore}" after a third entry died`)
    await page.waitForTimeout(100)
  }
  t.equal(await text.evaluate(el => el === document.activeElement), true, 'a live update behind the dialog leaves the focus in the payload being edited')
  await text.fill('{"n": 1, "fixed": true}')
  await form.locator('summary').filter({ hasText: '(edited)' }).waitFor(WAIT)
  await screenshot(page, 'dlq-edit-selected')
  await form.getByRole('button', { name: 'Preview replay' }).click()
  const confirm = page.getByRole('dialog', { name: 'Replay 2 DLQ entries with edited payloads' })
  await confirm.getByTestId('replay-count').waitFor(WAIT)
  t.equal(await confirm.getByTestId('replay-count').textContent(), '2', 'the dry run counts both entries')
  t.match(await confirm.getByTestId('replay-preview').textContent(), new RegExp(`in queue ${parking}`), 'into the chosen queue')
  await screenshot(page, 'dlq-edit-preview')
  await confirmDialog(page, /^Replay$/)
  await page.getByText('Nothing matches.').waitFor(WAIT)
  const [a, b] = [await taskOf(page, edited), await taskOf(page, kept)]
  t.same([a.state, a.queue, a.payload, a.replays], ['ready', parking, { n: 1, fixed: true }, 1], 'the edited entry waits in the other queue with its new payload')
  t.same([b.state, b.queue, b.payload, b.replays], ['ready', parking, { n: 2 }, 1], 'the other keeps its payload')
}

/** `key:<idempotency key>` in the Tasks search finds the one task with that key; the search lives in the URL */
export async function keyLookupFlow (t: T, page: Page, origin: string): Promise<void> {
  const queue = q('key')
  const key = `order-${run}-42`
  const { id } = await consoleCall<{ id: string }>(page, 'POST', '/tasks', { handler: 'noop', queue, delayMs: 3_600_000, idempotencyKey: key })
  await consoleCall(page, 'POST', '/tasks', { handler: 'noop', queue, delayMs: 3_600_000, idempotencyKey: `${key}-other` })
  await goto(page, origin, '#/tasks')
  await page.getByRole('searchbox', { name: 'Search' }).fill(`key:${key}`)
  await page.waitForURL(/query=key/, WAIT)
  const rows = page.locator('tbody tr[data-task]')
  // the URL changes before the keyed answer replaces the unfiltered list, which lists the task too
  await page.locator(`tr[data-task="${id}"]`).waitFor(WAIT)
  await waitForCount(page, rows, 1).catch(() => {})
  t.equal(await rows.count(), 1, 'exactly the task with that key is listed')
  await page.reload()
  await page.locator(`tr[data-task="${id}"]`).waitFor(WAIT)
  t.equal(await page.getByRole('searchbox', { name: 'Search' }).inputValue(), `key:${key}`, 'the key search survives a reload')
  await screenshot(page, 'tasks-key-lookup')
  const byKey = await consoleCall<{ task: { id: string } }>(page, 'GET', `/tasks/by-key/${encodeURIComponent(key)}`)
  t.equal(byKey.task.id, id, 'the contract finds the same task by its key')
  await page.getByRole('searchbox', { name: 'Search' }).fill(`key:${key}-missing`)
  await page.getByText('Nothing matches.').waitFor(WAIT)
  t.equal(await rows.count(), 0, 'an unknown key lists nothing')
}

/** a running task's lease released from the Workers page (force on a live worker, after the dry run) */
export async function releaseLeasesFlow (t: T, page: Page, origin: string): Promise<void> {
  const queue = q('release')
  const { id } = await consoleCall<{ id: string }>(page, 'POST', '/tasks', { handler: 'sleep', queue, payload: { ms: 60_000 }, maxAttempts: 3 })
  t.equal(await waitForTaskState(page, id, ['processing']), 'processing', 'a worker runs the long task')
  const leased = await taskOf(page, id)
  const worker = leased.workerId ?? ''
  t.ok(worker !== '', `the task names its worker (${worker})`)
  // the released task stays put for the check: its queue takes no new starts
  await consoleCall(page, 'POST', `/queues/${queue}/pause`, { paused: true })
  await goto(page, origin, '#/workers')
  const row = page.locator(`tr[data-worker="${worker}"]`)
  await row.getByRole('button', { name: 'Release leases…' }).click()
  const dialog = page.getByRole('dialog')
  const preview = dialog.getByTestId('release-preview')
  await preview.waitFor(WAIT)
  t.match(await preview.getByRole('alert').textContent(), /still heartbeats/, 'the preview warns that the worker is alive')
  t.ok(Number(await preview.getByTestId('release-count').textContent()) >= 1, 'the dry run counts its leased tasks')
  t.match(await preview.textContent(), new RegExp(id.slice(0, 12)), 'and lists the long task among them')
  t.equal((await taskOf(page, id)).state, 'processing', 'the dry run released nothing')
  await screenshot(page, 'workers-release-preview')
  await dialog.getByRole('button', { name: 'Force release' }).click()
  await dialog.waitFor({ state: 'detached', ...WAIT })
  const released = await taskOf(page, id)
  t.same([released.state, released.queue], ['ready', queue], 'the task is back to ready in its (paused) queue')
  const audit = (await consoleCall<{ events: AuditRow[] }>(page, 'GET', '/audit?action=worker.release_leases')).events
  t.ok(audit.some(e => e.outcome === 'ok' && e.params.id === worker && e.params.force === true && e.params.dryRun !== true), 'the forced release is audited')
  await consoleCall(page, 'POST', `/tasks/${id}/cancel`, {})
}

/** a sweep of stale worker entries after its dry run; live workers stay */
export async function sweepWorkersFlow (t: T, page: Page, origin: string): Promise<void> {
  const before = (await consoleCall<{ workers: Array<{ id: string, stale: boolean }> }>(page, 'GET', '/workers?includeStale=true')).workers
  const stale = before.filter(w => w.stale).map(w => w.id)
  const live = before.filter(w => !w.stale).map(w => w.id)
  await goto(page, origin, '#/workers?stale=1')
  await page.getByTestId('workers').waitFor(WAIT)
  await page.getByLabel('Stale for at least (minutes)').fill('0')
  await page.getByRole('button', { name: 'Sweep stale entries…' }).click()
  const dialog = page.getByRole('dialog')
  const count = dialog.getByTestId('sweep-count')
  await count.waitFor(WAIT)
  t.equal(await count.textContent(), String(stale.length), `the dry run counts the stale entries (${stale.length})`)
  await screenshot(page, 'workers-sweep-preview')
  await confirmDialog(page, /^Sweep$/)
  const after = (await consoleCall<{ workers: Array<{ id: string, stale: boolean }> }>(page, 'GET', '/workers?includeStale=true')).workers
  t.same(after.filter(w => w.stale).map(w => w.id), [], 'no stale entry is left in the registry')
  t.same(live.filter(id => !after.some(w => w.id === id)), [], 'every live worker is still registered')
  const audit = (await consoleCall<{ events: AuditRow[] }>(page, 'GET', '/audit?action=worker.sweep')).events
  t.ok(audit.some(e => e.outcome === 'ok' && (e.params as { dryRun?: boolean }).dryRun !== true), 'the sweep is audited')
}

/** a queue limit edited on the Rate limits page: the preview names what it replaces */
export async function rateLimitEditFlow (t: T, page: Page, origin: string): Promise<void> {
  const queue = q('limit-edit')
  await consoleCall(page, 'POST', '/rate-limits', { kind: 'queue', name: queue, concurrency: 3 })
  await goto(page, origin, '#/rate-limits')
  const row = page.locator(`tr[data-limit="queue:${queue}"]`)
  await row.getByRole('button', { name: 'Edit' }).click()
  const form = page.getByRole('dialog', { name: `Edit the limit of queue ${queue}` })
  t.equal(await form.getByLabel(/^Concurrency/).inputValue(), '3', 'the form opens with the stored concurrency')
  await form.getByLabel(/^Concurrency/).fill('5')
  await form.getByLabel(/^Starts per window/).fill('10')
  await form.getByLabel(/^Window \(seconds\)/).fill('2')
  await form.getByRole('button', { name: 'Preview' }).click()
  const preview = page.getByRole('dialog').getByTestId('limit-preview')
  await preview.waitFor(WAIT)
  t.match(await preview.textContent(), /It replaces concurrency 3/, 'the preview names the limit it replaces')
  await screenshot(page, 'rate-limit-edit-preview')
  await confirmDialog(page, /^Set limit$/)
  await row.locator('td:nth-child(3)', { hasText: /^5$/ }).waitFor(WAIT)
  const limits = (await consoleCall<{ limits: Array<{ kind: string, name: string, concurrency?: number, rateLimit?: number, rateWindowMs?: number }> }>(page, 'GET', '/rate-limits')).limits
  t.same(limits.filter(l => l.name === queue).map(l => [l.kind, l.concurrency, l.rateLimit, l.rateWindowMs]), [['queue', 5, 10, 2_000]], 'the edited limit is stored in the backend')
  await consoleCall(page, 'DELETE', `/rate-limits/queue/${queue}`)
}

/** a worker process of the test's own; `handler` (payload { ms }) holds its lease that long and is served by no other worker */
export interface SpawnedWorker { pid: number, handler: string, kill: () => Promise<void> }

/**
 * A worker process killed while it runs a task: once its entry goes stale, the Workers page
 * releases its lease (no force needed for a stale worker) after the dry run, and the sweep
 * removes its entry. `spawnWorker` starts a `switchyard worker` on the deployment's backend
 * that takes only the given queue.
 */
export async function killedWorkerFlow (t: T, page: Page, origin: string, spawnWorker: (queue: string) => Promise<SpawnedWorker>): Promise<void> {
  const queue = q('killed')
  const worker = await spawnWorker(queue)
  let id = ''
  for (let i = 0; i < 480 && id === ''; i++) {
    const workers = (await consoleCall<{ workers: Array<{ id: string, pid: number }> }>(page, 'GET', '/workers')).workers
    id = workers.find(w => w.pid === worker.pid)?.id ?? ''
    if (id === '') await page.waitForTimeout(250)
  }
  t.ok(id !== '', `the worker process registered (${id})`)
  const { id: task } = await consoleCall<{ id: string }>(page, 'POST', '/tasks', { handler: worker.handler, queue, payload: { ms: 60_000 }, maxAttempts: 3 })
  t.equal(await waitForTaskState(page, task, ['processing']), 'processing', 'the worker process runs the task')
  t.equal((await taskOf(page, task)).workerId, id, 'leased by that process')
  // nobody else may take the task once it is released: the queue takes no new starts
  await consoleCall(page, 'POST', `/queues/${queue}/pause`, { paused: true })
  await worker.kill()
  let stale = false
  for (let i = 0; i < 240 && !stale; i++) {
    const workers = (await consoleCall<{ workers: Array<{ id: string, stale: boolean }> }>(page, 'GET', '/workers?includeStale=true')).workers
    stale = workers.some(w => w.id === id && w.stale)
    if (!stale) await page.waitForTimeout(250)
  }
  t.ok(stale, 'the killed worker shows as stale')
  await goto(page, origin, '#/workers?stale=1')
  const row = page.locator(`tr[data-worker="${id}"]`)
  await row.locator('[data-worker-state="stale"]').waitFor(WAIT)
  t.equal(await row.getByRole('button', { name: /^(Cordon|Uncordon)$/ }).count(), 0, 'a stale worker offers no cordon')
  await row.getByRole('button', { name: 'Release leases…' }).click()
  const dialog = page.getByRole('dialog')
  const preview = dialog.getByTestId('release-preview')
  await preview.waitFor(WAIT)
  t.equal(await preview.getByRole('alert').count(), 0, 'no warning: the worker is gone')
  t.equal(await preview.getByTestId('release-count').textContent(), '1', 'the dry run counts its one leased task')
  await screenshot(page, 'workers-release-stale-preview')
  await dialog.getByRole('button', { name: 'Release', exact: true }).click()
  await dialog.waitFor({ state: 'detached', ...WAIT })
  const released = await taskOf(page, task)
  t.same([released.state, released.queue], ['ready', queue], 'the task is back to ready long before its lease would expire')
  await sweepWorkersFlow(t, page, origin)
  const after = (await consoleCall<{ workers: Array<{ id: string }> }>(page, 'GET', '/workers?includeStale=true')).workers
  t.notOk(after.some(w => w.id === id), 'the killed worker\'s entry is swept')
  await consoleCall(page, 'POST', `/tasks/${task}/cancel`, {})
}

/** the Tasks page pages by cursor: Older, a reload on the second page, Newer */
export async function cursorPagingFlow (t: T, page: Page, origin: string): Promise<void> {
  const queue = q('cursor')
  for (let i = 0; i < 55; i++) await consoleCall(page, 'POST', '/tasks', { handler: 'noop', queue, delayMs: 3_600_000 + i * 1000 })
  await goto(page, origin, `#/tasks?queue=${queue}&state=scheduled`)
  const rows = page.locator('tbody tr[data-task]')
  const waitRows = async (n: number): Promise<void> => { await waitForCount(page, rows, n) }
  await waitRows(50)
  const firstOfFirst = await rows.first().getAttribute('data-task')
  await page.getByRole('button', { name: 'Older →' }).click()
  await page.waitForURL(/cursors=/, WAIT)
  await waitRows(5)
  const secondPage = await Promise.all(Array.from({ length: await rows.count() }, async (_, i) => await rows.nth(i).getAttribute('data-task')))
  t.equal(secondPage.length, 5, 'the second page holds the last 5 of 55')
  t.ok(await page.getByRole('button', { name: 'Older →' }).isDisabled(), 'the last page has no Older')
  await page.reload()
  await waitRows(5)
  t.same(await Promise.all(Array.from({ length: await rows.count() }, async (_, i) => await rows.nth(i).getAttribute('data-task'))), secondPage, 'a reload shows the same page (the URL keeps the cursor)')
  await page.getByRole('button', { name: '← Newer' }).click()
  await waitRows(50)
  t.equal(await rows.first().getAttribute('data-task'), firstOfFirst, 'Newer goes back to the first page')
  t.notOk(/cursors=/.test(page.url()), 'the first page has no cursor in the URL')
}
