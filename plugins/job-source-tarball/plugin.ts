// The job-source-tarball plugin: registers the JobSource for tarball_url and
// tarball_path definitions. Options win; what they leave out comes from the jobs
// section of the config (WORKER_JOB_TARBALL_*), then from the defaults below.
import { readFile } from 'node:fs/promises'
import { rootCertificates } from 'node:tls'
import { isIP } from 'node:net'
import { isAbsolute, resolve } from 'node:path'
import { definePlugin, parseByteSize, parseDuration, PluginErrors } from '@switchyard/core/plugin'
import { TarballSourceOptionsSchema } from './options.ts'
import { TarballJobSource } from './source.ts'
import { HostAllowlist } from './url-rules.ts'

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024
const DEFAULT_TIMEOUT_MS = 30_000

/** the settings of the config's jobs section this plugin reads (absent in a config without one) */
interface TarballJobSettings {
  tarballAllowlist: string[]
  tarballDir: string | null
  tarballMaxBytes: number
  tarballTimeoutMs: number
}

export default definePlugin({
  name: 'job-source-tarball',
  version: '0.1.0',
  options: TarballSourceOptionsSchema,
  async register (hooks, options, ctx) {
    const jobs: Partial<TarballJobSettings> = (ctx.config as { jobs?: Partial<TarballJobSettings> }).jobs ?? {}
    const fromConfigDir = (path: string) => isAbsolute(path) ? path : resolve(ctx.configDir, path)
    let ca: string[] | undefined
    if (options.caFile !== undefined) {
      const caFile = fromConfigDir(options.caFile)
      try {
        // Beside the system's roots: a private CA adds trust, it does not replace it.
        ca = [...rootCertificates, await readFile(caFile, 'utf8')]
      } catch (err) {
        throw PluginErrors.optionsInvalid(`plugin "job-source-tarball": caFile ${caFile} cannot be read: ${(err as Error).message}`, { details: { field: 'options.caFile' } })
      }
    }
    options.allowAddresses.forEach((address, i) => {
      if (isIP(address.replace(/^\[(.*)\]$/, '$1')) === 0) {
        throw PluginErrors.optionsInvalid(`plugin "job-source-tarball": options.allowAddresses[${i}] ${JSON.stringify(address)} is not an IP address`, { details: { field: `options.allowAddresses[${i}]` } })
      }
    })
    const source = new TarballJobSource({
      allowlist: new HostAllowlist(options.hostAllowlist ?? jobs.tarballAllowlist ?? []),
      allowPrivateAddresses: options.allowPrivateAddresses,
      allowAddresses: options.allowAddresses,
      dir: options.dir !== undefined ? fromConfigDir(options.dir) : (jobs.tarballDir ?? null),
      // The schema guarantees these parse; the fallbacks only satisfy the types.
      maxBytes: options.maxBytes !== undefined ? (parseByteSize(options.maxBytes) ?? DEFAULT_MAX_BYTES) : (jobs.tarballMaxBytes ?? DEFAULT_MAX_BYTES),
      timeoutMs: options.timeout !== undefined ? (parseDuration(options.timeout) ?? DEFAULT_TIMEOUT_MS) : (jobs.tarballTimeoutMs ?? DEFAULT_TIMEOUT_MS),
      maxRedirects: options.maxRedirects,
      maxEntries: options.maxEntries,
      maxDepth: options.maxDepth,
      maxUnpackedBytes: parseByteSize(options.maxUnpackedBytes) ?? 512 * 1024 * 1024,
      maxRatio: options.maxRatio,
      ...(ca === undefined ? {} : { ca })
    })
    if (options.allowPrivateAddresses) {
      ctx.log.warn('tarball sources may reach loopback, private and link-local addresses (allowPrivateAddresses): for development only')
    }
    hooks.registerJobSource(source)
  }
})
