// Reading a config: file (YAML or JSON) → environment overrides → defaults →
// validation → resolution. Every problem found is reported at once, one per line.
import { readFile } from 'node:fs/promises'
import { dirname, extname, resolve } from 'node:path'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { Value } from 'typebox/value'
import { ConfigSchema, type DefaultedConfig } from './schema.ts'
import { ConfigError, configProblemsError } from './errors.ts'
import { applyEnvOverrides, attributeToEnv } from './env.ts'
import { describeValue, schemaProblems } from './problems.ts'
import { crossFieldProblems, durationMinimumProblems, resolveConfig } from './resolve.ts'
import { effectiveFileConfig } from './effective.ts'
import type { LoadedConfig } from './types.ts'

export interface LoadConfigOptions {
  /** YAML (.yaml/.yml) or JSON (.json); absent: built-in defaults (the embedded setup) */
  file?: string
  /** defaults to process.env */
  env?: NodeJS.ProcessEnv
  /** base for a relative `file` and for relative paths in env values; defaults to process.cwd() */
  cwd?: string
}

// A config file is a few kilobytes; a huge one is a mistake (or a wrong path).
const MAX_CONFIG_BYTES = 1024 * 1024

function firstLine (text: string): string {
  return (text.split('\n')[0] ?? '').trim()
}

async function readConfigText (file: string): Promise<string> {
  let text: Buffer
  try {
    text = await readFile(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw ConfigError(`config file ${file}: not found`, { cause: err })
    if (code === 'EISDIR') throw ConfigError(`config file ${file}: is a directory, expected a .yaml, .yml or .json file`, { cause: err })
    throw ConfigError(`config file ${file}: cannot be read (${firstLine((err as Error).message)})`, { cause: err })
  }
  if (text.byteLength > MAX_CONFIG_BYTES) throw ConfigError(`config file ${file}: larger than ${MAX_CONFIG_BYTES} bytes`)
  return text.toString('utf8')
}

function parseConfigText (file: string, text: string): unknown {
  const ext = extname(file).toLowerCase()
  if (ext === '.json') {
    try {
      return JSON.parse(text)
    } catch (err) {
      throw ConfigError(`config file ${file}: invalid JSON (${firstLine((err as Error).message)})`, { cause: err })
    }
  }
  if (ext === '.yaml' || ext === '.yml') {
    try {
      // Duplicate keys are rejected (yaml's default), so a key cannot be silently overwritten.
      return parseYaml(text, { prettyErrors: true })
    } catch (err) {
      if (err instanceof YAMLParseError) {
        const at = err.linePos?.[0]
        const position = at === undefined ? '' : ` at line ${at.line}, column ${at.col}`
        const reason = firstLine(err.message).replace(/ at line \d+, column \d+:?$/, '')
        throw ConfigError(`config file ${file}: invalid YAML${position} (${reason})`, { cause: err })
      }
      throw ConfigError(`config file ${file}: invalid YAML (${firstLine((err as Error).message)})`, { cause: err })
    }
  }
  throw ConfigError(`config file ${file}: unsupported extension "${ext}" (use .yaml, .yml or .json)`)
}

async function readRawConfig (file: string): Promise<Record<string, unknown>> {
  const parsed = parseConfigText(file, await readConfigText(file))
  if (parsed === null || parsed === undefined) return {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw ConfigError(`config file ${file}: expected a mapping of settings at the top level, got ${describeValue(parsed)}`)
  }
  return parsed as Record<string, unknown>
}

export async function loadConfig (options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd()
  const env = options.env ?? process.env
  const file = options.file === undefined ? null : resolve(cwd, options.file)
  const configDir = file === null ? cwd : dirname(file)
  const raw = file === null ? {} : await readRawConfig(file)

  const fromEnv = applyEnvOverrides(raw, env, cwd)
  const withDefaults = Value.Default(ConfigSchema, raw)
  const schemaFound = schemaProblems(ConfigSchema, withDefaults)
  const problems = [...fromEnv.problems, ...attributeToEnv(schemaFound, fromEnv.origins)]
  if (schemaFound.length === 0) {
    const checked = withDefaults as DefaultedConfig
    problems.push(...attributeToEnv([...durationMinimumProblems(ConfigSchema, checked), ...crossFieldProblems(checked)], fromEnv.origins))
  }
  if (problems.length > 0) throw configProblemsError(file ?? 'built-in defaults with environment overrides', problems)

  const config = resolveConfig(withDefaults as DefaultedConfig, { configDir, cwd, fromFile: file !== null })
  return {
    config,
    effective: effectiveFileConfig(withDefaults as DefaultedConfig, config),
    source: { file, env: fromEnv.applied },
    configDir
  }
}
