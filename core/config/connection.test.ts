// The admin commands' fast path to the gateway settings (file, environment and
// built-in defaults, without the schema library) must find exactly what loadConfig
// finds, which is what `switchyard start` serves.
import t from 'tap'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Value } from 'typebox/value'
import { ConfigSchema } from './schema.ts'
import { BUILTIN_DEFAULTS } from './builtin-defaults.ts'
import { loadConfig } from './load.ts'
import { connectionConfigOf, readConnectionConfig } from './connection.ts'

t.test('the built-in defaults are the schema\'s defaults', async (t) => {
  // on a mismatch, update builtin-defaults.ts from JSON.stringify(Value.Default(ConfigSchema, {}))
  t.strictSame(JSON.parse(JSON.stringify(BUILTIN_DEFAULTS)), JSON.parse(JSON.stringify(Value.Default(ConfigSchema, {}))), 'builtin-defaults.ts equals the schema\'s defaults')
})

t.test('without a config file, the fast path finds what loadConfig finds', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'sy-conn-'))
  t.teardown(async () => { await rm(cwd, { recursive: true, force: true }) })
  const cases: Array<[string, NodeJS.ProcessEnv]> = [
    ['no environment', {}],
    ['relative data dir', { SWITCHYARD_DATA_DIR: 'state' }],
    ['absolute data dir', { SWITCHYARD_DATA_DIR: join(cwd, 'abs') }],
    ['gateway address', { WORKER_ADMIN_HTTP_ADDR: '0.0.0.0:9443' }],
    ['TLS files', { WORKER_ADMIN_TLS_CA: 'ca.pem', WORKER_ADMIN_TLS_CLIENT_CERT: '/etc/sy/client.pem', WORKER_ADMIN_TLS_CLIENT_KEY: 'client-key.pem' }],
    ['unrelated overrides', { SWITCHYARD_LOG_LEVEL: 'debug', WORKER_ADMIN_QUEUE_WEIGHTS: 'mail=3,billing=2', WORKER_ADMIN_REPLAY_LIMIT_MAX: '50' }],
    ['empty values are ignored', { SWITCHYARD_DATA_DIR: '', WORKER_ADMIN_HTTP_ADDR: '' }],
    ['unrelated variables', { HOME: '/root', SWITCHYARD_CONFIG_UNRELATED: 'x' }]
  ]
  for (const [name, env] of cases) {
    const full = await loadConfig({ env, cwd })
    t.strictSame(await readConnectionConfig(undefined, env, cwd), connectionConfigOf(full.config), name)
  }
})

t.test('an override the fast path cannot read goes to loadConfig, which reports it', async (t) => {
  const env = { WORKER_ADMIN_REPLAY_LIMIT_MAX: 'many' }
  t.equal(await readConnectionConfig(undefined, env, '/tmp'), null)
  await t.rejects(loadConfig({ env, cwd: '/tmp' }), /WORKER_ADMIN_REPLAY_LIMIT_MAX/)
})

t.test('with a config file, the fast path finds what loadConfig finds', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'sy-conn-file-'))
  t.teardown(async () => { await rm(cwd, { recursive: true, force: true }) })
  await mkdir(join(cwd, 'etc'))
  const files: Record<string, string> = {
    'etc/empty.yaml': '',
    'etc/addr.yaml': 'admin:\n  httpAddr: "0.0.0.0:9443"\n  requestTimeout: 3s\n',
    'etc/tls.yaml': 'dataDir: state\nadmin:\n  tls:\n    cert: server.pem\n    key: server-key.pem\n    ca: ca.pem\n    clientCert: /etc/sy/client.pem\n    clientKey: client-key.pem\n',
    'etc/full.yaml': 'queues:\n  mail: { weight: 3 }\nscheduler:\n  schedules:\n    - { name: report, spec: "0 3 * * *" }\nplugins:\n  - name: backend-redis\n    options: { url: "redis://127.0.0.1:6379" }\nadmin:\n  httpAddr: "[::1]:8443"\n',
    'etc/conn.json': JSON.stringify({ dataDir: '/var/lib/sy', admin: { httpAddr: '127.0.0.1:7000', tls: { ca: 'ca.pem' } } })
  }
  for (const [path, text] of Object.entries(files)) await writeFile(join(cwd, path), text)
  const envs: NodeJS.ProcessEnv[] = [{}, { SWITCHYARD_DATA_DIR: 'other', WORKER_ADMIN_TLS_CA: 'env-ca.pem', WORKER_ADMIN_HTTP_ADDR: '127.0.0.1:9000' }]
  for (const file of Object.keys(files)) {
    for (const env of envs) {
      const full = await loadConfig({ file, env, cwd })
      t.strictSame(await readConnectionConfig(file, env, cwd), connectionConfigOf(full.config), `${file} ${JSON.stringify(env)}`)
    }
  }
})

t.test('a file the fast path cannot read goes to loadConfig, which reports it', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'sy-conn-bad-'))
  t.teardown(async () => { await rm(cwd, { recursive: true, force: true }) })
  await writeFile(join(cwd, 'bad.yaml'), 'admin: [\n')
  await writeFile(join(cwd, 'wrong.yaml'), 'admin: not-a-mapping\n')
  for (const file of ['bad.yaml', 'wrong.yaml', 'missing.yaml']) {
    t.equal(await readConnectionConfig(file, {}, cwd), null, file)
    await t.rejects(loadConfig({ file, env: {}, cwd }), { code: 'CONFIG_INVALID' }, file)
  }
})
