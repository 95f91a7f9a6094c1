#!/usr/bin/env node
// Builds the admin console's single-page app (plugins/admin-console/app) into
// plugins/admin-console/dist-app, which the console server serves: first the app's own
// type-check (browser code: DOM libs, its own tsconfig), then the Vite build. Run by
// scripts/build.mjs (so `npm ci` and `npm run build` build it) and by
// `npm run build:app -w plugins/admin-console`. The output stays out of git.
// Without Vite (an install without devDependencies) it says so and leaves dist-app alone.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib'
import { createRequire } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const appDir = join(root, 'plugins', 'admin-console', 'app')
const require = createRequire(join(appDir, 'package.json'))

function resolveBin (pkg, bin) {
  try { return join(dirname(require.resolve(`${pkg}/package.json`)), bin) } catch { return null }
}

const outDir = join(root, 'plugins', 'admin-console', 'dist-app')
// Beside dist-app (not in it: dist-app is published), kept out of git by the plugin's .gitignore.
const stampFile = join(root, 'plugins', 'admin-console', 'dist-app.stamp')
const IMPORT = /(?:^|[\s;])(?:import|export)\b[^'"]*?['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g

/**
 * A hash of everything the app's output is made from: the app directory (sources,
 * index.html, Vite and TypeScript config), every workspace file its sources import
 * relatively (core's contract, and what that imports in turn), the lockfile (Vite,
 * React and the other packages) and this script.
 */
function inputsDigest () {
  const files = new Set()
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules') continue
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.isFile()) files.add(path)
    }
  }
  walk(appDir)
  const pending = [...files].filter(file => /\.(ts|tsx|js|mjs)$/.test(file))
  while (pending.length > 0) {
    const file = pending.pop()
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = resolve(dirname(file), match[1] ?? match[2])
      if (!files.has(target) && existsSync(target)) {
        files.add(target)
        pending.push(target)
      }
    }
  }
  files.add(join(root, 'package-lock.json'))
  files.add(fileURLToPath(import.meta.url))
  const hash = createHash('sha256')
  for (const file of [...files].sort()) hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0')
  return hash.digest('hex')
}

export function buildConsoleApp ({ quiet = false } = {}) {
  const vite = resolveBin('vite', 'bin/vite.js')
  const tsc = resolveBin('typescript', 'bin/tsc')
  if (vite === null || tsc === null) {
    console.error('switchyard build: vite is not installed; the console app was not built (install devDependencies)')
    return 0
  }
  const started = Date.now()
  // Built from exactly these inputs already (and still there): nothing to do.
  const digest = inputsDigest()
  const stamp = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : null
  if (stamp === digest && existsSync(join(outDir, 'index.html'))) {
    if (!quiet) console.log(`switchyard build: console app in plugins/admin-console/dist-app is up to date, ${Date.now() - started} ms`)
    return 0
  }
  rmSync(stampFile, { force: true })
  const checked = spawnSync(process.execPath, [tsc, '--noEmit', '-p', join(appDir, 'tsconfig.json')], { stdio: 'inherit' })
  if (checked.status !== 0) { console.error('switchyard build: the console app does not type-check'); return 1 }
  const built = spawnSync(process.execPath, [vite, 'build', '--config', join(appDir, 'vite.config.ts')], { stdio: 'inherit', cwd: appDir, env: { ...process.env, NODE_ENV: 'production' } })
  if (built.status !== 0) { console.error(`switchyard build: vite build failed (exit ${built.status ?? built.signal})`); return 1 }
  const compressed = precompress(join(outDir, 'assets'))
  writeFileSync(stampFile, digest + '\n')
  if (!quiet) console.log(`switchyard build: console app in plugins/admin-console/dist-app (${compressed} files precompressed), ${Date.now() - started} ms`)
  return 0
}

/**
 * Writes a brotli (.br) and a gzip (.gz) copy beside every script and stylesheet, at
 * the highest settings once here, so the console server sends them without compressing
 * anything per request (plugins/admin-console/static.ts picks one by Accept-Encoding).
 */
function precompress (dir) {
  let count = 0
  for (const name of readdirSync(dir)) {
    if (!/\.(js|mjs|css|svg|json|map)$/.test(name)) continue
    const source = readFileSync(join(dir, name))
    writeFileSync(join(dir, name + '.br'), brotliCompressSync(source, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: source.length } }))
    writeFileSync(join(dir, name + '.gz'), gzipSync(source, { level: 9 }))
    count++
  }
  return count
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exit(buildConsoleApp({ quiet: process.env.SWITCHYARD_BUILD_QUIET === '1' }))
