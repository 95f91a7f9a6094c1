import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from './load.ts'
import { ConfigError } from './errors.ts'
import { ENV_OVERRIDES } from './env.ts'
import { DEFAULT_GUARDRAILS } from './resolve.ts'

const dir = await mkdtemp(join(tmpdir(), 'sy-config-env-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))

async function problemsOf (promise: Promise<unknown>): Promise<string[]> {
  const err = await promise.then(() => null, (e: unknown) => e)
  if (!ConfigError.is(err)) throw new Error(`expected a ConfigError, got ${String(err)}`)
  return err.details?.problems as string[]
}

t.test('every SPEC §5 variable is applied, over the file', async t => {
  const file = join(dir, 'base.yaml')
  await writeFile(file, 'defaultQueue: fromfile\nqueues: { critical: { weight: 2 }, other: { weight: 4 } }\nadmin: { grpcAddr: "10.0.0.1:1" }\n')
  const env = {
    SWITCHYARD_DATA_DIR: 'data',
    SWITCHYARD_LOG_LEVEL: 'warn',
    SWITCHYARD_LOG_FORMAT: 'json',
    WORKER_ADMIN_GRPC_ADDR: '0.0.0.0:6000',
    WORKER_ADMIN_GRPC_TARGET: 'admin.internal:50052',
    WORKER_ADMIN_HTTP_ADDR: '[::1]:9443',
    WORKER_ADMIN_TLS_CERT: 'tls/server.pem',
    WORKER_ADMIN_TLS_KEY: '/secrets/server-key.pem',
    WORKER_ADMIN_TLS_CA: 'tls/ca.pem',
    WORKER_ADMIN_TLS_CLIENT_CERT: 'tls/gateway.pem',
    WORKER_ADMIN_TLS_CLIENT_KEY: '/secrets/gateway-key.pem',
    WORKER_ADMIN_AUDIT_EVENT_LIMIT: '500',
    WORKER_ADMIN_AUDIT_RETENTION: '168h',
    WORKER_ADMIN_AUDIT_ARCHIVE_DIR: 'archive',
    WORKER_ADMIN_AUDIT_ARCHIVE_INTERVAL: '30s',
    WORKER_ADMIN_AUDIT_EXPORT_LIMIT_MAX: '2000',
    WORKER_ADMIN_DEFAULT_QUEUE: 'main',
    WORKER_ADMIN_QUEUE_WEIGHTS: 'critical=5, default=1',
    WORKER_ADMIN_REPLAY_LIMIT_MAX: '50',
    WORKER_ADMIN_REPLAY_IDS_MAX: '60',
    WORKER_ADMIN_PURGE_LIMIT_MAX: '70',
    WORKER_ADMIN_SCHEDULE_RUN_MAX: '3',
    WORKER_ADMIN_SCHEDULE_RUN_WINDOW: '90000',
    WORKER_ADMIN_BULK_MAX: '250',
    WORKER_ADMIN_REQUIRE_APPROVAL: 'true',
    WORKER_ADMIN_APPROVAL_TOKEN: 's3cret',
    WORKER_DURABLE_CRON_HANDLERS: 'report, cleanup',
    WORKER_CRON_HANDLERS: 'ping',
    WORKER_DURABLE_CRON_PRESETS: 'report=0 0,30 2 * * *, cleanup=*/15 * * * *',
    WORKER_CRON_PRESETS: 'ping=* * * * *',
    SWITCHYARD_RETENTION_SUCCEEDED: '1h',
    SWITCHYARD_RETENTION_CANCELED: '2h',
    SWITCHYARD_RETENTION_DEAD: '30d',
    SWITCHYARD_CONSOLE_ADDR: '127.0.0.1:9090',
    WORKER_JOB_REPO_ALLOWLIST: 'https://git.example/a.git, ssh://git@git.example/b.git',
    WORKER_JOB_GIT_BIN: '/usr/bin/git',
    WORKER_JOB_DOCKER_SOCKET: 'run/podman.sock',
    WORKER_JOB_DOCKER_BIN: 'podman',
    WORKER_JOB_NETWORK: 'jobs-net',
    WORKER_JOB_WORKDIR: 'work',
    WORKER_JOB_OUTPUT_BYTES: '2mb',
    WORKER_JOB_TARBALL_ALLOWLIST: 'downloads.example,cdn.example',
    WORKER_JOB_TARBALL_DIR: 'tarballs',
    WORKER_JOB_TARBALL_MAX_BYTES: '1048576',
    WORKER_JOB_TARBALL_TIMEOUT: '45s',
    WORKER_ADMIN_JOB_TARBALL_DIR: '/mnt/tarballs',
    WORKER_JOB_EVENT_DIR: 'job-events',
    WORKER_JOB_EVENT_MAX_ENTRIES: '500',
    WORKER_JOB_EVENT_CACHE_TTL: '2s',
    UNRELATED: 'x'
  }
  const cwd = join(dir, 'cwd')
  const { config, source } = await loadConfig({ file, env, cwd })
  t.same(source.env, ENV_OVERRIDES.map(o => o.name), 'every variable reported as applied, in table order')
  // env paths are relative to the working directory, not to the config file
  t.equal(config.dataDir, join(cwd, 'data'))
  t.equal(config.log.level, 'warn')
  t.equal(config.log.format, 'json')
  t.equal(config.admin.grpcAddr, '0.0.0.0:6000')
  t.equal(config.admin.grpcTarget, 'admin.internal:50052')
  t.equal(config.admin.httpAddr, '[::1]:9443')
  t.same(config.admin.tls, { cert: join(cwd, 'tls/server.pem'), key: '/secrets/server-key.pem', ca: join(cwd, 'tls/ca.pem'), clientCert: join(cwd, 'tls/gateway.pem'), clientKey: '/secrets/gateway-key.pem' })
  t.same(config.admin.audit, { eventLimit: 500, retentionMs: 168 * 3_600_000, archiveDir: join(cwd, 'archive'), archiveIntervalMs: 30_000, exportLimitMax: 2000 })
  t.equal(config.defaultQueue, 'main')
  t.same(config.queues, { main: { weight: 1 }, critical: { weight: 5 }, other: { weight: 4 }, default: { weight: 1 } })
  t.same(config.admin.guardrails, { ...DEFAULT_GUARDRAILS, replayLimitMax: 50, replayIdsMax: 60, purgeLimitMax: 70, scheduleRunMax: 3, scheduleRunWindowMs: 90_000, bulkMax: 250 })
  t.equal(config.admin.requireApproval, true)
  t.equal(config.console.addr, '127.0.0.1:9090')
  t.equal(config.admin.approvalToken, 's3cret')
  t.same(config.scheduler.durableHandlers, ['report', 'cleanup'])
  t.same(config.scheduler.handlers, ['ping'])
  t.same(config.scheduler.schedules, [
    { name: 'report', spec: '0 0,30 2 * * *', durable: true },
    { name: 'cleanup', spec: '*/15 * * * *', durable: true },
    { name: 'ping', spec: '* * * * *', durable: false }
  ], 'presets: a comma inside a spec does not split it')
  t.match(config.retention, { succeededMs: 3_600_000, canceledMs: 7_200_000, deadMs: 30 * 86_400_000 })
  t.match(config.jobs, {
    repoAllowlist: ['https://git.example/a.git', 'ssh://git@git.example/b.git'],
    gitBin: '/usr/bin/git',
    dockerSocket: join(cwd, 'run/podman.sock'),
    dockerBin: 'podman',
    network: 'jobs-net',
    workdir: join(cwd, 'work'),
    outputBytes: 2 * 1024 * 1024,
    tarballAllowlist: ['downloads.example', 'cdn.example'],
    tarballDir: join(cwd, 'tarballs'),
    tarballMaxBytes: 1048576,
    tarballTimeoutMs: 45_000,
    adminTarballDir: '/mnt/tarballs',
    eventDir: join(cwd, 'job-events'),
    eventMaxEntries: 500,
    eventCacheTtlMs: 2000
  })
})

t.test('jobs defaults: 64 MiB tarballs, 30 s, 10000 events, 10 s cache, no network, workdir under dataDir', async t => {
  const { config } = await loadConfig({ env: {}, cwd: dir })
  t.match(config.jobs, {
    repoAllowlist: [],
    gitBin: 'git',
    dockerSocket: null,
    network: 'none',
    workdir: join(config.dataDir, 'jobs'),
    tarballMaxBytes: 64 * 1024 * 1024,
    tarballTimeoutMs: 30_000,
    tarballDir: null,
    adminTarballDir: null,
    eventDir: null,
    eventMaxEntries: 10_000,
    eventCacheTtlMs: 10_000,
    defaults: { queue: config.defaultQueue, retries: 0, timeoutSeconds: 600, memoryBytes: 512 * 1024 * 1024, cpus: 1, pids: 256 }
  })
})

t.test('empty variables are ignored', async t => {
  const { config, source } = await loadConfig({ env: { WORKER_ADMIN_GRPC_TARGET: '', WORKER_ADMIN_REPLAY_LIMIT_MAX: '  ' }, cwd: dir })
  t.same(source.env, [])
  t.equal(config.admin.grpcTarget, null)
})

t.test('bad values name the variable', async t => {
  const problems = await problemsOf(loadConfig({
    cwd: dir,
    env: {
      WORKER_ADMIN_AUDIT_EVENT_LIMIT: 'ten',
      WORKER_ADMIN_REQUIRE_APPROVAL: 'maybe',
      WORKER_ADMIN_QUEUE_WEIGHTS: 'critical:5',
      WORKER_ADMIN_REPLAY_LIMIT_MAX: '0',
      WORKER_ADMIN_SCHEDULE_RUN_WINDOW: '1 minute',
      WORKER_ADMIN_HTTP_ADDR: 'nowhere',
      SWITCHYARD_LOG_LEVEL: 'chatty'
    }
  }))
  t.same(problems.sort(), [
    'admin.audit.eventLimit (from WORKER_ADMIN_AUDIT_EVENT_LIMIT): expected an integer, got "ten"',
    'admin.guardrails.replayLimitMax (from WORKER_ADMIN_REPLAY_LIMIT_MAX): must be >= 1, got number 0',
    'admin.guardrails.scheduleRunWindow (from WORKER_ADMIN_SCHEDULE_RUN_WINDOW): invalid duration "1 minute" (use e.g. 500ms, 30s, 5m, 1h30m, 7d, or a number of milliseconds)',
    'admin.httpAddr (from WORKER_ADMIN_HTTP_ADDR): must be host:port, e.g. 127.0.0.1:8081 or [::1]:8081',
    'admin.requireApproval (from WORKER_ADMIN_REQUIRE_APPROVAL): expected true or false, got "maybe"',
    'log.level (from SWITCHYARD_LOG_LEVEL): expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got string "chatty"',
    'queues (from WORKER_ADMIN_QUEUE_WEIGHTS): expected name=weight pairs separated by commas (e.g. critical=5,default=1), got "critical:5"'
  ])
})

t.test('queue weights from env are validated like the file', async t => {
  t.same((await problemsOf(loadConfig({ cwd: dir, env: { WORKER_ADMIN_QUEUE_WEIGHTS: 'ok=2,bad!name=3,zero=0' } }))).sort(), [
    'queues.zero.weight (from WORKER_ADMIN_QUEUE_WEIGHTS): must be >= 1, got number 0',
    'queues["bad!name"] (from WORKER_ADMIN_QUEUE_WEIGHTS): invalid name "bad!name": must be 1-128 characters of letters, digits, \'_\', \'.\', \':\' or \'-\', starting with a letter or digit'
  ])
})

t.test('approval required without a token refuses to start', async t => {
  t.same(await problemsOf(loadConfig({ cwd: dir, env: { WORKER_ADMIN_REQUIRE_APPROVAL: '1' } })), [
    'admin.approvalToken: required when admin.requireApproval is true (set it or WORKER_ADMIN_APPROVAL_TOKEN)'
  ])
  const { config } = await loadConfig({ cwd: dir, env: { WORKER_ADMIN_REQUIRE_APPROVAL: 'yes', WORKER_ADMIN_APPROVAL_TOKEN: 'tok' } })
  t.equal(config.admin.requireApproval, true)
})

t.test('half of the gateway client certificate is refused', async t => {
  t.same(await problemsOf(loadConfig({ cwd: dir, env: { WORKER_ADMIN_TLS_CLIENT_CERT: 'gateway.pem' } })), [
    'admin.tls.clientKey: required when the other half of the gateway\'s client certificate is set (WORKER_ADMIN_TLS_CLIENT_CERT, WORKER_ADMIN_TLS_CLIENT_KEY)'
  ])
})
