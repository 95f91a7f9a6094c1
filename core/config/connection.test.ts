// The admin commands' fast path to the gateway settings (no config file: built-in
// defaults plus environment, without the schema library) must find exactly what
// loadConfig finds, which is what `switchyard start` serves.
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Value } from 'typebox/value'
import { ConfigSchema } from './schema.ts'
import { BUILTIN_DEFAULTS } from './builtin-defaults.ts'
import { loadConfig } from './load.ts'
import { builtinConnectionConfig, connectionConfigOf } from './connection.ts'

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
    t.strictSame(builtinConnectionConfig(env, cwd), connectionConfigOf(full.config), name)
  }
})

t.test('an override the fast path cannot read goes to loadConfig, which reports it', async (t) => {
  const env = { WORKER_ADMIN_REPLAY_LIMIT_MAX: 'many' }
  t.equal(builtinConnectionConfig(env, '/tmp'), null)
  await t.rejects(loadConfig({ env, cwd: '/tmp' }), /WORKER_ADMIN_REPLAY_LIMIT_MAX/)
})
