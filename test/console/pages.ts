// What the browser tests do in the console page: call the console API as the signed-in
// user (setting things up the way the SPA itself calls it) and wait on what is visible.
import type { Page } from 'playwright-core'

/** calls an admin RPC through the console API from inside the page (its cookie, its CSRF token) */
export async function consoleCall<T = Record<string, unknown>> (page: Page, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  return await page.evaluate(async ({ method, path, body, headers }) => {
    const session = await (await fetch('/api/session')).json() as { csrfToken: string }
    const res = await fetch(`/api/admin/v1${path}`, {
      method,
      headers: { accept: 'application/json', ...headers, ...(method === 'GET' ? {} : { 'x-csrf-token': session.csrfToken }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`)
    return JSON.parse(text) as T
  }, { method, path, body, headers }) as T
}

export async function goto (page: Page, origin: string, hash: string): Promise<void> {
  await page.goto(`${origin}/${hash}`)
  await page.locator('main h1').first().waitFor({ timeout: 30_000 })
}

export const PAGES = ['overview', 'queues', 'tasks', 'dlq', 'schedules', 'jobs', 'workers', 'rate-limits', 'audit', 'settings', 'docs'] as const

/** waits until the task is in one of the states (read through the admin contract), and answers the state it found */
export async function waitForTaskState (page: Page, id: string, states: string[], timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  let state = ''
  while (Date.now() < deadline) {
    state = (await consoleCall<{ task: { state: string } }>(page, 'GET', `/tasks/${id}`)).task.state
    if (states.includes(state)) return state
    await page.waitForTimeout(250)
  }
  return state
}
