import { resolve } from 'node:path'
import { loadConfig } from '../config/load.ts'
import { ensureDevCertificates } from '../transport/certs.ts'
import { emit } from './format.ts'
import type { CommandInput } from './spec.ts'
import { str } from './values.ts'
import { configFileOf } from './connection-flags.ts'

/** `switchyard certs [--dir d] [--force]`: development CA, server and client certificates. */
export async function runCerts (input: CommandInput): Promise<number> {
  const { values } = input
  const explicit = str(values, 'dir')
  const dir = explicit !== undefined
    ? resolve(explicit)
    : resolve((await loadConfig({ file: configFileOf(values), env: process.env })).config.dataDir, 'certs')
  const { paths, created } = await ensureDevCertificates(dir, { overwrite: values.force === true })
  emit(input, { dir, created, paths }, () => [
    `${created ? 'created' : 'kept existing'} development certificates in ${dir}`,
    ...Object.entries(paths).map(([name, path]) => `  ${name.padEnd(9)} ${path}`),
    ...(created ? [] : ['(pass --force to replace them)'])
  ].join('\n'))
  return 0
}
