// The defaults the config schema fills into an empty config, as plain data, so an
// admin command without a config file finds the gateway without loading the schema
// library (most of a CLI call's start-up time). The schema (schema.ts) stays the
// source: a test checks this equals its defaults (update it from the test's output).
import type { DefaultedConfig } from './schema.ts'

export const BUILTIN_DEFAULTS: DefaultedConfig = {
  dataDir: '.switchyard',
  log: {
    level: 'info',
    format: 'auto'
  },
  handlers: [],
  defaultQueue: 'default',
  queues: {},
  tasks: {
    maxAttempts: 5,
    timeout: '5m',
    priority: 0,
    resultMaxBytes: '64kb'
  },
  worker: {
    enabled: true,
    concurrency: 10,
    leaseTimeout: '30s',
    leaseRenewInterval: '10s',
    pollInterval: '1s',
    recoveryInterval: '5s',
    heartbeatInterval: '5s',
    shutdownGrace: '10s',
    retry: {
      baseDelay: '1s',
      maxDelay: '1h',
      factor: 2,
      jitter: 0.2
    }
  },
  demo: {
    interval: '2s'
  },
  scheduler: {
    enabled: true,
    tickInterval: '500ms',
    leaderTtl: '10s',
    misfireGrace: '60s',
    durableHandlers: [],
    handlers: [],
    durablePresets: {},
    presets: {},
    schedules: []
  },
  retention: {
    enabled: true,
    succeeded: '24h',
    canceled: '24h',
    interval: '1m',
    batchSize: 1000
  },
  admin: {
    grpcAddr: '127.0.0.1:50052',
    httpAddr: '127.0.0.1:8081',
    tls: {},
    trustedGateways: [],
    readOnly: false,
    requireApproval: false,
    requestTimeout: '10s',
    bodyLimit: '1mb',
    audit: {
      eventLimit: 10000,
      archiveInterval: '5s',
      exportLimitMax: 10000
    },
    guardrails: {
      replayLimitMax: 1000,
      replayIdsMax: 1000,
      purgeLimitMax: 10000,
      scheduleRunMax: 10,
      scheduleRunWindow: '1m',
      bulkMax: 1000
    }
  },
  console: {
    addr: '127.0.0.1:8080',
    plain: false,
    auth: {
      mode: 'password',
      users: {},
      tokens: [],
      header: {
        user: 'x-forwarded-user',
        proxies: [],
        roles: {},
        defaultRole: 'viewer'
      },
      noneRole: 'admin'
    },
    sessionIdleTimeout: '30m',
    sessionMaxAge: '12h',
    maxSessions: 1000,
    loginAttemptsPerMinute: 10,
    readOnly: false
  },
  jobs: {
    repoAllowlist: [],
    gitBin: 'git',
    dockerBin: 'docker',
    network: 'none',
    outputBytes: '1mb',
    tarballAllowlist: [],
    tarballMaxBytes: '64mb',
    tarballTimeout: '30s',
    eventMaxEntries: 10000,
    eventCacheTtl: '10s',
    defaults: {
      retries: 0,
      timeout: '10m',
      memory: '512mb',
      cpus: 1,
      pids: 256
    }
  },
  flowControl: {
    queues: {},
    handlers: {},
    tenants: {}
  }
}
