import { checkConfig, formatConfigCheck } from '../config/check.ts'
import { configFileOf } from './connection-flags.ts'

/**
 * `switchyard config check [file]`: the file given, else SWITCHYARD_CONFIG, else the
 * built-in defaults. Exit 0 and the effective config when valid; a problem is an
 * error (exit 1) naming the key or module.
 */
export async function runConfigCheck (file: string | undefined, options: { json?: boolean } = {}): Promise<number> {
  const result = await checkConfig(file ?? configFileOf({}))
  process.stdout.write(options.json === true ? JSON.stringify({ valid: true, ...result }, null, 2) + '\n' : formatConfigCheck(result))
  return 0
}
