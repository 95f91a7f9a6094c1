// Finding a plugin's module from what the config names: a built-in name, an npm
// package (looked up from the config file's directory, like the application that
// owns the config would), or a path.
import { readFile, stat } from 'node:fs/promises'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BUILTIN_PLUGINS } from '../config/schema.ts'
import { importFailureMessage } from '../module-import.ts'
import { PluginErrors } from './errors.ts'

export type PluginSourceKind = 'builtin' | 'package' | 'path'

export interface LocatedModule {
  kind: PluginSourceKind
  /** what the config said */
  specifier: string
  /** the file or package imported */
  from: string
  module: Record<string, unknown>
}

const PACKAGE_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/

export function isPathSpecifier (name: string): boolean {
  return name.startsWith('./') || name.startsWith('../') || isAbsolute(name)
}

export function sourceKind (name: string): PluginSourceKind {
  if (isPathSpecifier(name)) return 'path'
  return (BUILTIN_PLUGINS as readonly string[]).includes(name) ? 'builtin' : 'package'
}

function firstLine (err: unknown): string {
  return ((err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '').trim()
}

async function statOrNull (path: string) {
  try { return await stat(path) } catch { return null }
}

/**
 * The conditions Node.js matches "exports" against for an ESM import in this
 * process: its defaults plus those given with --conditions / -C (on the command line
 * or in NODE_OPTIONS), so a package is read the way Node.js itself would import it.
 */
export function activeConditions (execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env.NODE_OPTIONS ?? ''): Set<string> {
  const conditions = new Set(['import', 'node', 'default'])
  // NODE_OPTIONS may quote each option ("--conditions=x"), as tap writes it for its children.
  const args = [...execArgv, ...nodeOptions.split(/\s+/).filter(arg => arg.length > 0).map(arg => arg.replace(/^"(.*)"$/, '$1'))]
  for (const [i, arg] of args.entries()) {
    const inline = /^(?:--conditions|-C)=(.+)$/.exec(arg)
    if (inline?.[1] !== undefined) conditions.add(inline[1])
    else if ((arg === '--conditions' || arg === '-C') && args[i + 1] !== undefined) conditions.add(args[i + 1] as string)
  }
  return conditions
}

/**
 * The module an "exports" target picks for an ESM import: as Node.js does, the first
 * key in the object's own order that is an active condition.
 */
function pickTarget (target: unknown, conditions: ReadonlySet<string>): string | null {
  if (typeof target === 'string') return target
  if (target === null || typeof target !== 'object' || Array.isArray(target)) return null
  for (const [condition, value] of Object.entries(target as Record<string, unknown>)) {
    if (!conditions.has(condition)) continue
    const picked = pickTarget(value, conditions)
    if (picked !== null) return picked
  }
  return null
}

/** Entry file of a package directory (package.json exports/main, else an index file). */
async function packageEntry (dir: string): Promise<string | null> {
  let manifest: Record<string, unknown> = {}
  const manifestText = await readFile(join(dir, 'package.json'), 'utf8').catch(() => null)
  if (manifestText !== null) {
    try { manifest = JSON.parse(manifestText) as Record<string, unknown> } catch { return null }
  }
  const exportsField = manifest.exports
  let entry: string | null = null
  if (exportsField !== undefined) {
    const isSubpathMap = exportsField !== null && typeof exportsField === 'object' && !Array.isArray(exportsField) &&
      Object.keys(exportsField).some(key => key.startsWith('.'))
    const conditions = activeConditions()
    entry = isSubpathMap ? pickTarget((exportsField as Record<string, unknown>)['.'], conditions) : pickTarget(exportsField, conditions)
    if (entry === null) return null
  } else if (typeof manifest.main === 'string') {
    entry = manifest.main
  }
  for (const candidate of entry === null ? ['index.ts', 'index.js', 'index.mjs'] : [entry]) {
    const file = resolve(dir, candidate)
    if ((await statOrNull(file))?.isFile() === true) return file
  }
  return null
}

/** node_modules/<name> from `startDir` up to the filesystem root, as Node would search. */
async function findPackageDir (name: string, startDir: string): Promise<string | null> {
  let dir = resolve(startDir)
  for (;;) {
    const candidate = join(dir, 'node_modules', name)
    if ((await statOrNull(candidate))?.isDirectory() === true) return candidate
    const parent = dirname(dir)
    if (parent === dir) return null
    dir = parent
  }
}

async function importFile (specifier: string, file: string, kind: PluginSourceKind): Promise<LocatedModule> {
  try {
    return { kind, specifier, from: file, module: await import(pathToFileURL(file).href) as Record<string, unknown> }
  } catch (err) {
    throw PluginErrors.invalid(`plugin "${specifier}" failed to load from ${file}: ${importFailureMessage(file, err)}`, { cause: err })
  }
}

function isMissing (err: unknown, what: string): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  const line = firstLine(err)
  // Loader hooks in the chain (tsx, test runners) may rethrow Node's resolution error
  // without its code, so the message is recognised too.
  return ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && line.includes(what)) ||
    line.startsWith(`Cannot find package '${what}'`) || line.startsWith(`Cannot find module '${what}'`)
}

/** Imports a package through Node's own resolution from core's location (workspace and hoisted packages). */
async function importBare (specifier: string, packageName: string, kind: PluginSourceKind, notFound: string): Promise<LocatedModule> {
  try {
    return { kind, specifier, from: packageName, module: await import(packageName) as Record<string, unknown> }
  } catch (err) {
    if (isMissing(err, packageName)) throw PluginErrors.notFound(notFound, { cause: err })
    throw PluginErrors.invalid(`plugin "${specifier}" failed to load from package ${packageName}: ${firstLine(err)}`, { cause: err })
  }
}

async function locatePackage (specifier: string, packageName: string, kind: PluginSourceKind, configDir: string, notFound: string): Promise<LocatedModule> {
  const dir = await findPackageDir(packageName, configDir)
  if (dir === null) return importBare(specifier, packageName, kind, notFound)
  const entry = await packageEntry(dir)
  if (entry === null) throw PluginErrors.invalid(`plugin "${specifier}": package ${dir} has no importable entry (package.json exports or main)`)
  return importFile(specifier, entry, kind)
}

/** Imports the module behind one plugin name; throws PLUGIN_NOT_FOUND or PLUGIN_INVALID naming it. */
export async function locatePluginModule (specifier: string, configDir: string): Promise<LocatedModule> {
  const kind = sourceKind(specifier)
  if (kind === 'path') {
    const path = resolve(configDir, specifier)
    const info = await statOrNull(path)
    if (info === null) throw PluginErrors.notFound(`plugin "${specifier}": no file or directory at ${path}`)
    if (info.isDirectory()) {
      const entry = await packageEntry(path)
      if (entry === null) throw PluginErrors.notFound(`plugin "${specifier}": directory ${path} has no package.json entry or index file`)
      return importFile(specifier, entry, kind)
    }
    return importFile(specifier, path, kind)
  }
  if (kind === 'builtin') {
    const packageName = `@switchyard/${specifier}`
    return locatePackage(specifier, packageName, kind, configDir, `built-in plugin "${specifier}" is not installed (package ${packageName} not found)`)
  }
  if (!PACKAGE_NAME.test(specifier)) {
    throw PluginErrors.notFound(`plugin "${specifier}" is not a built-in name, an npm package name or a path (paths start with ./, ../ or /)`)
  }
  return locatePackage(specifier, specifier, kind, configDir, `plugin "${specifier}": npm package not found (searched node_modules from ${configDir} upwards)`)
}
