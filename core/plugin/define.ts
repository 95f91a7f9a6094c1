// definePlugin(): a Switchyard plugin is a Fastify plugin (fastify-plugin, so what
// it registers is visible to the whole app) that also carries its metadata, so the
// loader can validate options and order dependencies before registering anything.
import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Static, TSchema } from 'typebox'
import { Value } from 'typebox/value'
import { formatProblem, schemaProblems, type Problem } from '../config/problems.ts'
import type { ResolvedConfig } from '../config/types.ts'
import { PluginErrors } from './errors.ts'
import { ensureHookRegistry, type PluginHooks } from './hooks.ts'

// Symbol.for: a plugin built against another copy of this module is still recognised.
export const PLUGIN_MARK = Symbol.for('switchyard.plugin')
export const DEFAULT_REGISTER_TIMEOUT_MS = 10_000
const PLUGIN_NAME_PATTERN = /^[A-Za-z0-9@][A-Za-z0-9@/._-]{0,127}$/
const VERSION_PATTERN = /^[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.-]+)?$/

export interface PluginContext {
  config: ResolvedConfig
  /** child logger bound to the plugin's name */
  log: FastifyBaseLogger
  /** relative paths in the plugin's options are relative to this directory */
  configDir: string
  /** aborted when register() ran out of time; long set-up work should stop */
  signal: AbortSignal
}

export interface PluginDefinition<S extends TSchema> {
  name: string
  version: string
  /** TypeBox schema of the options; defaults in it are applied before register() */
  options: S
  /** names of plugins that must register first */
  dependencies?: string[]
  register (hooks: PluginHooks, options: Static<S>, ctx: PluginContext): void | Promise<void>
}

export interface PluginMeta {
  name: string
  version: string
  optionsSchema: TSchema
  dependencies: string[]
}

/** What Fastify passes the plugin: the loader fills it; direct app.register() callers must too. */
export interface PluginRegisterOptions {
  options?: unknown
  ctx: { config: ResolvedConfig, configDir: string, log?: FastifyBaseLogger }
  registerTimeoutMs?: number
  /** how problems are located in messages, e.g. plugins[2](metrics) */
  label?: string
}

export type SwitchyardPlugin = ((app: FastifyInstance, opts: PluginRegisterOptions) => Promise<void>) & {
  readonly meta: PluginMeta
  readonly [PLUGIN_MARK]: true
}

export function isSwitchyardPlugin (value: unknown): value is SwitchyardPlugin {
  return typeof value === 'function' && (value as unknown as Record<symbol, unknown>)[PLUGIN_MARK] === true
}

/** Options with the schema's defaults applied, or the problems, each located under `<label>.options`. */
export function validatePluginOptions (meta: PluginMeta, raw: unknown, label = meta.name): { value: unknown, problems: Problem[] } {
  const value = Value.Default(meta.optionsSchema, structuredClone(raw ?? {}))
  return { value, problems: schemaProblems(meta.optionsSchema, value, `${label}.options`) }
}

function assertDefinition (definition: PluginDefinition<TSchema>): void {
  const name = String(definition?.name)
  const fail = (reason: string): never => { throw PluginErrors.invalid(`definePlugin("${name}"): ${reason}`) }
  if (typeof definition?.name !== 'string' || !PLUGIN_NAME_PATTERN.test(definition.name)) fail('name must be 1-128 characters of letters, digits, @ / . _ -')
  if (typeof definition.version !== 'string' || !VERSION_PATTERN.test(definition.version)) fail('version must be a semver version like 1.0.0')
  if (definition.options === null || typeof definition.options !== 'object') fail('options must be a TypeBox schema')
  if (typeof definition.register !== 'function') fail('register must be a function')
  const dependencies = definition.dependencies ?? []
  if (!Array.isArray(dependencies) || dependencies.some(dep => typeof dep !== 'string' || dep === '')) fail('dependencies must be a list of plugin names')
  if (dependencies.includes(definition.name)) fail('a plugin cannot depend on itself')
}

function registerWithin (work: () => void | Promise<void>, ms: number, name: string, abort: AbortController): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      abort.abort()
      reject(PluginErrors.registerTimeout(`plugin "${name}" did not finish registering within ${ms} ms`, { details: { plugin: name, timeoutMs: ms } }))
    }, ms)
    // If Fastify's own pluginTimeout gave up first, this timer must not keep a failed process alive.
    timer.unref()
  })
  return Promise.race([Promise.resolve().then(work), timeout]).finally(() => clearTimeout(timer))
}

export function definePlugin<S extends TSchema> (definition: PluginDefinition<S>): SwitchyardPlugin {
  assertDefinition(definition as unknown as PluginDefinition<TSchema>)
  const meta: PluginMeta = Object.freeze({
    name: definition.name,
    version: definition.version,
    optionsSchema: definition.options,
    dependencies: [...(definition.dependencies ?? [])]
  })

  async function switchyardPlugin (app: FastifyInstance, opts: PluginRegisterOptions): Promise<void> {
    if (opts?.ctx === undefined) {
      throw PluginErrors.invalid(`plugin "${meta.name}" was registered without { ctx }; load it with loadPlugins() or pass { options, ctx }`)
    }
    const { value, problems } = validatePluginOptions(meta, opts.options, opts.label ?? meta.name)
    if (problems.length > 0) {
      throw PluginErrors.optionsInvalid(`plugin "${meta.name}" has invalid options: ${problems.map(formatProblem).join('; ')}`, { details: { problems: problems.map(formatProblem) } })
    }
    const registry = ensureHookRegistry(app)
    const abort = new AbortController()
    const ctx: PluginContext = {
      config: opts.ctx.config,
      configDir: opts.ctx.configDir,
      log: (opts.ctx.log ?? app.log).child({ plugin: meta.name }),
      signal: abort.signal
    }
    const timeoutMs = opts.registerTimeoutMs ?? DEFAULT_REGISTER_TIMEOUT_MS
    await registerWithin(() => definition.register(registry.forPlugin(meta.name, app), value as Static<S>, ctx), timeoutMs, meta.name, abort)
  }

  const wrapped = fp(switchyardPlugin, { name: meta.name, dependencies: meta.dependencies, fastify: '5.x' })
  Object.defineProperty(wrapped, 'meta', { value: meta, enumerable: true })
  Object.defineProperty(wrapped, PLUGIN_MARK, { value: true })
  return wrapped as SwitchyardPlugin
}
