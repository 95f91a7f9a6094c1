import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from './load.ts'
import { ConfigError } from './errors.ts'
import { DEFAULT_GUARDRAILS } from './resolve.ts'

const dir = await mkdtemp(join(tmpdir(), 'sy-config-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))

async function file (name: string, text: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, text)
  return path
}

/** The problems of a ConfigError, one `<path>: <reason>` each. */
async function problemsOf (promise: Promise<unknown>): Promise<string[]> {
  try {
    await promise
  } catch (err) {
    if (!ConfigError.is(err)) throw err
    return (err.details?.problems as string[]) ?? [err.message]
  }
  throw new Error('expected a ConfigError')
}

t.test('no file: the embedded default with every default filled', async t => {
  const { config, source, configDir } = await loadConfig({ env: {}, cwd: dir })
  t.same(source, { file: null, env: [] })
  t.equal(configDir, dir)
  t.equal(config.dataDir, join(dir, '.switchyard'))
  t.equal(config.log.level, 'info')
  t.same(config.plugins, [{ name: 'backend-postgres', options: { embedded: { dataDir: join(dir, '.switchyard', 'pglite') } } }, { name: 'metrics', options: {} }, { name: 'admin-console', options: {} }])
  t.same(config.handlers, [])
  t.equal(config.defaultQueue, 'default')
  t.same(config.queues, { default: { weight: 1 } })
  t.same(config.tasks, { maxAttempts: 5, timeoutMs: 300_000, priority: 0, resultMaxBytes: 64 * 1024 })
  t.match(config.worker, {
    enabled: true,
    queues: null,
    concurrency: 10,
    batchSize: 10,
    leaseTimeoutMs: 30_000,
    leaseRenewIntervalMs: 10_000,
    pollIntervalMs: 1000,
    recoveryIntervalMs: 5000,
    heartbeatIntervalMs: 5000,
    shutdownGraceMs: 10_000,
    retry: { baseDelayMs: 1000, maxDelayMs: 3_600_000, factor: 2, jitter: 0.2 },
    rateLimit: null
  })
  t.same(config.demo, { enabled: true, intervalMs: 2000 })
  t.same(config.retention, { enabled: true, succeededMs: 86_400_000, canceledMs: 86_400_000, deadMs: null, intervalMs: 60_000, batchSize: 1000 }, 'finished tasks kept a day, dead ones until deleted')
  t.match(config.admin, {
    grpcAddr: '127.0.0.1:50052',
    grpcTarget: null,
    httpAddr: '127.0.0.1:8081',
    tls: { cert: null, key: null, ca: null, clientCert: null, clientKey: null },
    trustedGateways: [],
    readOnly: false,
    requireApproval: false,
    approvalToken: null,
    roles: null,
    requestTimeoutMs: 10_000,
    bodyLimitBytes: 1024 * 1024,
    audit: { eventLimit: 10_000, retentionMs: null, archiveDir: null, archiveIntervalMs: 5000, exportLimitMax: 10_000 },
    guardrails: DEFAULT_GUARDRAILS
  })
})

t.test('a YAML file: units converted, paths resolved against its directory, demo off unless asked', async t => {
  const path = await file('full.yaml', `
dataDir: state
log: { level: debug }
plugins:
  - name: ./plugins/mine.ts
    options: { url: "redis://127.0.0.1:6379" }
  - name: some-npm-plugin
handlers: [handlers/email.ts, /abs/handlers.ts]
defaultQueue: main
queues:
  critical: { weight: 5 }
  bulk: {}
tasks: { maxAttempts: 3, timeout: 1h30m, priority: -2, resultMaxBytes: 256kb }
worker:
  queues: [critical, main]
  concurrency: 4
  batchSize: 2
  leaseTimeout: 2m
  leaseRenewInterval: 20s
  pollInterval: 250ms
  shutdownGrace: 0
  retry: { baseDelay: 500, maxDelay: 10m, factor: 3, jitter: 0 }
  rateLimit: { limit: 100, window: 1s }
demo: { interval: 7d }
admin:
  tls: { cert: certs/server.pem, key: certs/server-key.pem, ca: /etc/ca.pem }
  roles: { "CN=ops": operator, "CN=viewer": viewer }
  bodyLimit: 64mb
  audit: { retention: 168h, archiveDir: audit }
`)
  const { config, source } = await loadConfig({ file: path, env: {} })
  t.same(source, { file: path, env: [] })
  t.equal(config.dataDir, join(process.cwd(), 'state'), 'dataDir is relative to the working directory, as without a file')
  t.equal(config.log.level, 'debug')
  t.same(config.plugins, [
    { name: join(dir, 'plugins/mine.ts'), options: { url: 'redis://127.0.0.1:6379' } },
    { name: 'some-npm-plugin', options: {} },
    { name: 'audit-file', options: {} }
  ], 'admin.audit.archiveDir alone brings the audit-file plugin that writes the archive')
  t.same(config.handlers, [join(dir, 'handlers/email.ts'), '/abs/handlers.ts'])
  t.same(config.queues, { main: { weight: 1 }, critical: { weight: 5 }, bulk: { weight: 1 } })
  t.same(config.tasks, { maxAttempts: 3, timeoutMs: 5_400_000, priority: -2, resultMaxBytes: 256 * 1024 })
  t.match(config.worker, {
    queues: ['critical', 'main'],
    concurrency: 4,
    batchSize: 2,
    leaseTimeoutMs: 120_000,
    leaseRenewIntervalMs: 20_000,
    pollIntervalMs: 250,
    shutdownGraceMs: 0,
    retry: { baseDelayMs: 500, maxDelayMs: 600_000, factor: 3, jitter: 0 },
    rateLimit: { limit: 100, windowMs: 1000 }
  })
  t.same(config.demo, { enabled: false, intervalMs: 7 * 86_400_000 })
  t.same(config.admin.tls, { cert: join(dir, 'certs/server.pem'), key: join(dir, 'certs/server-key.pem'), ca: '/etc/ca.pem', clientCert: null, clientKey: null })
  t.same(config.admin.roles, { 'CN=ops': 'operator', 'CN=viewer': 'viewer' })
  t.equal(config.admin.bodyLimitBytes, 64 * 1024 * 1024)
  t.equal(config.admin.audit.retentionMs, 168 * 3_600_000)
  t.equal(config.admin.audit.archiveDir, join(dir, 'audit'))
})

t.test('JSON files work the same way', async t => {
  const path = await file('c.json', JSON.stringify({ worker: { concurrency: 3 }, demo: { enabled: true } }))
  const { config } = await loadConfig({ file: path, env: {} })
  t.equal(config.worker.concurrency, 3)
  t.equal(config.demo.enabled, true)
})

t.test('an empty YAML file means all defaults', async t => {
  const { config } = await loadConfig({ file: await file('empty.yaml', '# nothing\n'), env: {} })
  t.equal(config.worker.concurrency, 10)
  t.equal(config.demo.enabled, false)
})

t.test('"7 dayz" fails with the path and a one-line reason', async t => {
  const path = await file('dayz.yaml', 'worker:\n  leaseTimeout: 7 dayz\n')
  const err = await loadConfig({ file: path, env: {} }).then(() => null, (e: unknown) => e)
  t.ok(ConfigError.is(err))
  t.equal((err as { code: string }).code, 'CONFIG_INVALID')
  t.match((err as Error).message, path)
  t.same(await problemsOf(loadConfig({ file: path, env: {} })), [
    'worker.leaseTimeout: invalid duration "7 dayz" (use e.g. 500ms, 30s, 5m, 1h30m, 7d, or a number of milliseconds)'
  ])
})

t.test('every problem is listed, one per line: unknown keys, wrong types, bad enums and names', async t => {
  const path = await file('bad.yaml', `
worker:
  concurency: 3
  concurrency: lots
  rateLimit: { limit: 0 }
log: { level: loud }
plugins:
  - { name: 7 }
  - { options: {} }
queues:
  "bad name": {}
  ok: { weight: 0 }
admin:
  roles: { "CN=x": boss }
  bodyLimit: 3 parsecs
  httpAddr: localhost
surprise: true
`)
  const problems = await problemsOf(loadConfig({ file: path, env: {} }))
  t.same(problems.sort(), [
    'admin.bodyLimit: invalid byte size "3 parsecs" (use e.g. 512kb, 1mb, 64mb, 1gb, or a number of bytes)',
    'admin.httpAddr: must be host:port, e.g. 127.0.0.1:8081 or [::1]:8081',
    'admin.roles["CN=x"]: expected one of "viewer", "operator", "admin", got string "boss"',
    'log.level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got string "loud"',
    'plugins[0].name: expected string, got number 7',
    'plugins[1].name: required',
    'queues.ok.weight: must be >= 1, got number 0',
    'queues["bad name"]: invalid name "bad name": must be 1-128 characters of letters, digits, \'_\', \'.\', \':\' or \'-\', starting with a letter or digit',
    'surprise: unknown key',
    'worker.concurency: unknown key',
    'worker.concurrency: expected integer, got string "lots"',
    'worker.rateLimit.limit: must be >= 1, got number 0',
    'worker.rateLimit.window: required'
  ])
  const err = await loadConfig({ file: path, env: {} }).then(() => null, (e: unknown) => e as Error)
  // the first line names the first problem and how many follow; then one line per other problem
  const [first, ...rest] = err?.message.split('\n') ?? []
  const head = `invalid configuration (${path}): `
  const tail = ` (and ${problems.length - 1} more problems)`
  t.ok(first?.startsWith(head) === true && first.endsWith(tail), `first line: ${first ?? ''}`)
  const named = (first ?? '').slice(head.length, -tail.length)
  t.same([named, ...rest.map(line => line.trim())].sort(), problems, 'every problem once: the first on the first line, the others after it')
})

t.test('rules between keys and duration minimums', async t => {
  const path = await file('rules.yaml', `
tasks: { timeout: 8d, resultMaxBytes: 2mb }
worker:
  concurrency: 2
  batchSize: 5
  leaseTimeout: 10s
  leaseRenewInterval: 10s
  pollInterval: 0
  retry: { baseDelay: 1m, maxDelay: 1s }
admin: { requireApproval: true }
`)
  t.same((await problemsOf(loadConfig({ file: path, env: {} }))).sort(), [
    'admin.approvalToken: required when admin.requireApproval is true (set it or WORKER_ADMIN_APPROVAL_TOKEN)',
    'tasks.resultMaxBytes: must be at most 1mb, got "2mb"',
    'tasks.timeout: must be at most 7d, got "8d"',
    'worker.batchSize: must not exceed worker.concurrency (2), got 5',
    'worker.leaseRenewInterval: must be shorter than worker.leaseTimeout (10s is not below 10s)',
    'worker.pollInterval: must be at least 1ms, got 0',
    'worker.retry.maxDelay: must not be below worker.retry.baseDelay (1m)'
  ])
})

t.test('file problems are one clear line', async t => {
  const missing = join(dir, 'nope.yaml')
  await t.rejects(loadConfig({ file: missing, env: {} }), { code: 'CONFIG_INVALID', message: `config file ${missing}: not found` })

  const broken = await file('broken.yaml', 'worker:\n  concurrency: [1, 2\n')
  const err = await loadConfig({ file: broken, env: {} }).then(() => null, (e: unknown) => e as Error)
  t.equal(ConfigError.is(err), true)
  t.match(err?.message, new RegExp(`^config file ${broken}: invalid YAML at line \\d+, column \\d+ \\(`))
  t.equal(err?.message.includes('\n'), false)

  const dup = await file('dup.yaml', 'worker: {}\nworker: {}\n')
  await t.rejects(loadConfig({ file: dup, env: {} }), { code: 'CONFIG_INVALID', message: /invalid YAML.*unique/ })

  const json = await file('broken.json', '{"worker": ')
  await t.rejects(loadConfig({ file: json, env: {} }), { code: 'CONFIG_INVALID', message: new RegExp(`^config file ${json}: invalid JSON \\(`) })

  const toml = await file('c.toml', 'a = 1')
  await t.rejects(loadConfig({ file: toml, env: {} }), { message: `config file ${toml}: unsupported extension ".toml" (use .yaml, .yml or .json)` })

  const list = await file('list.yaml', '- a\n- b\n')
  await t.rejects(loadConfig({ file: list, env: {} }), { message: `config file ${list}: expected a mapping of settings at the top level, got array` })

  await t.rejects(loadConfig({ file: dir, env: {} }), { message: `config file ${dir}: is a directory, expected a .yaml, .yml or .json file` })
})

t.test('a relative file is found from cwd', async t => {
  await file('rel.yml', 'defaultQueue: rel\n')
  const { config, source } = await loadConfig({ file: 'rel.yml', cwd: dir, env: {} })
  t.equal(config.defaultQueue, 'rel')
  t.equal(source.file, join(dir, 'rel.yml'))
})

t.test('jobs.eventDir (WORKER_JOB_EVENT_DIR) alone brings the event-store-file plugin that keeps job events there', async t => {
  const path = join(dir, 'job-events.yaml')
  await writeFile(path, 'plugins:\n  - name: backend-redis\njobs: { eventDir: events }\n')
  const { config } = await loadConfig({ file: path, env: {} })
  t.same(config.plugins, [{ name: 'backend-redis', options: {} }, { name: 'event-store-file', options: {} }])
  t.equal(config.jobs.eventDir, join(dir, 'events'))
  const fromEnv = await loadConfig({ env: { WORKER_JOB_EVENT_DIR: '/var/lib/switchyard/job-events' }, cwd: dir })
  t.ok(fromEnv.config.plugins.some(spec => spec.name === 'event-store-file'), 'also from the environment, beside the embedded default')
  await writeFile(path, 'plugins:\n  - name: backend-redis\n  - name: event-store-file\n    options: { maxEntries: 5 }\njobs: { eventDir: events }\n')
  t.same((await loadConfig({ file: path, env: {} })).config.plugins, [{ name: 'backend-redis', options: {} }, { name: 'event-store-file', options: { maxEntries: 5 } }], 'a listed event-store-file is not added twice')
  const none = await loadConfig({ env: {}, cwd: dir })
  t.notOk(none.config.plugins.some(spec => spec.name === 'event-store-file'), 'without the setting nothing is added')
})
