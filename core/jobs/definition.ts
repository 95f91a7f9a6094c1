import { posix } from 'node:path'
import { Errors } from '../errors.ts'
import { parseByteSize } from '../config/units.ts'
import type { JobDefinition, JobResources, JobSourceKind } from './types.ts'

// An UpsertJob body becomes a JobDefinition here, or is refused with VALIDATION_FAILED
// naming the first bad field. The contract's schema already checked the shapes (types,
// sizes); this adds the rules that relate fields (a source kind needs its own fields and
// no others) and the ones that keep a definition from reaching outside its sandbox
// (relative paths without '..', https tarball URLs, no host network). The same function
// serves the gateway, gRPC and `switchyard jobs apply`, so a file and a call are held
// to the same rules.

export const JOB_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/
const QUEUE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/
const NETWORK_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/
const SHA256_PATTERN = /^[0-9a-fA-F]{64}$/
// A git ref name per git-check-ref-format, minus what a tag never needs (no leading '-').
const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._/+-]{0,199}$/
const SCP_LIKE_REPO = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/][^\s]*$/

export const JOB_SOURCE_KINDS: readonly JobSourceKind[] = ['git_tag', 'tarball_url', 'tarball_path']
export const JOB_LIMITS = {
  descriptionMax: 1000,
  repoMax: 512,
  urlMax: 2048,
  pathMax: 1024,
  commandItemsMax: 64,
  envItemsMax: 128,
  argMax: 4096,
  argsTotalMax: 64 * 1024,
  retriesMax: 100,
  timeoutSecondsMax: 86_400,
  memoryMinBytes: 6 * 1024 * 1024,
  memoryMaxBytes: 1024 ** 4,
  cpusMax: 64,
  pidsMax: 32_768
} as const

/** what the `jobs.defaults` config section gives fields a definition leaves out */
export interface JobDefinitionDefaults {
  queue: string
  retries: number
  timeoutSeconds: number
  memoryBytes: number
  cpus: number
  pids: number
}

/** the fields of an UpsertJob body (the contract's UpsertJobRequest) */
export interface JobDefinitionInput {
  name?: unknown
  description?: unknown
  source?: unknown
  repo?: unknown
  tag?: unknown
  tarballUrl?: unknown
  tarballPath?: unknown
  tarballSha256?: unknown
  path?: unknown
  dockerfile?: unknown
  command?: unknown
  env?: unknown
  queue?: unknown
  retries?: unknown
  timeoutSeconds?: unknown
  resources?: unknown
  network?: unknown
}

/** the fields only one source kind has */
const SOURCE_FIELDS: Record<JobSourceKind, { required: Array<keyof JobDefinitionInput>, allowed: Array<keyof JobDefinitionInput> }> = {
  git_tag: { required: ['repo', 'tag'], allowed: ['repo', 'tag'] },
  tarball_url: { required: ['tarballUrl'], allowed: ['tarballUrl', 'tarballSha256'] },
  tarball_path: { required: ['tarballPath'], allowed: ['tarballPath', 'tarballSha256'] }
}
const ALL_SOURCE_FIELDS: Array<keyof JobDefinitionInput> = ['repo', 'tag', 'tarballUrl', 'tarballPath', 'tarballSha256']

function refuse (field: string, message: string): never {
  throw Errors.validation(`${field}: ${message}`, { details: { field } })
}

function hasControlCharacters (text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(text)
}

function text (field: string, value: unknown, max: number, options: { allowEmpty?: boolean } = {}): string {
  if (typeof value !== 'string') refuse(field, 'must be a string')
  if (value === '' && options.allowEmpty !== true) refuse(field, 'must not be empty')
  if (value.length > max) refuse(field, `must be at most ${max} characters`)
  return value
}

function integer (field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) refuse(field, `must be an integer from ${min} to ${max}`)
  return value
}

/**
 * A path inside the fetched source: relative, no '..' segment, no NUL or control
 * characters, normalized ('./a//b' → 'a/b'; '' and './' → '.').
 */
export function relativeSourcePath (field: string, value: unknown, max = JOB_LIMITS.pathMax): string {
  const raw = text(field, value, max)
  if (hasControlCharacters(raw)) refuse(field, 'must not contain control characters')
  if (raw.includes('\\')) refuse(field, "must use '/' as separator")
  if (posix.isAbsolute(raw)) refuse(field, 'must be relative to the source (no leading /)')
  if (raw.split('/').includes('..')) refuse(field, "must not contain a '..' segment")
  const normalized = posix.normalize(raw).replace(/\/+$/, '')
  return normalized === '' ? '.' : normalized
}

function repository (value: unknown): string {
  const repo = text('repo', value, JOB_LIMITS.repoMax)
  if (hasControlCharacters(repo) || /\s/.test(repo)) refuse('repo', 'must not contain spaces or control characters')
  if (repo.startsWith('-')) refuse('repo', "must not start with '-'")
  if (SCP_LIKE_REPO.test(repo)) return repo
  let url: URL
  try {
    url = new URL(repo)
  } catch {
    return refuse('repo', 'must be an https:// or ssh:// URL, or user@host:path')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'ssh:') refuse('repo', `protocol ${url.protocol} is not allowed; use https:// or ssh://`)
  if (url.protocol === 'https:' && url.password !== '') refuse('repo', 'must not carry a password (use a credential helper on the workers)')
  if (url.hostname === '') refuse('repo', 'must name a host')
  return repo
}

function gitTag (value: unknown): string {
  const tag = text('tag', value, 200)
  if (!TAG_PATTERN.test(tag)) refuse('tag', "must be a tag name: letters, digits, '.', '_', '/', '+', '-', not starting with '-' or '.'")
  if (tag.startsWith('refs/')) refuse('tag', 'must be the tag name alone (it is fetched as refs/tags/<tag>)')
  if (tag.includes('..') || tag.includes('//') || tag.endsWith('/') || tag.endsWith('.') || tag.endsWith('.lock') || tag.includes('/.')) {
    refuse('tag', 'is not a valid git tag name')
  }
  return tag
}

function tarballUrl (value: unknown): string {
  const raw = text('tarballUrl', value, JOB_LIMITS.urlMax)
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return refuse('tarballUrl', 'must be an absolute https:// URL')
  }
  if (url.protocol !== 'https:') refuse('tarballUrl', `must be https:// (got ${url.protocol})`)
  if (url.username !== '' || url.password !== '') refuse('tarballUrl', 'must not carry credentials')
  if (url.hostname === '') refuse('tarballUrl', 'must name a host')
  return url.toString()
}

function tarballPath (value: unknown): string {
  const raw = text('tarballPath', value, JOB_LIMITS.pathMax)
  if (hasControlCharacters(raw)) refuse('tarballPath', 'must not contain control characters')
  if (raw.split(/[\\/]/).includes('..')) refuse('tarballPath', "must not contain a '..' segment (it must resolve inside jobs.tarballDir)")
  return raw
}

function stringList (field: string, value: unknown, maxItems: number): string[] {
  if (!Array.isArray(value)) refuse(field, 'must be an array of strings')
  if (value.length > maxItems) refuse(field, `must have at most ${maxItems} entries`)
  let total = 0
  return value.map((item, index) => {
    const at = `${field}[${index}]`
    const entry = text(at, item, JOB_LIMITS.argMax, { allowEmpty: true })
    if (entry.includes('\u0000')) refuse(at, 'must not contain NUL')
    total += entry.length
    if (total > JOB_LIMITS.argsTotalMax) refuse(field, `must total at most ${JOB_LIMITS.argsTotalMax} characters`)
    return entry
  })
}

function envList (value: unknown): string[] {
  const entries = stringList('env', value, JOB_LIMITS.envItemsMax)
  const seen = new Set<string>()
  entries.forEach((entry, index) => {
    const at = `env[${index}]`
    const eq = entry.indexOf('=')
    if (eq <= 0) refuse(at, 'must be NAME=value')
    const name = entry.slice(0, eq)
    if (!ENV_NAME_PATTERN.test(name)) refuse(at, `variable name ${JSON.stringify(name)} must match [A-Za-z_][A-Za-z0-9_]*`)
    if (seen.has(name)) refuse(at, `${name} is set twice`)
    seen.add(name)
  })
  return entries
}

function memoryBytes (field: string, value: unknown): number {
  const bytes = typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : parseByteSize(value)
  if (bytes === null) refuse(field, 'must be a number of bytes or a size such as 256mb or 1gb')
  if (bytes < JOB_LIMITS.memoryMinBytes || bytes > JOB_LIMITS.memoryMaxBytes) refuse(field, `must be from 6mb to 1024gb, got ${String(value)}`)
  return bytes
}

function resources (value: unknown, defaults: JobDefinitionDefaults): JobResources {
  if (value === undefined) return { memoryBytes: defaults.memoryBytes, cpus: defaults.cpus, pids: defaults.pids }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) refuse('resources', 'must be an object')
  const input = value as Record<string, unknown>
  for (const key of Object.keys(input)) {
    if (!['memory', 'memoryBytes', 'cpus', 'pids'].includes(key)) refuse(`resources.${key}`, 'is not a field of resources (memory, memoryBytes, cpus, pids)')
  }
  if (input.memory !== undefined && input.memoryBytes !== undefined) refuse('resources.memory', 'give memory or memoryBytes, not both')
  const memory = input.memory !== undefined
    ? memoryBytes('resources.memory', input.memory)
    : input.memoryBytes !== undefined ? memoryBytes('resources.memoryBytes', input.memoryBytes) : defaults.memoryBytes
  let cpus = defaults.cpus
  if (input.cpus !== undefined) {
    if (typeof input.cpus !== 'number' || !Number.isFinite(input.cpus) || input.cpus <= 0 || input.cpus > JOB_LIMITS.cpusMax) refuse('resources.cpus', `must be a number above 0 and at most ${JOB_LIMITS.cpusMax}`)
    cpus = input.cpus
  }
  const pids = input.pids === undefined ? defaults.pids : integer('resources.pids', input.pids, 1, JOB_LIMITS.pidsMax)
  return { memoryBytes: memory, cpus, pids }
}

function network (value: unknown): string {
  const name = text('network', value, 128)
  if (!NETWORK_PATTERN.test(name)) refuse('network', "must be a network name: letters, digits, '_', '.', '-'")
  if (name === 'host') refuse('network', 'host networking is not allowed for jobs; name a container network or none')
  return name
}

/** names the gateway routes under /admin/v1/jobs/ take for themselves */
export const RESERVED_JOB_NAMES: readonly string[] = ['runs', 'events']

/** the job name of a request field: 1-64 of a-z, 0-9, '-', '_', '.', starting with a letter or digit */
export function assertJobName (value: unknown, field = 'name'): string {
  if (typeof value !== 'string' || !JOB_NAME_PATTERN.test(value)) {
    refuse(field, "must be 1-64 characters of a-z, 0-9, '-', '_' or '.', starting with a letter or digit")
  }
  if (RESERVED_JOB_NAMES.includes(value)) refuse(field, `${value} is reserved (GET /admin/v1/jobs/${value} is another route)`)
  return value
}

/**
 * The definition an UpsertJob body describes, with defaults filled in. `existing`
 * keeps the creation time of a definition that is being replaced; `now` stamps it.
 */
export function buildJobDefinition (input: JobDefinitionInput, defaults: JobDefinitionDefaults, now: number, existing?: JobDefinition | null): JobDefinition {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) refuse('body', 'must be an object')
  const name = assertJobName(input.name)
  const description = input.description === undefined ? '' : text('description', input.description, JOB_LIMITS.descriptionMax, { allowEmpty: true })
  if (typeof input.source !== 'string' || !JOB_SOURCE_KINDS.includes(input.source as JobSourceKind)) refuse('source', `must be one of ${JOB_SOURCE_KINDS.join(', ')}`)
  const source = input.source as JobSourceKind
  const fields = SOURCE_FIELDS[source]
  for (const field of ALL_SOURCE_FIELDS) {
    const given = input[field] !== undefined && input[field] !== ''
    if (fields.required.includes(field) && !given) refuse(field, `is required for source ${source}`)
    if (!fields.allowed.includes(field) && given) refuse(field, `is not used by source ${source}; remove it`)
  }
  const definition: JobDefinition = {
    name,
    description,
    source,
    path: input.path === undefined ? '.' : relativeSourcePath('path', input.path),
    dockerfile: input.dockerfile === undefined ? 'Dockerfile' : relativeSourcePath('dockerfile', input.dockerfile),
    command: input.command === undefined ? [] : stringList('command', input.command, JOB_LIMITS.commandItemsMax),
    env: input.env === undefined ? [] : envList(input.env),
    queue: input.queue === undefined ? defaults.queue : queueName(input.queue),
    retries: input.retries === undefined ? defaults.retries : integer('retries', input.retries, 0, JOB_LIMITS.retriesMax),
    timeoutSeconds: input.timeoutSeconds === undefined ? defaults.timeoutSeconds : integer('timeoutSeconds', input.timeoutSeconds, 1, JOB_LIMITS.timeoutSecondsMax),
    resources: resources(input.resources, defaults),
    createdAt: existing?.createdAt ?? now,
    updatedAt: now
  }
  if (source === 'git_tag') {
    definition.repo = repository(input.repo)
    definition.tag = gitTag(input.tag)
  } else if (source === 'tarball_url') {
    definition.tarballUrl = tarballUrl(input.tarballUrl)
  } else {
    definition.tarballPath = tarballPath(input.tarballPath)
  }
  if (source !== 'git_tag' && input.tarballSha256 !== undefined && input.tarballSha256 !== '') {
    if (typeof input.tarballSha256 !== 'string' || !SHA256_PATTERN.test(input.tarballSha256)) refuse('tarballSha256', 'must be 64 hex characters (a SHA-256)')
    definition.tarballSha256 = input.tarballSha256.toLowerCase()
  }
  if (input.network !== undefined && input.network !== '') definition.network = network(input.network)
  return definition
}

function queueName (value: unknown): string {
  if (typeof value !== 'string' || !QUEUE_NAME_PATTERN.test(value)) {
    refuse('queue', "must be 1-128 characters of letters, digits, '_', '.', ':' or '-', starting with a letter or digit")
  }
  return value
}
