#!/usr/bin/env node
// The image's build stage lays out in <out> what the runtime stage copies:
//   - each workspace package as `npm pack` publishes it (its "files": dist/, bin/,
//     proto/, package.json; no TypeScript sources, no tests) at its workspace path;
//   - the root package.json and node_modules with production dependencies only,
//     whose @switchyard/* links point at those paths.
//   node scripts/container/stage-runtime.mjs <out>       (run in the workspace root, after `npm run build`)
// It edits the workspace it runs in (the build stage's copy, never a checkout): the
// benchmark leaves the workspace list and optional peer dependencies leave the
// manifests before `npm prune --omit=dev`, because npm keeps an installed optional
// peer (core's tap, for its conformance suite) and what it pulls in (typescript).
// Plain JavaScript without dependencies: nothing of the workspace is loaded.
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

if (process.argv[2] === undefined) {
  console.error('usage: stage-runtime.mjs <out>')
  process.exit(2)
}
const out = resolve(process.argv[2])
const root = process.cwd()
const EXCLUDED_WORKSPACES = new Set(['bench'])

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'))
const writeJson = (path, value) => writeFileSync(path, JSON.stringify(value, null, 2) + '\n')
const npm = (args) => execFileSync('npm', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })

const manifest = readJson(join(root, 'package.json'))
const workspaces = manifest.workspaces.filter(pattern => !EXCLUDED_WORKSPACES.has(pattern))
const dirs = workspaces.flatMap(pattern => pattern.endsWith('/*')
  ? readdirSync(join(root, pattern.slice(0, -2))).map(name => `${pattern.slice(0, -2)}/${name}`)
  : [pattern])
const locations = new Map(dirs.map(dir => [readJson(join(root, dir, 'package.json')).name, dir]))

// 1. The packages as published (--ignore-scripts: prepack would build again).
const packs = mkdtempSync(join(tmpdir(), 'switchyard-packs-'))
const packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', packs, ...dirs.map(dir => `--workspace=${dir}`)]))
for (const pack of packed) {
  const dir = locations.get(pack.name)
  if (dir === undefined) throw new Error(`npm pack made ${pack.filename} for ${pack.name}, which no workspace path names`)
  mkdirSync(join(out, dir), { recursive: true })
  execFileSync('tar', ['-xzf', join(packs, pack.filename), '-C', join(out, dir), '--strip-components=1'])
  console.log(`staged ${pack.name} (${pack.entryCount} files) in ${dir}`)
}
rmSync(packs, { recursive: true, force: true })

// 2. Production dependencies only.
writeJson(join(root, 'package.json'), { ...manifest, workspaces })
for (const pattern of EXCLUDED_WORKSPACES) rmSync(join(root, pattern), { recursive: true, force: true })
for (const dir of dirs) {
  const path = join(root, dir, 'package.json')
  const pkg = readJson(path)
  const optional = Object.entries(pkg.peerDependenciesMeta ?? {}).filter(([, meta]) => meta?.optional === true).map(([name]) => name)
  for (const name of optional) {
    delete pkg.peerDependencies?.[name]
    delete pkg.peerDependenciesMeta[name]
  }
  if (optional.length > 0) writeJson(path, pkg)
}
npm(['prune', '--omit=dev', '--ignore-scripts', '--offline'])
// npm leaves the emptied scope folders behind.
for (const entry of readdirSync(join(root, 'node_modules'))) {
  if (entry.startsWith('@') && readdirSync(join(root, 'node_modules', entry)).length === 0) rmSync(join(root, 'node_modules', entry), { recursive: true })
}
writeJson(join(out, 'package.json'), { ...manifest, workspaces })
cpSync(join(root, 'node_modules'), join(out, 'node_modules'), { recursive: true, verbatimSymlinks: true })
console.log(`staged the production dependencies: ${readdirSync(join(out, 'node_modules')).length} entries in node_modules`)
