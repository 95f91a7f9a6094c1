// Dependencies are declared where they are used. For each published package, every
// bare import of a file that ships (what tsconfig.build.json compiles) is a
// dependency or peer dependency of that package, and every dependency is imported by
// a file that ships; what only tests and tools import is declared in the package's
// devDependencies or the workspace root's.
import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { join, relative } from 'node:path'
import { ROOT, workspacePlugins } from './support.ts'

interface Manifest { name: string, dependencies?: Record<string, string>, peerDependencies?: Record<string, string>, devDependencies?: Record<string, string> }

/** core and every plugin package: a new plugin is checked without being listed here */
const PACKAGES = ['core', ...workspacePlugins()]
/** files that do not ship: the exclude list of the packages' tsconfig.build.json (app/: the console's sources, shipped bundled in dist-app) */
const NOT_SHIPPED = [/\.test\.ts$/, /(^|\/)test-support\.ts$/, /^scripts\//, /^testing\.ts$/, /^throughput\.ts$/, /^app\//]
const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm

async function tsFiles (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...await tsFiles(path))
    else if (entry.name.endsWith('.ts')) out.push(path)
  }
  return out
}

function packageOf (specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:') || specifier.startsWith('#') || specifier.endsWith('.proto')) return null  // a .proto import is protobuf text inside a string, not a module
  const parts = specifier.split('/')
  const name = specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0] as string
  return builtinModules.includes(name) ? null : name
}

async function importsOf (file: string): Promise<Set<string>> {
  const text = await readFile(file, 'utf8')
  const names = new Set<string>()
  for (const match of text.matchAll(IMPORT)) {
    const name = packageOf(match[1] ?? match[2] ?? match[3] ?? '')
    if (name !== null) names.add(name)
  }
  return names
}

const root = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Manifest

for (const dir of PACKAGES) {
  t.test(`${dir}: declared where used`, async t => {
    const manifest = JSON.parse(await readFile(join(ROOT, dir, 'package.json'), 'utf8')) as Manifest
    const runtime = new Map<string, string>()
    const development = new Map<string, string>()
    for (const file of await tsFiles(join(ROOT, dir))) {
      const rel = relative(join(ROOT, dir), file)
      const into = NOT_SHIPPED.some(pattern => pattern.test(rel)) ? development : runtime
      for (const name of await importsOf(file)) if (!into.has(name)) into.set(name, rel)
    }
    const declared = { ...manifest.dependencies, ...manifest.peerDependencies }
    for (const [name, file] of runtime) {
      if (name === manifest.name) continue
      t.ok(name in declared, `${name} (imported by ${file}) is a dependency or peer dependency`)
    }
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      t.ok(runtime.has(name), `dependency ${name} is imported by a file that ships`)
    }
    const available = { ...declared, ...manifest.devDependencies, ...root.devDependencies, ...root.dependencies }
    for (const [name, file] of development) {
      if (name === manifest.name || runtime.has(name)) continue
      t.ok(name in available, `${name} (imported by ${file}) is declared for development`)
    }
  })
}

t.test('the workspace tests: their packages are root devDependencies or workspace packages', async t => {
  const workspace = new Set<string>()
  for (const dir of PACKAGES) workspace.add((JSON.parse(await readFile(join(ROOT, dir, 'package.json'), 'utf8')) as Manifest).name)
  for (const file of await tsFiles(join(ROOT, 'test'))) {
    for (const name of await importsOf(file)) {
      if (workspace.has(name)) continue
      t.ok(name in (root.devDependencies ?? {}), `${name} (imported by ${relative(ROOT, file)}) is a root devDependency`)
    }
  }
})
