import { Type, type Static } from 'typebox'
import { BYTE_SIZE_PATTERN, DURATION_PATTERN } from '@switchyard/core/plugin'

function ByteSize (description: string, fallback?: string) {
  const schema = Type.Union([Type.String({ pattern: BYTE_SIZE_PATTERN }), Type.Integer({ minimum: 1 })], {
    description: `${description} (e.g. 64mb, or bytes)`,
    ...(fallback === undefined ? {} : { default: fallback })
  })
  return fallback === undefined ? Type.Optional(schema) : schema
}

export const TarballSourceOptionsSchema = Type.Object({
  hostAllowlist: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
    maxItems: 1000,
    description: 'Hosts tarball URLs (and every redirect) may name: exact hostnames or IP literals, "*.example.com" for subdomains, "*" for any host. Empty: no tarball_url source is fetched. Default: jobs.tarballAllowlist (WORKER_JOB_TARBALL_ALLOWLIST)'
  })),
  dir: Type.Optional(Type.String({
    minLength: 1,
    description: 'Directory tarball_path sources must resolve inside (after symlinks); relative to the config file. Absent: tarball_path sources are refused. Default: jobs.tarballDir (WORKER_JOB_TARBALL_DIR)'
  })),
  maxBytes: ByteSize('Largest archive fetched or copied, enforced while streaming. Default: jobs.tarballMaxBytes (WORKER_JOB_TARBALL_MAX_BYTES, 64mb)'),
  timeout: Type.Optional(Type.Union([Type.String({ pattern: DURATION_PATTERN }), Type.Integer({ minimum: 1 })], {
    description: 'Longest a download may take, redirects included (e.g. 30s, or milliseconds). Default: jobs.tarballTimeout (WORKER_JOB_TARBALL_TIMEOUT, 30s)'
  })),
  maxRedirects: Type.Integer({ minimum: 0, maximum: 20, default: 5, description: 'Redirects followed; each one is checked like the first URL' }),
  allowPrivateAddresses: Type.Boolean({
    default: false,
    description: 'Development only: let tarball hosts resolve to loopback, private, link-local (metadata), CGNAT and other non-public addresses'
  }),
  allowAddresses: Type.Array(Type.String({ minLength: 2, maxLength: 64 }), {
    default: [],
    maxItems: 100,
    description: 'Exact non-public IP addresses tarball hosts may still resolve to (an internal mirror), without allowing private addresses in general'
  }),
  caFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of CA certificates trusted beside the system ones (a private CA); relative to the config file' })),
  maxEntries: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000, description: 'Files and directories an archive may hold' }),
  maxDepth: Type.Integer({ minimum: 1, maximum: 256, default: 32, description: 'Path segments an archive entry may have' }),
  maxUnpackedBytes: ByteSize('Sum of the file sizes an archive may unpack to', '512mb'),
  maxRatio: Type.Number({ minimum: 1, maximum: 10_000, default: 100, description: 'Unpacked bytes per packed byte a gzip archive may reach (archives under 1 MiB unpacked are not judged)' })
}, { additionalProperties: false })

export type TarballSourceOptionsInput = Static<typeof TarballSourceOptionsSchema>
