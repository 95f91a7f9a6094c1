// `switchyard start` on the embedded default starts the console on its own HTTPS
// listener (the development CA's certificate), prints its URL, a link that signs the
// local user in once, and the generated password once; what the console does is
// audited under the person's name.
import t from 'tap'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EPHEMERAL_LISTENERS, startCli } from '../cli/support.ts'
import { Browser } from './support.ts'

t.test('start prints the console URL, a one-time sign-in link and the generated password', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-console-start-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const proc = startCli(['start'], dir, { ...EPHEMERAL_LISTENERS, SWITCHYARD_LOG_LEVEL: 'warn' })
  t.teardown(() => { if (proc.child.exitCode === null) proc.child.kill('SIGKILL') })
  await proc.waitFor('Press Ctrl-C to stop.', 120_000)
  const out = proc.stdout()
  const url = /console: +(https:\/\/127\.0\.0\.1:\d+)\/ \(sign-in: password\)/.exec(out)?.[1]
  t.ok(url, 'the banner prints the console URL')
  const link = /open once to sign in as \S+: (https:\/\/\S+\/api\/login\/token\?t=\S+)/.exec(out)?.[1]
  t.ok(link, 'and a sign-in link')
  const password = /user admin, password (\S+) \(generated now and shown only this once; stored hashed in (\S+)\)/.exec(out)
  t.ok(password, 'and the generated password, once')
  const stored = JSON.parse(await readFile(password?.[2] ?? '', 'utf8')) as { user: string, passwordHash: string }
  t.equal(stored.user, 'admin')
  t.match(stored.passwordHash, /^scrypt\$/, 'stored as a scrypt hash')
  t.notMatch(JSON.stringify(stored), password?.[1] ?? 'x', 'not in clear')

  const ca = await readFile(join(dir, '.switchyard', 'certs', 'ca.pem'))
  const target = new URL(link ?? '')
  const local = new Browser(url ?? '', ca)
  const redirect = await local.request('GET', target.pathname + target.search)
  t.equal(redirect.status, 303, 'the link signs in')
  const session = await local.session()
  t.equal(session.status, 200)
  t.equal(session.json.role, 'admin')
  const again = await new Browser(url ?? '', ca).request('GET', target.pathname + target.search)
  t.equal(again.status, 401, 'the link signs in once only')

  const admin = new Browser(url ?? '', ca)
  t.equal((await admin.login('admin', password?.[1] ?? '')).status, 200, 'the printed password signs in')
  const paused = await admin.request('POST', '/api/admin/v1/queues/default/pause', { body: { paused: true }, csrf: true })
  t.equal(paused.status, 200, paused.text)
  const audit = await admin.request('GET', '/api/admin/v1/audit?limit=5')
  const record = (audit.json.events as Array<{ action: string, actor: string, params: Record<string, unknown> }>).find(event => event.action === 'queue.pause')
  t.equal(record?.actor, 'admin', 'the audit log names the console user')
  t.equal(record?.params.via, 'admin-console')

  proc.child.kill('SIGINT')
  t.equal(await proc.exited, 0, 'stops cleanly with the console open')
})
