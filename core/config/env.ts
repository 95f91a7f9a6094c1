// Environment overrides (SPEC §5 names). They are applied to the raw config before
// validation, so an env value goes through the same checks as a file value; every
// problem caused by one names the variable it came from.
import { isAbsolute, resolve } from 'node:path'
import { formatPath, type Problem } from './paths.ts'

type EnvKind = 'string' | 'path' | 'integer' | 'duration' | 'byteSize' | 'boolean' | 'queueWeights' | 'nameList' | 'cronPresets'

interface EnvOverride {
  name: string
  path: readonly string[]
  kind: EnvKind
}

export const ENV_OVERRIDES: readonly EnvOverride[] = [
  { name: 'SWITCHYARD_DATA_DIR', path: ['dataDir'], kind: 'path' },
  { name: 'SWITCHYARD_LOG_LEVEL', path: ['log', 'level'], kind: 'string' },
  { name: 'SWITCHYARD_LOG_FORMAT', path: ['log', 'format'], kind: 'string' },
  { name: 'WORKER_ADMIN_GRPC_ADDR', path: ['admin', 'grpcAddr'], kind: 'string' },
  { name: 'WORKER_ADMIN_GRPC_TARGET', path: ['admin', 'grpcTarget'], kind: 'string' },
  { name: 'WORKER_ADMIN_HTTP_ADDR', path: ['admin', 'httpAddr'], kind: 'string' },
  { name: 'WORKER_ADMIN_TLS_CERT', path: ['admin', 'tls', 'cert'], kind: 'path' },
  { name: 'WORKER_ADMIN_TLS_KEY', path: ['admin', 'tls', 'key'], kind: 'path' },
  { name: 'WORKER_ADMIN_TLS_CA', path: ['admin', 'tls', 'ca'], kind: 'path' },
  { name: 'WORKER_ADMIN_TLS_CLIENT_CERT', path: ['admin', 'tls', 'clientCert'], kind: 'path' },
  { name: 'WORKER_ADMIN_TLS_CLIENT_KEY', path: ['admin', 'tls', 'clientKey'], kind: 'path' },
  { name: 'WORKER_ADMIN_AUDIT_EVENT_LIMIT', path: ['admin', 'audit', 'eventLimit'], kind: 'integer' },
  { name: 'WORKER_ADMIN_AUDIT_RETENTION', path: ['admin', 'audit', 'retention'], kind: 'duration' },
  { name: 'WORKER_ADMIN_AUDIT_ARCHIVE_DIR', path: ['admin', 'audit', 'archiveDir'], kind: 'path' },
  { name: 'WORKER_ADMIN_AUDIT_ARCHIVE_INTERVAL', path: ['admin', 'audit', 'archiveInterval'], kind: 'duration' },
  { name: 'WORKER_ADMIN_AUDIT_EXPORT_LIMIT_MAX', path: ['admin', 'audit', 'exportLimitMax'], kind: 'integer' },
  { name: 'WORKER_ADMIN_DEFAULT_QUEUE', path: ['defaultQueue'], kind: 'string' },
  { name: 'WORKER_ADMIN_QUEUE_WEIGHTS', path: ['queues'], kind: 'queueWeights' },
  { name: 'WORKER_ADMIN_REPLAY_LIMIT_MAX', path: ['admin', 'guardrails', 'replayLimitMax'], kind: 'integer' },
  { name: 'WORKER_ADMIN_REPLAY_IDS_MAX', path: ['admin', 'guardrails', 'replayIdsMax'], kind: 'integer' },
  { name: 'WORKER_ADMIN_PURGE_LIMIT_MAX', path: ['admin', 'guardrails', 'purgeLimitMax'], kind: 'integer' },
  { name: 'WORKER_ADMIN_SCHEDULE_RUN_MAX', path: ['admin', 'guardrails', 'scheduleRunMax'], kind: 'integer' },
  { name: 'WORKER_ADMIN_SCHEDULE_RUN_WINDOW', path: ['admin', 'guardrails', 'scheduleRunWindow'], kind: 'duration' },
  { name: 'WORKER_ADMIN_BULK_MAX', path: ['admin', 'guardrails', 'bulkMax'], kind: 'integer' },
  { name: 'WORKER_ADMIN_REQUIRE_APPROVAL', path: ['admin', 'requireApproval'], kind: 'boolean' },
  { name: 'WORKER_ADMIN_APPROVAL_TOKEN', path: ['admin', 'approvalToken'], kind: 'string' },
  { name: 'WORKER_DURABLE_CRON_HANDLERS', path: ['scheduler', 'durableHandlers'], kind: 'nameList' },
  { name: 'WORKER_CRON_HANDLERS', path: ['scheduler', 'handlers'], kind: 'nameList' },
  { name: 'WORKER_DURABLE_CRON_PRESETS', path: ['scheduler', 'durablePresets'], kind: 'cronPresets' },
  { name: 'WORKER_CRON_PRESETS', path: ['scheduler', 'presets'], kind: 'cronPresets' },
  { name: 'SWITCHYARD_RETENTION_SUCCEEDED', path: ['retention', 'succeeded'], kind: 'duration' },
  { name: 'SWITCHYARD_RETENTION_CANCELED', path: ['retention', 'canceled'], kind: 'duration' },
  { name: 'SWITCHYARD_RETENTION_DEAD', path: ['retention', 'dead'], kind: 'duration' },
  { name: 'SWITCHYARD_CONSOLE_ADDR', path: ['console', 'addr'], kind: 'string' },
  { name: 'WORKER_JOB_REPO_ALLOWLIST', path: ['jobs', 'repoAllowlist'], kind: 'nameList' },
  { name: 'WORKER_JOB_GIT_BIN', path: ['jobs', 'gitBin'], kind: 'string' },
  { name: 'WORKER_JOB_DOCKER_SOCKET', path: ['jobs', 'dockerSocket'], kind: 'path' },
  { name: 'WORKER_JOB_DOCKER_BIN', path: ['jobs', 'dockerBin'], kind: 'string' },
  { name: 'WORKER_JOB_NETWORK', path: ['jobs', 'network'], kind: 'string' },
  { name: 'WORKER_JOB_WORKDIR', path: ['jobs', 'workdir'], kind: 'path' },
  { name: 'WORKER_JOB_OUTPUT_BYTES', path: ['jobs', 'outputBytes'], kind: 'byteSize' },
  { name: 'WORKER_JOB_TARBALL_ALLOWLIST', path: ['jobs', 'tarballAllowlist'], kind: 'nameList' },
  { name: 'WORKER_JOB_TARBALL_DIR', path: ['jobs', 'tarballDir'], kind: 'path' },
  { name: 'WORKER_JOB_TARBALL_MAX_BYTES', path: ['jobs', 'tarballMaxBytes'], kind: 'byteSize' },
  { name: 'WORKER_JOB_TARBALL_TIMEOUT', path: ['jobs', 'tarballTimeout'], kind: 'duration' },
  { name: 'WORKER_ADMIN_JOB_TARBALL_DIR', path: ['jobs', 'adminTarballDir'], kind: 'path' },
  { name: 'WORKER_JOB_EVENT_DIR', path: ['jobs', 'eventDir'], kind: 'path' },
  { name: 'WORKER_JOB_EVENT_MAX_ENTRIES', path: ['jobs', 'eventMaxEntries'], kind: 'integer' },
  { name: 'WORKER_JOB_EVENT_CACHE_TTL', path: ['jobs', 'eventCacheTtl'], kind: 'duration' }
]

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on'])
const FALSE_WORDS = new Set(['false', '0', 'no', 'off'])
const MAX_QUEUE_WEIGHT_ENTRIES = 1000

export interface EnvApplied {
  /** variable names applied, in table order */
  applied: string[]
  /** formatted config path → the variable that set it, so later problems can name it */
  origins: Map<string, string>
  /** values that could not even be read (not an integer, not a boolean, ...) */
  problems: Problem[]
}

type Parsed = { ok: true, value: unknown } | { ok: false, reason: string }

const MAX_LIST_ENTRIES = 1000

/**
 * `name=spec,name=spec`. Cron specs may contain commas themselves (`0 0,30 * * *`), so
 * a comma only starts a new entry when a `name=` follows it.
 */
export function parseCronPresets (raw: string): { ok: true, value: Record<string, string> } | { ok: false, reason: string } {
  const entries = raw.split(/,(?=\s*[A-Za-z0-9][A-Za-z0-9_.:-]*\s*=)/).map(entry => entry.trim()).filter(entry => entry !== '')
  if (entries.length > MAX_LIST_ENTRIES) return { ok: false, reason: `at most ${MAX_LIST_ENTRIES} presets` }
  const presets: Record<string, string> = {}
  for (const entry of entries) {
    const match = /^([A-Za-z0-9][A-Za-z0-9_.:-]*)\s*=\s*(\S.*)$/.exec(entry)
    if (match === null) return { ok: false, reason: `expected name=cron spec pairs separated by commas (e.g. nightly_report=0 2 * * *,cleanup=*/15 * * * *), got ${JSON.stringify(entry)}` }
    presets[match[1] as string] = (match[2] as string).trim()
  }
  return { ok: true, value: presets }
}

function parseScalar (kind: Exclude<EnvKind, 'queueWeights'>, raw: string, cwd: string): Parsed {
  switch (kind) {
    case 'nameList': {
      const names = raw.split(',').map(name => name.trim()).filter(name => name !== '')
      return names.length > MAX_LIST_ENTRIES ? { ok: false, reason: `at most ${MAX_LIST_ENTRIES} names` } : { ok: true, value: names }
    }
    case 'cronPresets':
      return parseCronPresets(raw)
    case 'string':
      return { ok: true, value: raw }
    case 'path':
      return { ok: true, value: isAbsolute(raw) ? raw : resolve(cwd, raw) }
    case 'integer':
      return /^-?[0-9]+$/.test(raw) ? { ok: true, value: Number(raw) } : { ok: false, reason: `expected an integer, got ${JSON.stringify(raw)}` }
    case 'duration':
      // Bare digits mean milliseconds, as in the file; anything else is checked by the schema.
      return { ok: true, value: /^[0-9]+$/.test(raw) ? Number(raw) : raw }
    case 'byteSize':
      // Bare digits mean bytes, as in the file; anything else ("64mb") is checked by the schema.
      return { ok: true, value: /^[0-9]+$/.test(raw) ? Number(raw) : raw }
    case 'boolean': {
      const word = raw.toLowerCase()
      if (TRUE_WORDS.has(word)) return { ok: true, value: true }
      if (FALSE_WORDS.has(word)) return { ok: true, value: false }
      return { ok: false, reason: `expected true or false, got ${JSON.stringify(raw)}` }
    }
  }
}

function parseQueueWeights (raw: string): { ok: true, value: Map<string, unknown> } | { ok: false, reason: string } {
  const entries = raw.split(',').map(entry => entry.trim()).filter(entry => entry !== '')
  if (entries.length > MAX_QUEUE_WEIGHT_ENTRIES) return { ok: false, reason: `at most ${MAX_QUEUE_WEIGHT_ENTRIES} queues` }
  const weights = new Map<string, unknown>()
  for (const entry of entries) {
    const match = /^([^=\s]+)\s*=\s*(-?[0-9]+)$/.exec(entry)
    if (match === null) return { ok: false, reason: `expected name=weight pairs separated by commas (e.g. critical=5,default=1), got ${JSON.stringify(entry)}` }
    weights.set(match[1] as string, Number(match[2]))
  }
  return { ok: true, value: weights }
}

/** The object at `path`, created when missing; null when the file put something else there (the schema reports that). */
function objectAt (root: Record<string, unknown>, path: readonly string[]): Record<string, unknown> | null {
  let node = root
  for (const key of path) {
    if (node[key] === undefined) node[key] = {}
    const next = node[key]
    if (next === null || typeof next !== 'object' || Array.isArray(next)) return null
    node = next as Record<string, unknown>
  }
  return node
}

/** Applies every set (non-empty) override to `raw` in place. */
export function applyEnvOverrides (raw: Record<string, unknown>, env: NodeJS.ProcessEnv, cwd: string): EnvApplied {
  const result: EnvApplied = { applied: [], origins: new Map(), problems: [] }
  for (const override of ENV_OVERRIDES) {
    const text = env[override.name]
    if (text === undefined || text.trim() === '') continue
    const value = text.trim()
    const where = `${formatPath(override.path)} (from ${override.name})`
    if (override.kind === 'queueWeights') {
      const parsed = parseQueueWeights(value)
      if (!parsed.ok) { result.problems.push({ path: where, reason: parsed.reason }); continue }
      const queues = objectAt(raw, override.path)
      if (queues === null) continue
      for (const [queue, weight] of parsed.value) {
        const current = queues[queue] ?? {}
        if (current === null || typeof current !== 'object' || Array.isArray(current)) continue
        queues[queue] = { ...current, weight }
        result.origins.set(formatPath([...override.path, queue]), override.name)
        result.origins.set(formatPath([...override.path, queue, 'weight']), override.name)
      }
    } else {
      const parsed = parseScalar(override.kind, value, cwd)
      if (!parsed.ok) { result.problems.push({ path: where, reason: parsed.reason }); continue }
      const parent = objectAt(raw, override.path.slice(0, -1))
      if (parent === null) continue
      parent[override.path.at(-1) as string] = parsed.value
      result.origins.set(formatPath(override.path), override.name)
    }
    result.applied.push(override.name)
  }
  return result
}

/** Adds "(from VAR)" to problems whose value came from the environment. */
export function attributeToEnv (problems: readonly Problem[], origins: ReadonlyMap<string, string>): Problem[] {
  return problems.map(problem => {
    const name = origins.get(problem.path)
    return name === undefined ? problem : { path: `${problem.path} (from ${name})`, reason: problem.reason }
  })
}
