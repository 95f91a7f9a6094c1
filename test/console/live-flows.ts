// Live updates in a real Chromium when the event stream breaks: the tab reaches the console
// through a TCP relay of the test's own, which cuts every open connection (the stream with
// them); new stream requests are refused while polling still reaches the server, so the
// stale banner shows with the last update time and polling keeps the open page fresh; the
// banner's Reconnect resumes the stream with Last-Event-ID, and the server replays from
// that id exactly what happened meanwhile.
import { connect, createServer, type Socket } from 'node:net'
import type { Browser, BrowserContext, Locator, Page, Request } from 'playwright-core'
import type { Test } from 'tap'
import { screenshot } from './browser.ts'
import { consoleCall, goto } from './pages.ts'

type T = Test

const WAIT = { timeout: 30_000 }
const EVENTS = '**/api/admin/v1/events*'

const run = Math.random().toString(36).slice(2, 7)

interface StreamedEvent { id: string, type: string, data: { id?: string, taskId?: string } }

interface Relay { origin: string, cut: () => void, close: () => Promise<void> }

/** a TCP relay to the console (TLS passes through untouched); cut() closes every connection it carries */
async function startRelay (target: string): Promise<Relay> {
  const { hostname, port, protocol } = new URL(target)
  const sockets = new Set<Socket>()
  const server = createServer(client => {
    const upstream = connect(Number(port), hostname)
    const drop = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    sockets.add(client)
    sockets.add(upstream)
    for (const socket of [client, upstream]) { socket.on('error', drop); socket.on('close', drop) }
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve) })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the relay has no TCP address')
  return {
    origin: `${protocol}//127.0.0.1:${address.port}`,
    cut: () => { for (const socket of sockets) socket.destroy() },
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

/** reads the console's event stream from inside the page, resuming after `lastEventId`, until an event matches or the time is up */
async function replayAfter (page: Page, lastEventId: string, taskId: string): Promise<StreamedEvent[]> {
  return await page.evaluate(async ({ lastEventId, taskId }) => {
    const abort = new AbortController()
    const timer = setTimeout(() => abort.abort(), 15_000)
    const seen: Array<{ id: string, type: string, data: { id?: string, taskId?: string } }> = []
    try {
      const res = await fetch('/api/admin/v1/events', { headers: { accept: 'text/event-stream', 'last-event-id': lastEventId }, signal: abort.signal })
      const reader = (res.body as ReadableStream<Uint8Array>).getReader()
      const decoder = new TextDecoder()
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += decoder.decode(value, { stream: true })
        const blocks = buffer.split(/\r?\n\r?\n/)
        buffer = blocks.pop() ?? ''
        for (const block of blocks) {
          const data = block.split(/\r?\n/).filter(line => line.startsWith('data:')).map(line => line.slice(5).trim()).join('\n')
          if (data === '') continue
          const event = JSON.parse(data) as { id: string, type: string, data: { id?: string, taskId?: string } }
          seen.push(event)
        }
        if (seen.some(e => (e.data?.id ?? e.data?.taskId) === taskId)) break
      }
    } catch {
      // aborted after the time limit: answer what arrived
    } finally {
      clearTimeout(timer)
      abort.abort()
    }
    return seen
  }, { lastEventId, taskId })
}

export async function staleBannerFlow (t: T, browser: Browser, signedIn: BrowserContext, consoleOrigin: string): Promise<void> {
  const queue = `e2e-live-${run}`
  const relay = await startRelay(consoleOrigin)
  t.teardown(() => relay.close())
  const origin = relay.origin
  // a tab of its own through the relay (the same signed-in session: cookies do not depend on the port)
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ignoreHTTPSErrors: true, storageState: await signedIn.storageState() })
  t.teardown(() => context.close())
  const page = await context.newPage()
  const streamRequests: Array<{ at: number, request: Request }> = []
  page.on('request', request => { if (request.url().includes('/api/admin/v1/events')) streamRequests.push({ at: Date.now(), request }) })
  await goto(page, origin, '#/overview')
  const indicator = page.locator('[data-live]')
  await page.locator('[data-live="live"]').waitFor(WAIT)
  const timeline = page.getByTestId('timeline')
  /** the timeline row of a task's event: its link to the task (ids are short numbers on PGlite, so not matched as text) */
  const eventOf = (id: string): Locator => timeline.locator(`a[href="#/tasks?id=${encodeURIComponent(id)}"]`).first()

  // an event the tab sees over the stream before it breaks
  const { id: before } = await consoleCall<{ id: string }>(page, 'POST', '/tasks', { handler: 'noop', queue, delayMs: 3_600_000 })
  await eventOf(before).waitFor(WAIT)
  await page.waitForTimeout(1_000)

  // cut the open stream, and refuse every new stream request while polling goes through
  await page.route(EVENTS, route => route.abort('connectionrefused'))
  relay.cut()
  await page.locator('[data-live="polling"], [data-live="stale"]').waitFor(WAIT)
  const banner = page.locator('.banner[role=status]')
  await banner.waitFor(WAIT)
  const first = await banner.textContent() ?? ''
  t.match(first, /Live updates are down; polling — last update \d{1,2}:\d{2}:\d{2}/, `the banner shows the last update time (${first})`)
  t.equal(await banner.getByRole('button', { name: 'Reconnect' }).count(), 1, 'with a reconnect button')
  await screenshot(page, 'live-stale-banner')

  // polling keeps the open page fresh: a task created now shows up without the stream
  const { id: during } = await consoleCall<{ id: string }>(page, 'POST', '/tasks', { handler: 'noop', queue, delayMs: 3_600_000 })
  await eventOf(during).waitFor(WAIT)
  t.not(await indicator.getAttribute('data-live'), 'live', 'the task arrived while the stream was still down (by polling)')
  let refreshed = first
  for (let i = 0; i < 60 && refreshed === first; i++) { await page.waitForTimeout(250); refreshed = await banner.textContent() ?? '' }
  t.not(refreshed, first, `each poll moves the banner's last update time (${refreshed})`)
  t.ok(streamRequests.some(r => r.request.failure() !== null), 'the console kept trying the stream meanwhile')

  // Reconnect: the stream resumes after the last event this tab saw, and the banner goes away
  await page.unroute(EVENTS)
  const clicked = Date.now()
  await banner.getByRole('button', { name: 'Reconnect' }).click()
  await page.locator('[data-live="live"]').waitFor(WAIT)
  await banner.waitFor({ state: 'detached', ...WAIT })
  const resumed = streamRequests.filter(r => r.at >= clicked)
  t.ok(resumed.length >= 1, 'the button opened a new stream')
  const lastEventId = (await resumed[0]?.request.allHeaders())?.['last-event-id'] ?? ''
  t.ok(lastEventId !== '' && lastEventId !== '0', `the new stream sends Last-Event-ID (${lastEventId})`)
  await screenshot(page, 'live-reconnected')

  // the server resumes from that id: what happened during the outage, nothing the tab had already seen
  const replayed = await replayAfter(page, lastEventId, during)
  const ofTask = (id: string): string[] => replayed.filter(e => (e.data?.id ?? e.data?.taskId) === id).map(e => e.type)
  t.ok(ofTask(during).includes('task.enqueued'), 'the task enqueued during the outage is replayed after the Last-Event-ID')
  t.same(ofTask(before), [], 'the task the tab saw before the cut is not replayed again')
}
