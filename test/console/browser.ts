// Debian's chromium driven by playwright-core, for the console's browser tests and its
// benchmark. `.ci/run` installs chromium (scripts/browser/setup-chromium.sh); without it
// the tests say they are skipped.
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'

export const CHROMIUM = process.env.SWITCHYARD_CHROMIUM ?? '/usr/bin/chromium'
const requireFromConsole = createRequire(new URL('../../plugins/admin-console/package.json', import.meta.url))

/** why the browser tests cannot run here, or null when they can */
export function browserMissing (): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is not installed (bash scripts/browser/setup-chromium.sh)`
  try { requireFromConsole.resolve('playwright-core') } catch { return 'playwright-core is not installed (npm ci)' }
  return null
}

export async function launchChromium (): Promise<Browser> {
  const { chromium } = await import('playwright-core')
  return await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'], timeout: 60_000 })
}

/** where screenshots go: under the test output directory, out of git */
export const SCREENSHOT_DIR = join(new URL('../../.tap/console-screenshots', import.meta.url).pathname)

export async function screenshot (page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  const path = join(SCREENSHOT_DIR, `${name}.png`)
  await page.screenshot({ path, fullPage: true, timeout: 30_000 })
  return path
}

// the browser globals the page-side callback reads (the test program has no DOM lib)
declare const window: { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: AxeViolation[] }> } }
declare const document: unknown

export interface AxeViolation { id: string, impact: string | null, help: string, nodes: Array<{ target: unknown[] }> }

/**
 * Runs axe-core in the page. The source is evaluated through the DevTools protocol, which
 * the page's CSP (script-src 'self') does not govern, so the page keeps its real CSP.
 */
export async function axeViolations (page: Page): Promise<AxeViolation[]> {
  const source = readFileSync(requireFromConsole.resolve('axe-core/axe.min.js'), 'utf8')
  await page.evaluate(source)
  return await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] })
    return result.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({ target: n.target })) }))
  })
}

export function serious (violations: AxeViolation[]): AxeViolation[] {
  return violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
}
