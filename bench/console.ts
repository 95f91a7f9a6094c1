// The web console in headless Chromium against a real `switchyard start` (embedded
// default) on localhost, measured against the console's targets:
//   1. JavaScript shipped, gzipped (every script the overview loads)   target ≤ 250 KB
//   2. first load to interactive on the overview: navigation start     target ≤ 500 ms
//      → the tiles rendered from the server's data (median of --loads)
//   3. event to visible: a task enqueued while the overview is open    target ≤ 1000 ms
//      → its event in the timeline (median of --events), enqueue call included
//   4. Tasks and DLQ pages: navigation → first page of rows (median)   target ≤ 1000 ms
//      at whatever the backend holds (the report says how many tasks)
// --tasks N fills the backend with N tasks before the start (40 % of them dead-lettered;
// bench/lib/fill-tasks.ts), e.g. --tasks 1000000; --backend postgres runs on the
// PostgreSQL server instead of the embedded default.
// --fill-dir DIR (embedded only) keeps the filled PGlite data directory in DIR and copies it
// into each run's deployment, so repeated runs skip the fill (a million tasks take minutes);
// DIR/fill.json records what it holds, and a DIR filled with another --tasks is refused.
// --compare-empty (with --tasks) also starts an empty embedded deployment and alternates the
// first loads between the two, so both see the same machine load; the report gives the
// filled backend's first load against the empty one's of the same run.
// Each first load also reports the server's main-thread CPU time (Linux /proc schedstat),
// which holds under load better than wall time: the event loop, PGlite's WebAssembly on
// the embedded backend, TLS and the static files all run on that thread.
// --smoke: one load and one event, for CI. Without chromium the run reports why it was skipped.
import { gzipSync } from 'node:zlib'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseFlags, positiveInteger } from './lib/args.ts'
import { progress, round } from './lib/report.ts'
import type { BenchResult } from './lib/types.ts'
import { browserMissing, launchChromium } from '../test/console/browser.ts'
import { startConsoleDeployment } from '../test/console/deployment.ts'
import { FILL_MIX, fillTasks, type FillResult, type FillTarget } from './lib/fill-tasks.ts'

// the browser globals the page-side callbacks read (the bench program has no DOM lib)
declare const document: { querySelector: (selector: string) => { textContent: string | null } | null }
declare const performance: { now: () => number, mark: (name: string) => void, getEntriesByType: (type: string) => Array<{ name: string, startTime: number, responseStart: number, responseEnd: number, domInteractive?: number }> }
declare class MutationObserver {
  constructor (callback: () => void)
  observe (target: unknown, options: Record<string, boolean>): void
  disconnect (): void
}

const TARGETS = { js_gzip_kb: 250, first_load_ms: 500, event_visible_ms: 1000, list_page_ms: 1000 } as const
const DIST = new URL('../plugins/admin-console/dist-app/assets/', import.meta.url).pathname

/**
 * --fill-dir: fills DIR/pglite once (DIR/fill.json written only after a complete fill),
 * then copies it to the deployment's data directory, so the run never changes the kept copy.
 */
async function reusedFill (dir: string, tasks: number, pgliteDir: string, doFill: (target: FillTarget) => Promise<FillResult>): Promise<FillResult> {
  const marker = join(dir, 'fill.json')
  const kept = join(dir, 'pglite')
  let result: FillResult
  if (existsSync(marker)) {
    result = JSON.parse(await readFile(marker, 'utf8')) as FillResult
    if (result.tasks !== tasks) throw new Error(`--fill-dir: ${dir} holds ${result.tasks} tasks, not ${tasks}; give another directory`)
    progress(`console: reusing ${result.tasks} filled tasks from ${dir}`)
  } else {
    if (existsSync(kept)) throw new Error(`--fill-dir: ${kept} exists without ${marker} (an interrupted fill?); remove it or give another directory`)
    await mkdir(dir, { recursive: true })
    result = await doFill({ pgliteDir: kept })
    await writeFile(marker, JSON.stringify(result) + '\n')
  }
  const copyStarted = Date.now()
  await cp(kept, pgliteDir, { recursive: true })
  progress(`console: copied the filled data directory in ${round((Date.now() - copyStarted) / 1000, 1)} s`)
  return result
}

/** CPU time the process's main thread has used, in ms (null where /proc is not there) */
function mainThreadCpuMs (pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const ns = Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0])
    return Number.isFinite(ns) ? ns / 1e6 : null
  } catch {
    return null
  }
}

type Browser = Awaited<ReturnType<typeof launchChromium>>
type Page = import('playwright-core').Page

/** a browser context of its own (cookies are per host, not per port), signed in, on the overview */
async function signedInPage (browser: Browser, signInUrl: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ignoreHTTPSErrors: true })
  // marks when the tiles and the first list row appear (an init script runs through the
  // DevTools protocol, outside the page's CSP, before the page's own scripts)
  await context.addInitScript(() => {
    const seen = new Set<string>()
    const observer = new MutationObserver(() => {
      for (const [name, selector] of [['tiles_seen', '[data-testid=tiles]'], ['rows_seen', 'table.list tbody tr']] as const) {
        if (!seen.has(name) && document.querySelector(selector) !== null) { seen.add(name); performance.mark(name) }
      }
    })
    observer.observe(document, { childList: true, subtree: true })
  })
  const page = await context.newPage()
  await page.goto(signInUrl)
  await page.getByTestId('tiles').waitFor({ timeout: 60_000 })
  return page
}

interface FirstLoad { ms: number, serverCpuMs: number | null, phases: Phases }

/** one first load of the overview from about:blank: wall time to the tiles, the server's main-thread CPU meanwhile */
async function firstLoad (page: Page, origin: string, serverPid: number | undefined): Promise<FirstLoad> {
  await page.goto('about:blank')
  const cpuBefore = mainThreadCpuMs(serverPid)
  const started = Date.now()
  await page.goto(`${origin}/#/overview`)
  await page.getByTestId('tiles').waitFor({ timeout: 60_000 })
  const ms = Date.now() - started
  const cpuAfter = mainThreadCpuMs(serverPid)
  return { ms, serverCpuMs: cpuBefore === null || cpuAfter === null ? null : round(cpuAfter - cpuBefore, 1), phases: await loadPhases(page) }
}

function median (xs: number[]): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? null
}

function shippedJsGzipKb (): number {
  const files = readdirSync(DIST).filter(f => f.endsWith('.js'))
  return round(files.reduce((sum, f) => sum + gzipSync(readFileSync(join(DIST, f)), { level: 9 }).length, 0) / 1024, 1)
}

/** where a first load went: ms after navigation start when each step ended (in the page's own clock) */
type Phases = Record<string, number>

async function loadPhases (page: import('playwright-core').Page): Promise<Phases> {
  return await page.evaluate(() => {
    const out: Record<string, number> = {}
    const nav = performance.getEntriesByType('navigation')[0]
    if (nav !== undefined) { out.html = Math.round(nav.responseEnd); out.dom_interactive = Math.round(nav.domInteractive ?? 0) }
    for (const r of performance.getEntriesByType('resource')) {
      const path = new URL(r.name).pathname
      const name = path.endsWith('.js') ? 'js' : path.endsWith('.css') ? 'css' : path.startsWith('/api/') ? path.slice(5) : null
      if (name === null || name === 'admin/v1/events') continue
      out[`${name}_start`] = Math.round(r.startTime)
      out[`${name}_end`] = Math.round(r.responseEnd)
    }
    for (const mark of performance.getEntriesByType('mark')) out[mark.name] = Math.round(mark.startTime)
    return out
  })
}

function medianPhases (runs: Phases[]): Phases {
  const keys = [...new Set(runs.flatMap(r => Object.keys(r)))]
  const out: Phases = {}
  for (const key of keys) out[key] = median(runs.map(r => r[key]).filter((v): v is number => v !== undefined)) ?? 0
  return Object.fromEntries(Object.entries(out).sort((a, b) => a[1] - b[1]))
}

export async function run (args: string[]): Promise<BenchResult> {
  const flags = parseFlags('console', args, { smoke: { type: 'boolean' }, loads: { type: 'string' }, events: { type: 'string' }, tasks: { type: 'string' }, backend: { type: 'string' }, 'fill-dir': { type: 'string' }, 'compare-empty': { type: 'boolean' } }) as { smoke?: boolean, loads?: string, events?: string, tasks?: string, backend?: string, 'fill-dir'?: string, 'compare-empty'?: boolean }
  const fill = flags.tasks === undefined ? 0 : positiveInteger('tasks', flags.tasks)
  const backend = flags.backend ?? 'embedded'
  if (backend !== 'embedded' && backend !== 'postgres') throw new Error(`--backend: expected embedded or postgres, got "${backend}"`)
  const fillDir = flags['fill-dir']
  if (fillDir !== undefined && (backend !== 'embedded' || fill === 0)) throw new Error('--fill-dir: only with --tasks N on the embedded backend')
  const compareEmpty = flags['compare-empty'] === true
  if (compareEmpty && fill === 0) throw new Error('--compare-empty: only with --tasks N (without it the backend is empty already)')
  const loads = flags.smoke === true ? 1 : positiveInteger('loads', flags.loads ?? '7')
  const eventCount = flags.smoke === true ? 1 : positiveInteger('events', flags.events ?? '10')
  const jsKb = shippedJsGzipKb()
  progress(`console: ${jsKb} KB of JavaScript gzipped (target ≤ ${TARGETS.js_gzip_kb} KB)`)
  const missing = browserMissing()
  if (missing !== null) {
    progress(`console: browser measurements skipped: ${missing}`)
    return { results: { smoke: flags.smoke === true, js_gzip_kb: jsKb, targets: TARGETS, skipped: missing }, ratios: { js_vs_target: round(jsKb / TARGETS.js_gzip_kb) } }
  }
  const teardowns: Array<() => unknown> = []
  try {
    progress(`console: starting switchyard (${backend})`)
    let filled: { tasks: number, dead: number, ms: number } | null = null
    const d = await startConsoleDeployment({ teardown: fn => { teardowns.push(fn) } }, {
      backend,
      config: ['demo: { enabled: true, interval: 10m }'],
      ...(fill === 0
        ? {}
        : {
            beforeStart: async store => {
              const doFill = async (target: FillTarget): Promise<FillResult> => {
                progress(`console: filling the ${backend} backend with ${fill} tasks (${Object.entries(FILL_MIX).map(([state, share]) => `${state} ${share * 100} %`).join(', ')})`)
                const result = await fillTasks(target, fill, done => { if (done % 200_000 === 0 || done === fill) progress(`console: ${done} tasks inserted`) })
                progress(`console: filled in ${round(result.ms / 1000, 1)} s, ${result.dead} in the DLQ`)
                return result
              }
              filled = fillDir === undefined ? await doFill(store) : await reusedFill(fillDir, fill, store.pgliteDir, doFill)
            }
          })
    })
    progress(`console: switchyard started (${backend})`)
    const browser = await launchChromium()
    teardowns.push(() => browser.close())
    const page = await signedInPage(browser, d.signInUrl)
    // enough rows that the list pages render a full first page
    await page.evaluate(async () => {
      const { csrfToken } = await (await fetch('/api/session')).json() as { csrfToken: string }
      for (let i = 0; i < 60; i++) {
        await fetch('/api/admin/v1/tasks', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken }, body: JSON.stringify({ handler: 'noop', queue: 'bench-console', delayMs: 3_600_000 }) })
      }
    })
    const serverPid = d.proc.child.pid
    let empty: { origin: string, page: Page, pid: number | undefined } | null = null
    if (compareEmpty) {
      progress('console: starting an empty embedded switchyard to compare with')
      const e = await startConsoleDeployment({ teardown: fn => { teardowns.push(fn) } }, { backend: 'embedded', config: ['demo: { enabled: true, interval: 10m }'] })
      empty = { origin: e.origin, page: await signedInPage(browser, e.signInUrl), pid: e.proc.child.pid }
    }
    // what the server's main thread does with no page open: the workers' polls, the
    // metrics leader, recovery (the share of a load's CPU that is not the load's)
    await page.goto('about:blank')
    if (empty !== null) await empty.page.goto('about:blank')
    const idleBefore = mainThreadCpuMs(serverPid)
    const idleStarted = Date.now()
    await sleep(2_000)
    const idleAfter = mainThreadCpuMs(serverPid)
    const idleCpuMsPerS = idleBefore === null || idleAfter === null ? null : round((idleAfter - idleBefore) / ((Date.now() - idleStarted) / 1000), 1)

    const firstLoads: number[] = []
    const serverCpu: number[] = []
    const phaseRuns: Phases[] = []
    const emptyLoads: number[] = []
    const emptyServerCpu: number[] = []
    for (let i = 0; i < loads + 1; i++) {
      // alternate which deployment goes first, so neither always follows the other's load
      const order = i % 2 === 0 ? ['filled', 'empty'] : ['empty', 'filled']
      for (const which of order) {
        if (which === 'empty' && empty === null) continue
        const load = which === 'filled' ? await firstLoad(page, d.origin, serverPid) : await firstLoad((empty as NonNullable<typeof empty>).page, (empty as NonNullable<typeof empty>).origin, empty?.pid)
        if (i === 0) continue // the first load warms the server's caches
        if (which === 'filled') {
          firstLoads.push(load.ms)
          phaseRuns.push(load.phases)
          if (load.serverCpuMs !== null) serverCpu.push(load.serverCpuMs)
        } else {
          emptyLoads.push(load.ms)
          if (load.serverCpuMs !== null) emptyServerCpu.push(load.serverCpuMs)
        }
      }
    }
    const phases = medianPhases(phaseRuns)
    progress(`console: first load to interactive, median ${median(firstLoads)} ms of ${firstLoads.length} (target ≤ ${TARGETS.first_load_ms} ms)`)
    progress(`console: first load phases (ms after navigation start, medians): ${Object.entries(phases).map(([k, v]) => `${k} ${v}`).join(', ')}`)
    progress(`console: server main-thread CPU per first load, median ${median(serverCpu)} ms (runs ${serverCpu.join(', ')}); idle ${idleCpuMsPerS} ms per s`)
    if (empty !== null) {
      progress(`console: empty backend in the same run: first load median ${median(emptyLoads)} ms (runs ${emptyLoads.join(', ')}), server CPU ${median(emptyServerCpu)} ms per load`)
      await empty.page.goto('about:blank')
    }

    const eventLatencies: number[] = []
    for (let i = 0; i < eventCount; i++) {
      eventLatencies.push(await page.evaluate(async () => {
        const { csrfToken } = await (await fetch('/api/session')).json() as { csrfToken: string }
        const table = document.querySelector('[data-testid=timeline]')
        if (table === null) throw new Error('no timeline on the overview')
        const started = performance.now()
        const res = await fetch('/api/admin/v1/tasks', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken }, body: JSON.stringify({ handler: 'noop', queue: 'bench-console-live', delayMs: 3_600_000 }) })
        const { id } = await res.json() as { id: string }
        // no named helper functions in here: the bench's TypeScript loader would wrap them in a
        // helper that exists only in Node, not in the page
        return await new Promise<number>((resolve, reject) => {
          if (table.textContent?.includes(id) === true) { resolve(performance.now() - started); return }
          const observer = new MutationObserver(() => {
            if (table.textContent?.includes(id) === true) { clearTimeout(timer); observer.disconnect(); resolve(performance.now() - started) }
          })
          const timer = setTimeout(() => { observer.disconnect(); reject(new Error(`event of ${id} not visible in 30 s`)) }, 30_000)
          observer.observe(table, { childList: true, subtree: true, characterData: true })
        })
      }))
    }
    progress(`console: event to visible, median ${round(median(eventLatencies) ?? 0, 0)} ms of ${eventLatencies.length} (target ≤ ${TARGETS.event_visible_ms} ms)`)

    const listPage = async (hash: string, rows: string): Promise<number[]> => {
      const times: number[] = []
      const phaseRuns: Phases[] = []
      for (let i = 0; i < Math.max(1, Math.min(loads, 3)); i++) {
        await page.goto('about:blank')
        const started = Date.now()
        await page.goto(`${d.origin}/${hash}`)
        await page.locator(rows).first().waitFor({ timeout: 60_000 })
        times.push(Date.now() - started)
        phaseRuns.push(await loadPhases(page))
      }
      progress(`console: ${hash} phases (ms after navigation start, medians): ${Object.entries(medianPhases(phaseRuns)).map(([k, v]) => `${k} ${v}`).join(', ')}`)
      return times
    }
    const tasksMs = await listPage('#/tasks', '[data-testid=tasks-table] tbody tr[data-task]')
    const dlqMs = await listPage('#/dlq', '[data-testid=dlq-table] tbody tr')
    const totals = await page.evaluate(async () => (await (await fetch('/api/admin/v1/overview')).json() as { totals: Record<string, number> }).totals)
    const taskCount = Object.values(totals).reduce((a, b) => a + b, 0)
    progress(`console: Tasks page ${median(tasksMs)} ms, DLQ page ${median(dlqMs)} ms with ${taskCount} tasks in the backend (target ≤ ${TARGETS.list_page_ms} ms)`)

    const results = {
      smoke: flags.smoke === true,
      targets: TARGETS,
      js_gzip_kb: jsKb,
      first_load_ms: median(firstLoads),
      first_load_runs_ms: firstLoads,
      first_load_phases_ms: phases,
      server_cpu_ms_per_load: median(serverCpu),
      server_cpu_runs_ms: serverCpu,
      server_idle_cpu_ms_per_s: idleCpuMsPerS,
      ...(empty === null ? {} : { empty_first_load_ms: median(emptyLoads), empty_first_load_runs_ms: emptyLoads, empty_server_cpu_ms_per_load: median(emptyServerCpu) }),
      event_visible_ms: round(median(eventLatencies) ?? 0, 0),
      event_visible_runs_ms: eventLatencies.map(x => round(x, 0)),
      tasks_page_ms: median(tasksMs),
      dlq_page_ms: median(dlqMs),
      tasks_in_backend: taskCount,
      backend,
      filled
    }
    return {
      results,
      ratios: {
        js_vs_target: round(jsKb / TARGETS.js_gzip_kb),
        first_load_vs_target: results.first_load_ms === null ? null : round(results.first_load_ms / TARGETS.first_load_ms),
        ...(empty === null ? {} : { first_load_vs_empty: results.first_load_ms === null || median(emptyLoads) === null ? null : round(results.first_load_ms / (median(emptyLoads) as number)) }),
        event_visible_vs_target: round(results.event_visible_ms / TARGETS.event_visible_ms),
        tasks_page_vs_target: results.tasks_page_ms === null ? null : round(results.tasks_page_ms / TARGETS.list_page_ms),
        dlq_page_vs_target: results.dlq_page_ms === null ? null : round(results.dlq_page_ms / TARGETS.list_page_ms)
      }
    }
  } finally {
    for (const fn of teardowns.reverse()) await fn()
  }
}
