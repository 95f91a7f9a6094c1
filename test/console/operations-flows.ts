// The console's worker, queue and flow-limit operations in a real Chromium: cordon and
// uncordon a live worker, drain a queue after its dry-run count (refused when the queue
// changed after the preview), set a queue concurrency
// limit on the Rate limits page and clear it. Each flow acts through the UI and checks the
// backend through the API afterwards.
import type { Page } from 'playwright-core'
import type { Test } from 'tap'
import { screenshot } from './browser.ts'
import { consoleCall, goto } from './pages.ts'

type T = Test

const WAIT = { timeout: 30_000 }

/** a unique suffix so reruns on a shared backend never see each other's queues */
const run = Math.random().toString(36).slice(2, 7)
const q = (name: string): string => `e2e-${name}-${run}`

interface WorkerRow { id: string, cordoned: boolean, stale: boolean }

async function confirmDialog (page: Page, label: RegExp): Promise<void> {
  const dialog = page.getByRole('dialog')
  await dialog.getByTestId('impact').waitFor(WAIT)
  await dialog.getByRole('button', { name: label }).click()
  await dialog.waitFor({ state: 'detached', ...WAIT })
}

async function workerById (page: Page, id: string): Promise<WorkerRow | undefined> {
  return (await consoleCall<{ workers: WorkerRow[] }>(page, 'GET', '/workers')).workers.find(w => w.id === id)
}

/** the embedded demo runs a worker: cordon it, see it cordoned, uncordon it */
export async function cordonWorkerFlow (t: T, page: Page, origin: string): Promise<void> {
  const { workers } = await consoleCall<{ workers: WorkerRow[] }>(page, 'GET', '/workers')
  const worker = workers.find(w => !w.cordoned && !w.stale)
  if (worker === undefined) { t.fail(`no live uncordoned worker to cordon (${JSON.stringify(workers)})`); return }
  await goto(page, origin, '#/workers')
  const row = page.locator(`tr[data-worker="${worker.id}"]`)
  await row.waitFor(WAIT)
  t.equal(await row.locator('[data-worker-state]').getAttribute('data-worker-state'), 'live', 'the worker shows as live')
  await row.getByRole('button', { name: 'Cordon' }).click()
  await page.getByRole('dialog').getByText(/leases nothing more/).waitFor(WAIT)
  await confirmDialog(page, /^Cordon$/)
  await row.locator('[data-worker-state="cordoned"]').waitFor(WAIT)
  t.equal((await workerById(page, worker.id))?.cordoned, true, 'the worker is cordoned in the registry')
  await screenshot(page, 'workers-cordoned')
  await row.getByRole('button', { name: 'Uncordon' }).click()
  await confirmDialog(page, /^Uncordon$/)
  await row.locator('[data-worker-state="live"]').waitFor(WAIT)
  t.equal((await workerById(page, worker.id))?.cordoned, false, 'the worker is uncordoned in the registry')
  // the stale toggle lives in the URL
  await page.getByLabel('Show stale').check()
  await page.waitForURL(/[?&]stale=1/, WAIT)
  await page.reload()
  await page.getByTestId('workers').waitFor(WAIT)
  t.equal(await page.getByLabel('Show stale').isChecked(), true, 'the show-stale toggle survives a reload')
  // a sweep previews first; live workers are never among what it would remove
  await page.getByRole('button', { name: 'Sweep stale entries…' }).click()
  const count = page.getByRole('dialog').getByTestId('sweep-count')
  await count.waitFor(WAIT)
  t.notOk((await page.getByRole('dialog').textContent() ?? '').includes(worker.id), 'the sweep preview does not list the live worker')
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click()
  await page.getByRole('dialog').waitFor({ state: 'detached', ...WAIT })
  await screenshot(page, 'workers')
}

/** a paused queue keeps its ready tasks: drain them after the dry-run count, scheduled ones too */
export async function drainQueueFlow (t: T, page: Page, origin: string): Promise<void> {
  const queue = q('drain')
  await consoleCall(page, 'POST', '/tasks', { handler: 'noop', queue, delayMs: 3_600_000 })
  await consoleCall(page, 'POST', `/queues/${queue}/pause`, { paused: true })
  for (let i = 0; i < 2; i++) await consoleCall(page, 'POST', '/tasks', { handler: 'noop', queue })
  await goto(page, origin, `#/queues?name=${queue}`)
  const detail = page.getByTestId('queue-detail')
  await detail.getByRole('button', { name: 'Drain queue…' }).click()
  const dialog = page.getByRole('dialog')
  const count = dialog.getByTestId('drain-count')
  await count.waitFor(WAIT)
  t.equal(await count.textContent(), '2', 'the dry run counts the two ready tasks')
  await dialog.getByLabel('Also scheduled and retrying tasks').check()
  let counted: string | null = null
  for (let i = 0; i < 60 && counted !== '3'; i++) {
    counted = await count.textContent(WAIT)
    if (counted !== '3') await page.waitForTimeout(250)
  }
  t.equal(counted, '3', 'with scheduled tasks the dry run counts three')
  await screenshot(page, 'queue-drain-preview')
  // a task arriving after the preview: the drain deletes nothing and shows the new impact
  await consoleCall(page, 'POST', '/tasks', { handler: 'noop', queue })
  await dialog.getByRole('button', { name: /^Drain$/ }).click()
  await dialog.getByTestId('drain-changed').waitFor(WAIT)
  t.equal(await count.textContent(), '4', 'the refused drain shows the new count')
  const between = await consoleCall<{ queue: { ready: number, scheduled: number } }>(page, 'GET', `/queues/${queue}`)
  t.same([between.queue.ready, between.queue.scheduled], [3, 1], 'nothing was deleted')
  await dialog.getByRole('button', { name: /^Drain$/ }).click()
  await dialog.waitFor({ state: 'detached', ...WAIT })
  const after = await consoleCall<{ queue: { ready: number, scheduled: number } }>(page, 'GET', `/queues/${queue}`)
  t.same([after.queue.ready, after.queue.scheduled], [0, 0], 'the queue is empty in the backend')
}

/** a queue concurrency limit set on the Rate limits page, listed, then cleared */
export async function rateLimitFlow (t: T, page: Page, origin: string): Promise<void> {
  const queue = q('limit')
  await goto(page, origin, '#/overview')
  await page.getByTestId('flow-limits-link').waitFor(WAIT)
  await page.locator('body').press('g')
  await page.locator('body').press('r')
  await page.waitForURL(/#\/rate-limits/, WAIT)
  await page.getByTestId('rate-limits').waitFor(WAIT)
  await page.getByRole('button', { name: 'New limit' }).click()
  const form = page.getByRole('dialog')
  await form.getByLabel('Kind').selectOption('queue')
  await form.getByLabel('Name').fill(queue)
  await form.getByLabel(/^Concurrency/).fill('3')
  await form.getByRole('button', { name: 'Preview' }).click()
  await page.getByRole('dialog').getByText(/at most 3 running at once/).waitFor(WAIT)
  await confirmDialog(page, /^Set limit$/)
  const row = page.locator(`tr[data-limit="queue:${queue}"]`)
  await row.waitFor(WAIT)
  t.equal(await row.locator('td').nth(2).textContent(), '3', 'the limit is listed with its concurrency')
  const listed = await consoleCall<{ limits: Array<{ kind: string, name: string, concurrency?: number }> }>(page, 'GET', '/rate-limits')
  t.same(listed.limits.filter(l => l.name === queue).map(l => [l.kind, l.concurrency]), [['queue', 3]], 'stored in the backend')
  await screenshot(page, 'rate-limits')
  await row.getByRole('button', { name: 'Clear…' }).click()
  await confirmDialog(page, /^Clear limit$/)
  await row.waitFor({ state: 'detached', ...WAIT })
  const after = await consoleCall<{ limits: Array<{ name: string }> }>(page, 'GET', '/rate-limits')
  t.notOk(after.limits.some(l => l.name === queue), 'cleared in the backend')
}

/** a viewer sees the new pages and columns but none of their change controls */
export async function viewerOperationsFlow (t: T, page: Page, origin: string): Promise<void> {
  await goto(page, origin, '#/workers')
  await page.getByTestId('workers').waitFor(WAIT)
  t.equal(await page.getByRole('button', { name: /^(Cordon|Uncordon|Release leases…|Sweep stale entries…)$/ }).count(), 0, 'no worker controls on Workers')
  await goto(page, origin, '#/queues')
  await page.getByTestId('queues').waitFor(WAIT)
  t.equal(await page.getByRole('button', { name: /^Drain/ }).count(), 0, 'no drain controls on Queues')
  await goto(page, origin, '#/rate-limits')
  await page.getByTestId('rate-limits').waitFor(WAIT)
  t.equal(await page.getByRole('button', { name: /^(New limit|Edit|Clear…)$/ }).count(), 0, 'no limit controls on Rate limits')
}
