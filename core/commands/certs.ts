import { resolve } from 'node:path'
import { loadConfig } from '../config/load.ts'
import { ensureDevCertificates } from '../transport/certs.ts'

/** `switchyard certs [--dir d] [--force]`: development CA, server and client certificates. */
export async function runCerts (values: Record<string, string | boolean | undefined>): Promise<number> {
  const dir = typeof values.dir === 'string'
    ? resolve(values.dir)
    : resolve((await loadConfig({ file: typeof values.config === 'string' ? values.config : undefined, env: process.env })).config.dataDir, 'certs')
  const { paths, created } = await ensureDevCertificates(dir, { overwrite: values.force === true })
  process.stdout.write(`${created ? 'created' : 'kept existing'} development certificates in ${dir}\n`)
  for (const [name, path] of Object.entries(paths)) process.stdout.write(`  ${name.padEnd(9)} ${path}\n`)
  if (!created) process.stdout.write('(pass --force to replace them)\n')
  return 0
}
