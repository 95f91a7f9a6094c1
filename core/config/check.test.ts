import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { configCheck, maskSecrets, MASK } from './check.ts'

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
  const shown = JSON.parse(text)
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
  t.equal(shown.worker.leaseTimeoutMs, 30_000, 'durations in milliseconds')
  t.equal(text, JSON.stringify(shown, null, 2), 'pretty JSON')
})

t.test('masking leaves non-secrets and the input alone', async t => {
  const input = { user: 'redis://user@host:1', token: null, tokens: 3, nested: [{ password: 'x' }], text: 'a:b@c' }
  t.same(maskSecrets(input), { user: 'redis://user@host:1', token: null, tokens: 3, nested: [{ password: MASK }], text: 'a:b@c' })
  t.equal(input.nested[0]?.password, 'x')
})
