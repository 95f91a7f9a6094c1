// Writes config/schema.json from the TypeBox config schema, for editor completion
// and validation of config files (yaml-language-server, VS Code json.schemas).
// Run: node --import tsx core/scripts/gen-config-schema.ts
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { configFileJsonSchema } from '../config/schema.ts'

export const CONFIG_SCHEMA_PATH = fileURLToPath(new URL('../../config/schema.json', import.meta.url))

export function renderConfigJsonSchema (): string {
  return `${JSON.stringify(configFileJsonSchema(), null, 2)}\n`
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(CONFIG_SCHEMA_PATH, renderConfigJsonSchema())
  console.log(`wrote ${CONFIG_SCHEMA_PATH}`)
}
