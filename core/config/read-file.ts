// Reading a config file (YAML or JSON) into its raw settings, before any override,
// default or validation. Apart from load.ts so a reader that does not validate (the
// admin commands' connection settings, connection.ts) loads no schema library.
import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { ConfigError } from './errors.ts'
import { describeValue } from './paths.ts'

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

async function parseConfigText (file: string, text: string): Promise<unknown> {
  const ext = extname(file).toLowerCase()
  if (ext === '.json') {
    try {
      return JSON.parse(text)
    } catch (err) {
      throw ConfigError(`config file ${file}: invalid JSON (${firstLine((err as Error).message)})`, { cause: err })
    }
  }
  if (ext === '.yaml' || ext === '.yml') {
    // imported here: a JSON file, or no file, needs no YAML parser
    const { parse: parseYaml, YAMLParseError } = await import('yaml')
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

/** the settings of a config file, as written; a problem reading or parsing it throws a ConfigError */
export async function readRawConfig (file: string): Promise<Record<string, unknown>> {
  const parsed = await parseConfigText(file, await readConfigText(file))
  if (parsed === null || parsed === undefined) return {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw ConfigError(`config file ${file}: expected a mapping of settings at the top level, got ${describeValue(parsed)}`)
  }
  return parsed as Record<string, unknown>
}
