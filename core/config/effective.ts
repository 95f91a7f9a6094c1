// The effective configuration in the file's own keys and units, so an operator reads
// what a process runs with in the words of the file they edit (and can paste it back
// as a file: it loads to the same resolved config, from any directory).
import type { TSchema } from 'typebox'
import { ConfigSchema, type DefaultedConfig } from './schema.ts'
import type { ResolvedConfig } from './types.ts'

/** Drops the keys whose value is null (absent in a file). */
function present (entries: Record<string, string | null>): Record<string, string> {
  return Object.fromEntries(Object.entries(entries).filter((entry): entry is [string, string] => entry[1] !== null))
}

/** Keys in the schema's order (a file's own order, then defaults, would differ file to file). */
function inSchemaOrder (schema: TSchema, value: unknown): unknown {
  const properties = (schema as { properties?: Record<string, TSchema> }).properties
  if (properties === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) return value
  const object = value as Record<string, unknown>
  const ordered: Record<string, unknown> = {}
  for (const [key, child] of Object.entries(properties)) if (key in object) ordered[key] = inSchemaOrder(child, object[key])
  for (const [key, child] of Object.entries(object)) if (!(key in ordered)) ordered[key] = child
  return ordered
}

/** `input` has passed the schema with defaults applied; `resolved` was resolved from it. */
export function effectiveFileConfig (input: DefaultedConfig, resolved: ResolvedConfig): Record<string, unknown> {
  return inSchemaOrder(ConfigSchema, withResolvedValues(input, resolved)) as Record<string, unknown>
}

function withResolvedValues (input: DefaultedConfig, resolved: ResolvedConfig): Record<string, unknown> {
  const { tls, audit } = resolved.admin
  const jobs = resolved.jobs
  return {
    ...input,
    dataDir: resolved.dataDir,
    plugins: resolved.plugins.map(spec => ({ name: spec.name, options: spec.options })),
    handlers: [...resolved.handlers],
    queues: Object.fromEntries(Object.entries(resolved.queues).map(([name, queue]) => [name, { ...queue }])),
    demo: { ...input.demo, enabled: resolved.demo.enabled },
    admin: {
      ...input.admin,
      tls: present({ cert: tls.cert, key: tls.key, ca: tls.ca, clientCert: tls.clientCert, clientKey: tls.clientKey }),
      audit: { ...input.admin.audit, ...present({ archiveDir: audit.archiveDir }) }
    },
    jobs: {
      ...input.jobs,
      workdir: jobs.workdir,
      ...present({
        dockerSocket: jobs.dockerSocket,
        tarballDir: jobs.tarballDir,
        adminTarballDir: input.jobs.adminTarballDir === undefined ? null : jobs.adminTarballDir,
        eventDir: jobs.eventDir
      })
    }
  }
}
