// The Node.js check `switchyard` runs before anything else: the range is the one in
// package.json "engines" (what the dependencies need), read here so there is one
// source. Plain JavaScript that any Node.js can parse, so an old one reaches the
// clear message instead of a syntax error.
import { readFileSync } from 'node:fs'

/** "engines.node" of @switchyard/core */
export function supportedRange () {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  return manifest.engines.node
}

function parseVersion (text) {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text.trim())
  if (match === null) throw new Error(`not a Node.js version: "${text}"`)
  return [Number(match[1]), Number(match[2]), Number(match[3])]
}

function compare (a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return 0
}

function satisfiesComparator (version, comparator) {
  const match = /^(>=|\^)?v?(\d+(?:\.\d+){0,2})$/.exec(comparator)
  if (match === null) throw new Error(`unsupported comparator "${comparator}" in engines.node (use >=x.y.z, ^x.y.z or a major)`)
  const parts = match[2].split('.').map(Number)
  const bound = [parts[0], parts[1] ?? 0, parts[2] ?? 0]
  if (match[1] === '>=') return compare(version, bound) >= 0
  // ^x.y.z and a bare major both mean: the same major, at least this version.
  return version[0] === bound[0] && compare(version, bound) >= 0
}

/** Whether `version` (e.g. process.versions.node) is in `range` (sets joined by ||, comparators by spaces). */
export function satisfies (version, range) {
  const parsed = parseVersion(version)
  return range.split('||').some(set => set.trim().split(/\s+/).every(comparator => satisfiesComparator(parsed, comparator)))
}

/** null when `version` is supported, else the one line to print */
export function unsupportedNodeMessage (version, range = supportedRange()) {
  if (satisfies(version, range)) return null
  return `switchyard: Node.js ${version} is not supported; Switchyard needs Node.js ${range} (install a supported version, e.g. the current LTS)`
}
