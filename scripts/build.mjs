#!/usr/bin/env node
// Builds every package of the workspace: `tsc -b` compiles core and the plugins to
// JavaScript and declarations in each package's dist/ (incremental: an up-to-date
// package is skipped), then the non-TypeScript files the code reads at run time
// (Lua scripts, SQL migrations) are copied beside the compiled files, so a path
// such as new URL('./lua/', import.meta.url) finds them from dist/ as it does from
// the sources. Run by `npm run build`, by `npm ci`/`npm install` (prepare) and
// before `npm pack` (prepack). Plain JavaScript: it runs before anything is built.
import { spawnSync } from 'node:child_process'
import { cpSync, readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, extname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildConsoleApp } from './build-console-app.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const packages = ['core', ...readdirSync(join(root, 'plugins')).map(name => join('plugins', name))]
  .filter(dir => statSync(join(root, dir, 'tsconfig.build.json'), { throwIfNoEntry: false })?.isFile() === true)
const ASSET_EXTENSIONS = new Set(['.lua', '.sql'])
const SKIP_DIRS = new Set(['node_modules', 'dist'])

const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc')
const started = Date.now()
const compiled = spawnSync(process.execPath, [tsc, '-b', join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
if (compiled.status !== 0) {
  console.error(`switchyard build: tsc -b failed (exit ${compiled.status ?? compiled.signal})`)
  process.exit(1)
}

function copyAssets (packageDir, dir) {
  let copied = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) copied += copyAssets(packageDir, path)
    } else if (ASSET_EXTENSIONS.has(extname(entry.name))) {
      cpSync(path, join(packageDir, 'dist', relative(packageDir, path)))
      copied++
    }
  }
  return copied
}

let assets = 0
for (const dir of packages) assets += copyAssets(join(root, dir), join(root, dir))
if (process.env.SWITCHYARD_BUILD_QUIET !== '1') {
  console.log(`switchyard build: ${packages.length} packages, ${assets} asset files, ${Date.now() - started} ms`)
}
// The console's single-page app (Vite); its output, plugins/admin-console/dist-app, is served by the console server.
if (buildConsoleApp({ quiet: process.env.SWITCHYARD_BUILD_QUIET === '1' }) !== 0) process.exit(1)
