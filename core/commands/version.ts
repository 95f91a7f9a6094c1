// The version of the core package, read from its package.json: the nearest one up
// from this file, so it works from the sources and from a build alike.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const PACKAGE_NAME = '@switchyard/core'

export function coreVersion (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 4; i++) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string, version?: string }
      if (manifest.name === PACKAGE_NAME && typeof manifest.version === 'string') return manifest.version
    } catch {}
    dir = dirname(dir)
  }
  throw new Error(`no ${PACKAGE_NAME} package.json above ${fileURLToPath(import.meta.url)}`)
}
