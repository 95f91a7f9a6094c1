// How tests run the `switchyard` command in a child process. Test processes load the
// workspace's TypeScript sources through tsx, and pass that on to what they spawn
// (scripts/workspace-sources.mjs), so no test runs a stale dist/. A spawned CLI that
// loads the whole platform through tsx spends about 2 s more CPU than from dist/
// (every module load crosses to the loader thread), and the suite spawns some
// hundreds. So when every package's dist/ is current with its sources (as after
// `npm ci` or `npm run build`, and what CI runs), the command runs the compiled
// JavaScript, exactly as an installed switchyard does; when any source is newer than
// its package's last build, it runs the sources as before.
import { readdirSync, statSync } from 'node:fs'
import { extname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** files the build copies beside the compiled ones (scripts/build.mjs) */
const ASSETS = new Set(['.lua', '.sql'])
const SKIP = new Set(['node_modules', 'dist', 'dist-app', 'app', 'scripts'])

let current: boolean | null = null

/** Env for a spawned `switchyard`: no TypeScript loader when dist/ is current (then it runs dist/), else nothing changed. */
export function binEnv (): NodeJS.ProcessEnv {
  current ??= process.env.SWITCHYARD_TEST_SOURCES === '1' ? false : distIsCurrent()
  return current ? { NODE_OPTIONS: '', SWITCHYARD_TEST_DIST: '1' } : {}
}

/**
 * Env that keeps a spawned `switchyard` on the sources through tsx (spread after
 * binEnv): for a test whose child loads a TypeScript module of its own (a fixture
 * plugin or handler), which only the loader can import.
 */
export function sourcesEnv (): NodeJS.ProcessEnv {
  return { NODE_OPTIONS: process.env.NODE_OPTIONS ?? '', SWITCHYARD_TEST_DIST: '0' }
}

/** every package's dist/ was built after its last source change (mtimes; any doubt answers false) */
export function distIsCurrent (): boolean {
  try {
    const packages = ['core', ...readdirSync(join(ROOT, 'plugins')).map(name => join('plugins', name))]
      .filter(dir => statSync(join(ROOT, dir, 'tsconfig.build.json'), { throwIfNoEntry: false })?.isFile() === true)
    const base = statSync(join(ROOT, 'tsconfig.build-base.json')).mtimeMs
    return packages.every(dir => {
      const pkg = join(ROOT, dir)
      const built = statSync(join(pkg, 'dist', '.tsbuildinfo'), { throwIfNoEntry: false })?.mtimeMs
      if (built === undefined || base > built || statSync(join(pkg, 'tsconfig.build.json')).mtimeMs > built) return false
      return sourcesOlderThan(pkg, pkg, built)
    })
  } catch {
    return false
  }
}

function sourcesOlderThan (pkg: string, dir: string, built: number): boolean {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (SKIP.has(entry.name) && dir === pkg) continue
      if (entry.name === 'node_modules') continue
      if (!sourcesOlderThan(pkg, join(dir, entry.name), built)) return false
      continue
    }
    const path = join(dir, entry.name)
    const ext = extname(entry.name)
    if (ext === '.ts' && !entry.name.endsWith('.test.ts')) {
      if (statSync(path).mtimeMs > built) return false
    } else if (ASSETS.has(ext)) {
      const copy = statSync(join(pkg, 'dist', relative(pkg, path)), { throwIfNoEntry: false })
      if (copy === undefined || statSync(path).mtimeMs > copy.mtimeMs) return false
    }
  }
  return true
}
