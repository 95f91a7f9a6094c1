// The configuration as code uses it: every default filled, durations in
// milliseconds, byte sizes in bytes, paths absolute, "absent" spelled null.

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
/** auto: pretty on a terminal, json elsewhere */
export type LogFormat = 'auto' | 'pretty' | 'json'
export type AdminRole = 'viewer' | 'operator' | 'admin'

export interface PluginSpec {
  /** built-in name, npm package name, or an absolute path (relative paths are resolved against the config dir) */
  name: string
  options: Record<string, unknown>
}

export interface ResolvedRetry {
  baseDelayMs: number
  maxDelayMs: number
  factor: number
  jitter: number
}

export interface ResolvedWorker {
  enabled: boolean
  /** null: every known queue */
  queues: string[] | null
  concurrency: number
  batchSize: number
  leaseTimeoutMs: number
  leaseRenewIntervalMs: number
  pollIntervalMs: number
  recoveryIntervalMs: number
  heartbeatIntervalMs: number
  shutdownGraceMs: number
  retry: ResolvedRetry
  /** null: unlimited */
  rateLimit: { limit: number, windowMs: number } | null
}

export interface ResolvedAdmin {
  grpcAddr: string
  /** set: the gateway calls this remote AdminService instead of starting one */
  grpcTarget: string | null
  httpAddr: string
  /** absolute paths; null: use the generated development certificates */
  tls: { cert: string | null, key: string | null, ca: string | null, clientCert: string | null, clientKey: string | null }
  /** certificate identities allowed to name the end user of a gRPC call */
  trustedGateways: string[]
  readOnly: boolean
  requireApproval: boolean
  approvalToken: string | null
  /** certificate subject → role; null: every verified client is admin */
  roles: Record<string, AdminRole> | null
  requestTimeoutMs: number
  bodyLimitBytes: number
  audit: {
    eventLimit: number
    /** null: no age limit */
    retentionMs: number | null
    /** absolute path; null: no archive */
    archiveDir: string | null
    archiveIntervalMs: number
    exportLimitMax: number
  }
  guardrails: {
    replayLimitMax: number
    replayIdsMax: number
    purgeLimitMax: number
    scheduleRunMax: number
    scheduleRunWindowMs: number
    bulkMax: number
  }
}

export interface ResolvedSchedule {
  name: string
  spec: string
  timezone?: string
  durable?: boolean
  paused?: boolean
  overlap?: 'skip' | 'allow'
  catchUp?: 'none' | 'latest'
}

export interface ResolvedScheduler {
  enabled: boolean
  tickIntervalMs: number
  leaderTtlMs: number
  misfireGraceMs: number
  durableHandlers: string[]
  handlers: string[]
  /** config schedules, then durablePresets (durable: true), then presets (durable: false) */
  schedules: ResolvedSchedule[]
}

export interface ResolvedRetention {
  enabled: boolean
  succeededMs: number
  canceledMs: number
  /** null: dead tasks are kept until deleted */
  deadMs: number | null
  intervalMs: number
  batchSize: number
}

export type ConsoleAuthMode = 'password' | 'bearer' | 'header' | 'none'

export interface ResolvedConsole {
  /** host:port of the console listener */
  addr: string
  /** plain HTTP behind a TLS-terminating proxy */
  plain: boolean
  auth: {
    mode: ConsoleAuthMode
    /** password mode: name → scrypt hash and role; empty: the generated admin user */
    users: Record<string, { passwordHash: string, role: AdminRole }>
    /** bearer mode: tokens by hex SHA-256 */
    tokens: Array<{ name: string, sha256: string, role: AdminRole }>
    header: { user: string, role: string | null, proxies: string[], roles: Record<string, AdminRole>, defaultRole: AdminRole }
    noneRole: AdminRole
  }
  sessionIdleMs: number
  sessionMaxAgeMs: number
  maxSessions: number
  loginAttemptsPerMinute: number
  readOnly: boolean
}

export interface ResolvedConfig {
  /** absolute */
  dataDir: string
  log: { level: LogLevel, format: LogFormat }
  plugins: PluginSpec[]
  /** absolute module paths */
  handlers: string[]
  defaultQueue: string
  /** every configured queue plus the default queue, each with its weight (default 1) */
  queues: Record<string, { weight: number }>
  tasks: { maxAttempts: number, timeoutMs: number, priority: number, resultMaxBytes: number }
  worker: ResolvedWorker
  demo: { enabled: boolean, intervalMs: number }
  scheduler: ResolvedScheduler
  retention: ResolvedRetention
  admin: ResolvedAdmin
  console: ResolvedConsole
  jobs: ResolvedJobs
  /** limits stored in the backend at start (empty: none configured) */
  flowControl: ResolvedFlowLimit[]
}

export interface ResolvedFlowLimit {
  scope: { kind: 'queue' | 'handler' | 'tenant', name: string }
  concurrency: number | null
  rate: { limit: number, windowMs: number } | null
}

/** the jobs section: what sources, the runner and the job stores read (plugins: ctx.config.jobs) */
export interface ResolvedJobs {
  /** exact repository URLs, or ['*'] for all; empty: no git job runs */
  repoAllowlist: string[]
  gitBin: string
  /** absolute path; null: DOCKER_HOST or the engine's default socket */
  dockerSocket: string | null
  dockerBin: string
  /** default container network ('none': no network) */
  network: string
  /** absolute scratch root for sources and build contexts (default <dataDir>/jobs) */
  workdir: string
  outputBytes: number
  /** hostnames; empty: no tarball_url job runs */
  tarballAllowlist: string[]
  /** absolute; null: no tarball_path job runs */
  tarballDir: string | null
  tarballMaxBytes: number
  tarballTimeoutMs: number
  /** absolute; where GetJobArtifact reads a tarball_path archive no run stored (default tarballDir) */
  adminTarballDir: string | null
  /** absolute; null: no file event store */
  eventDir: string | null
  eventMaxEntries: number
  eventCacheTtlMs: number
  /** what a definition gets for the fields it leaves out */
  defaults: {
    queue: string
    retries: number
    timeoutSeconds: number
    memoryBytes: number
    cpus: number
    pids: number
  }
}

export interface ConfigSource {
  /** absolute path of the file read, or null for the built-in defaults */
  file: string | null
  /** names of the environment variables that were applied */
  env: string[]
}

export interface LoadedConfig {
  config: ResolvedConfig
  /**
   * The same configuration in the keys and units of the file (what `config check`
   * prints): defaults and environment overrides applied, paths absolute, the default
   * plugins and the demo switch spelled out. It loads to the same ResolvedConfig.
   */
  effective: Record<string, unknown>
  source: ConfigSource
  /** directory relative paths in the config are resolved against (the file's dir, else cwd) */
  configDir: string
}
