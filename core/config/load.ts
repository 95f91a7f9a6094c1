// Reading a config: file (YAML or JSON) → environment overrides → defaults →
// validation → resolution. Every problem found is reported at once, one per line.
import { dirname, resolve } from 'node:path'
import { Value } from 'typebox/value'
import { ConfigSchema, type DefaultedConfig } from './schema.ts'
import { configProblemsError } from './errors.ts'
import { applyEnvOverrides, attributeToEnv } from './env.ts'
import { schemaProblems } from './problems.ts'
import { readRawConfig } from './read-file.ts'
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
