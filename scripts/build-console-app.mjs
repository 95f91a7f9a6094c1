#!/usr/bin/env node
// Builds the admin console's single-page app (plugins/admin-console/app) into
// plugins/admin-console/dist-app, which the console server serves: first the app's own
// type-check (browser code: DOM libs, its own tsconfig), then the Vite build. Run by
// scripts/build.mjs (so `npm ci` and `npm run build` build it) and by
// `npm run build:app -w plugins/admin-console`. The output stays out of git.
// Without Vite (an install without devDependencies) it says so and leaves dist-app alone.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const appDir = join(root, 'plugins', 'admin-console', 'app')
const require = createRequire(join(appDir, 'package.json'))

function resolveBin (pkg, bin) {
  try { return join(dirname(require.resolve(`${pkg}/package.json`)), bin) } catch { return null }
}

export function buildConsoleApp ({ quiet = false } = {}) {
  const vite = resolveBin('vite', 'bin/vite.js')
  const tsc = resolveBin('typescript', 'bin/tsc')
  if (vite === null || tsc === null) {
    console.error('switchyard build: vite is not installed; the console app was not built (install devDependencies)')
    return 0
  }
  const started = Date.now()
  const checked = spawnSync(process.execPath, [tsc, '--noEmit', '-p', join(appDir, 'tsconfig.json')], { stdio: 'inherit' })
  if (checked.status !== 0) { console.error('switchyard build: the console app does not type-check'); return 1 }
  const built = spawnSync(process.execPath, [vite, 'build', '--config', join(appDir, 'vite.config.ts')], { stdio: 'inherit', cwd: appDir, env: { ...process.env, NODE_ENV: 'production' } })
  if (built.status !== 0) { console.error(`switchyard build: vite build failed (exit ${built.status ?? built.signal})`); return 1 }
  if (!quiet) console.log(`switchyard build: console app in plugins/admin-console/dist-app, ${Date.now() - started} ms`)
  return 0
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exit(buildConsoleApp({ quiet: process.env.SWITCHYARD_BUILD_QUIET === '1' }))
