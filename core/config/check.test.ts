import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { checkConfig, configCheck, maskSecrets, MASK } from './check.ts'
import { loadConfig } from './load.ts'

const dir = await mkdtemp(join(tmpdir(), 'sy-config-check-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))

const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n'

t.test('config check prints the effective config with secrets masked', async t => {
  const file = join(dir, 'secrets.yaml')
  await writeFile(file, `
plugins:
  - name: backend-redis
    options:
      url: "redis://:hunter2@cache.internal:6379/0"
      password: hunter2
      tls: { key: ${JSON.stringify(PEM_KEY)}, ca: /etc/ca.pem }
  - name: backend-postgres
    options:
      connectionString: "postgres://app:pg-pass@db:5432/app?sslmode=require"
      apiKey: key-abc-123
      clientSecret: secret-def-456
      sessionToken: token-ghi-789
admin:
  requireApproval: true
  approvalToken: approve-me
  grpcTarget: "dns://admin.internal:50052"
  tls: { key: certs/server-key.pem }
`)
  const text = await configCheck(file, { WORKER_ADMIN_TLS_CERT: '/certs/server.pem' })
  const shown = parseYaml(text) as Record<string, any>
  for (const secret of ['hunter2', 'pg-pass', 'approve-me', 'MIIEvQIBADANBg', 'key-abc-123', 'secret-def-456', 'token-ghi-789']) {
    t.notOk(text.includes(secret), `${secret} is not shown`)
  }
  t.same(shown.plugins[0].options, { url: `redis://:${MASK}@cache.internal:6379/0`, password: MASK, tls: { key: MASK, ca: '/etc/ca.pem' } })
  t.same(shown.plugins[1].options, { connectionString: `postgres://app:${MASK}@db:5432/app?sslmode=require`, apiKey: MASK, clientSecret: MASK, sessionToken: MASK })
  t.equal(shown.admin.approvalToken, MASK)
  t.equal(shown.admin.requireApproval, true, 'booleans are not masked')
  t.equal(shown.admin.grpcTarget, 'dns://admin.internal:50052', 'URLs without a password stay as they are')
  t.equal(shown.admin.tls.key, join(dir, 'certs/server-key.pem'), 'key file paths are not secret')
  t.equal(shown.admin.tls.cert, '/certs/server.pem')
  t.equal(shown.worker.leaseTimeout, '30s', 'durations as the file writes them, under its keys')
  t.match(text, new RegExp(`^# valid: ${file}\n# environment overrides: WORKER_ADMIN_TLS_CERT\n`), 'says valid, and which variables applied')
})

t.test('the printed config is a config file that loads to the same config', async t => {
  const file = join(dir, 'plain.yaml')
  await writeFile(file, 'dataDir: state\nqueues: { critical: { weight: 5 } }\nworker: { concurrency: 3, leaseTimeout: 1m }\nadmin: { tls: { ca: ca.pem } }\n')
  const printed = join(dir, 'printed.yaml')
  await writeFile(printed, await configCheck(file, {}))
  const again = await loadConfig({ file: printed, env: {}, cwd: tmpdir() })
  const original = await loadConfig({ file, env: {} })
  t.same(again.config, original.config, 'same resolved config, from another working directory too')
})

t.test('handler modules are imported as start would: names listed, a missing or empty one named', async t => {
  await writeFile(join(dir, 'good-handlers.mjs'), 'export const handlers = { send_email: async () => {}, build_report: async () => {} }\n')
  await writeFile(join(dir, 'empty-handlers.mjs'), 'export const nothing = 1\n')
  const good = join(dir, 'good.yaml')
  await writeFile(good, 'handlers: [./good-handlers.mjs]\n')
  const result = await checkConfig(good, {})
  t.same(result.handlers, { [join(dir, 'good-handlers.mjs')]: ['send_email', 'build_report'] })
  t.match(await configCheck(good, {}), `# handlers in ${join(dir, 'good-handlers.mjs')}: send_email, build_report`)

  const missing = join(dir, 'missing.yaml')
  await writeFile(missing, 'handlers: [./good-handlers.mjs, ./nowhere.ts]\n')
  await t.rejects(checkConfig(missing, {}), { code: 'CONFIG_INVALID', message: `handlers[1]: module ${join(dir, 'nowhere.ts')} not found` })

  const empty = join(dir, 'empty.yaml')
  await writeFile(empty, 'handlers: [./empty-handlers.mjs]\n')
  await t.rejects(checkConfig(empty, {}), { code: 'CONFIG_INVALID', message: /^handlers\[0\]: module .*empty-handlers\.mjs: must export "handlers"/ })
})

t.test('masking leaves non-secrets and the input alone', async t => {
  const input = { user: 'redis://user@host:1', token: null, tokens: 3, nested: [{ password: 'x' }], text: 'a:b@c' }
  t.same(maskSecrets(input), { user: 'redis://user@host:1', token: null, tokens: 3, nested: [{ password: MASK }], text: 'a:b@c' })
  t.equal(input.nested[0]?.password, 'x')
})
