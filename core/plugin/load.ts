// loadPlugins(): from the config's plugin list to registered Fastify plugins.
// Everything that can be checked before registering is checked first (modules,
// duplicates, options, dependencies), so a bad config fails without half a platform
// having started.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { formatProblem, type Problem } from '../config/problems.ts'
import type { PluginSpec, ResolvedConfig } from '../config/types.ts'
import { isSwitchyardError } from '../errors.ts'
import { DEFAULT_REGISTER_TIMEOUT_MS, isSwitchyardPlugin, validatePluginOptions, type PluginMeta, type SwitchyardPlugin } from './define.ts'
import { PluginErrors } from './errors.ts'
import { ensureHookRegistry } from './hooks.ts'
import { locatePluginModule, type PluginSourceKind } from './locate.ts'
import { orderPlugins } from './order.ts'

export interface LoadPluginsContext {
  config: ResolvedConfig
  /** relative plugin paths are resolved against it */
  configDir: string
  /** defaults to app.log */
  log?: FastifyBaseLogger
}

export interface LoadPluginsOptions {
  /** per plugin; keep it below the app's pluginTimeout (Fastify's default is 10 s) */
  registerTimeoutMs?: number
}

export interface LoadedPlugin {
  name: string
  version: string
  /** position in the config's plugin list */
  index: number
  kind: PluginSourceKind
  /** file or package the plugin was imported from */
  from: string
}

interface Candidate {
  name: string
  dependencies: readonly string[]
  index: number
  spec: PluginSpec
  plugin: SwitchyardPlugin
  kind: PluginSourceKind
  from: string
  options: unknown
}

function exportedPlugin (module: Record<string, unknown>): SwitchyardPlugin | null {
  for (const candidate of [module.default, module.plugin]) {
    if (isSwitchyardPlugin(candidate)) return candidate
  }
  return null
}

async function importCandidate (spec: PluginSpec, index: number, configDir: string): Promise<Omit<Candidate, 'options'>> {
  const located = await locatePluginModule(spec.name, configDir)
  const plugin = exportedPlugin(located.module)
  if (plugin === null) {
    throw PluginErrors.invalid(`plugin "${spec.name}" (${located.from}) does not export a plugin made with definePlugin() as its default export or as "plugin"`, { details: { index, from: located.from } })
  }
  const meta: PluginMeta = plugin.meta
  return { name: meta.name, dependencies: meta.dependencies, index, spec, plugin, kind: located.kind, from: located.from }
}

function rejectDuplicates (candidates: ReadonlyArray<Omit<Candidate, 'options'>>): void {
  const first = new Map<string, Omit<Candidate, 'options'>>()
  for (const candidate of candidates) {
    const earlier = first.get(candidate.name)
    if (earlier !== undefined) {
      throw PluginErrors.duplicate(`plugin "${candidate.name}" is listed twice (plugins[${earlier.index}] "${earlier.spec.name}" and plugins[${candidate.index}] "${candidate.spec.name}")`, { details: { plugin: candidate.name, indexes: [earlier.index, candidate.index] } })
    }
    first.set(candidate.name, candidate)
  }
}

function label (candidate: Pick<Candidate, 'index' | 'name'>): string {
  return `plugins[${candidate.index}](${candidate.name})`
}

/**
 * When Fastify's own pluginTimeout fired before ours, the name of the plugin it
 * gave up on (avvio attaches the plugin function to its timeout error as `fn`).
 */
function fastifyTimeoutPlugin (err: unknown, candidates: readonly Candidate[]): string | null {
  let current = err as { code?: unknown, fn?: unknown, cause?: unknown } | null
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    if (current.code === 'FST_ERR_PLUGIN_TIMEOUT' || current.code === 'AVV_ERR_PLUGIN_EXEC_TIMEOUT') {
      return candidates.find(c => c.plugin === current?.fn)?.name ?? 'unknown'
    }
    current = current.cause as typeof current
  }
  return null
}

/** Fastify wraps plugin errors at times; surface ours so callers see a Switchyard code. */
function unwrap (err: unknown): unknown {
  let current = err
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (isSwitchyardError(current)) return current
    current = current.cause
  }
  return err
}

/**
 * Resolves, validates, orders and registers the plugins of `specs` on `app`; when
 * it returns, every plugin has finished registering. Throws a plugin error code
 * (PLUGIN_*) naming the plugin(s) on the first kind of failure found.
 */
export async function loadPlugins (app: FastifyInstance, specs: readonly PluginSpec[], ctx: LoadPluginsContext, options: LoadPluginsOptions = {}): Promise<LoadedPlugin[]> {
  const registerTimeoutMs = options.registerTimeoutMs ?? DEFAULT_REGISTER_TIMEOUT_MS
  ensureHookRegistry(app)

  const imported: Array<Omit<Candidate, 'options'>> = []
  for (const [index, spec] of specs.entries()) imported.push(await importCandidate(spec, index, ctx.configDir))
  rejectDuplicates(imported)

  const problems: Problem[] = []
  const candidates: Candidate[] = imported.map(candidate => {
    const checked = validatePluginOptions(candidate.plugin.meta, candidate.spec.options, label(candidate))
    problems.push(...checked.problems)
    return { ...candidate, options: checked.value }
  })
  if (problems.length > 0) {
    const lines = problems.map(formatProblem)
    const names = [...new Set(candidates.filter(c => lines.some(line => line.startsWith(label(c)))).map(c => `"${c.name}"`))]
    throw PluginErrors.optionsInvalid(`invalid options for plugin ${names.join(', ')}: ${lines.join('; ')}`, { details: { problems: lines } })
  }

  const ordered = orderPlugins(candidates, name => app.hasPlugin(name))
  const registerCtx = { config: ctx.config, configDir: ctx.configDir, ...(ctx.log === undefined ? {} : { log: ctx.log }) }
  for (const candidate of ordered) {
    app.register(candidate.plugin, { options: candidate.options, ctx: registerCtx, registerTimeoutMs, label: label(candidate) })
  }
  try {
    await app.after()
  } catch (err) {
    const timedOut = fastifyTimeoutPlugin(err, ordered)
    if (timedOut !== null) {
      throw PluginErrors.registerTimeout(`plugin "${timedOut}" did not finish registering within the app's pluginTimeout (set registerTimeoutMs below it)`, { cause: err })
    }
    throw unwrap(err)
  }
  return ordered.map(c => ({ name: c.name, version: c.plugin.meta.version, index: c.index, kind: c.kind, from: c.from }))
}
