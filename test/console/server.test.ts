// The console's server over a real admin service (Postgres) and real TLS: every API
// route (iterated from the server's own route table) refuses a stranger with 401 and
// a signed-in browser without CSRF or with a foreign Origin with 403, touching
// nothing; roles, identity in the audit log, headers, rate limit, expiry and the
// auth modes.
import t from 'tap'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import type { AdminService, Backend } from '@switchyard/core'
import { assertConsoleSettings, CONTENT_SECURITY_POLICY } from '@switchyard/admin-console'
import { call, makeDead, makeService, serverBackend } from '../../core/admin/test-support.ts'
import { concrete, consoleSettings, passwordUsers, startConsole, testTls, type Browser } from './support.ts'

const tls = await testTls(t)

/** everything a refused call could have written: audit records, events, queue, DLQ and coordination state */
async function backendState (backend: Backend, service: AdminService): Promise<string> {
  const [audit, events, queues, dead, coordination] = await Promise.all([
    service.ListAuditEvents({ limit: 1000 }, call()),
    backend.readEvents({ afterId: null, limit: 10_000 }),
    service.ListQueues({}, call()),
    service.ListDLQ({ limit: 1000 }, call()),
    backend.getCoordinationState()
  ])
  return JSON.stringify({ audit, events: events.map(event => event.id), queues, dead, coordination })
}

t.test('every API route: 401 without credentials, 403 without CSRF or from another origin, nothing written', async t => {
  const backend = await serverBackend(t)
  const { service, sink } = makeService(t, backend)
  await makeDead(backend, 'default', 2)
  const users = await passwordUsers({ ada: ['correct horse', 'admin'] })
  const running = await startConsole(t, tls, service, { settings: consoleSettings(), passwordUsers: users })
  const apiRoutes = running.server.routes.filter(route => route.url.startsWith('/api/'))
  t.ok(apiRoutes.length >= 30, `${apiRoutes.length} API routes`)
  t.ok(apiRoutes.some(route => route.url === '/api/admin/v1/dlq/replay' && route.method === 'POST'), 'the contract routes are among them')
  const before = await backendState(backend, service)
  const auditWrites = sink.events.length

  const stranger = running.browser()
  for (const route of apiRoutes) {
    const answer = await stranger.request(route.method, concrete(route.url), { ...(route.method === 'GET' ? {} : { body: {} }), origin: running.url })
    t.equal(answer.status, 401, `${route.method} ${route.url} without credentials: 401`)
    t.equal(answer.json?.error?.code, 'CONSOLE_SIGN_IN_REQUIRED', `${route.method} ${route.url}: the error envelope`)
  }
  // Basic credentials that are wrong are no credentials.
  const wrongBasic = await stranger.request('GET', '/api/admin/v1/queues', { headers: { authorization: 'Basic ' + Buffer.from('ada:wrong').toString('base64') } })
  t.equal(wrongBasic.status, 401)

  const browser = running.browser()
  t.equal((await browser.login('ada', 'correct horse')).status, 200, 'signed in')
  const mutations = apiRoutes.filter(route => route.method !== 'GET')
  t.ok(mutations.length >= 15, `${mutations.length} mutation routes`)
  for (const route of mutations) {
    const body = { user: 'ada', password: 'correct horse' }
    const noToken = await browser.request(route.method, concrete(route.url), { body })
    t.equal(noToken.status, 403, `${route.method} ${route.url} without X-CSRF-Token: 403`)
    t.equal(noToken.json?.error?.code, 'CONSOLE_CSRF_REJECTED')
    const foreign = await browser.request(route.method, concrete(route.url), { body, csrf: true, origin: 'https://evil.example' })
    t.equal(foreign.status, 403, `${route.method} ${route.url} from another origin: 403`)
    const noOrigin = await browser.request(route.method, concrete(route.url), { body, csrf: true, origin: false })
    t.equal(noOrigin.status, 403, `${route.method} ${route.url} without Origin: 403`)
    const wrongToken = await browser.request(route.method, concrete(route.url), { body, headers: { 'x-csrf-token': 'not-the-token' } })
    t.equal(wrongToken.status, 403, `${route.method} ${route.url} with another token: 403`)
  }
  t.equal(await backendState(backend, service), before, 'no audit record, event, queue, DLQ, schedule or coordination change')
  t.equal(sink.events.length, auditWrites, 'nothing reached the audit sinks either')
  // …and the same browser with the token does reach the service.
  const paused = await browser.request('POST', '/api/admin/v1/pause', { csrf: true })
  t.equal(paused.status, 200, 'with the token and the origin the mutation runs')
  t.not(await backendState(backend, service), before)
})

t.test('roles: a viewer is refused mutations, an operator allowed; the audit log names the person', async t => {
  const backend = await serverBackend(t)
  const { service } = makeService(t, backend)
  const users = await passwordUsers({ vera: ['viewer pass', 'viewer'], otto: ['operator pass', 'operator'] })
  const running = await startConsole(t, tls, service, { settings: consoleSettings(), passwordUsers: users })

  const viewer = running.browser()
  t.equal((await viewer.login('vera', 'viewer pass')).json.role, 'viewer')
  t.equal((await viewer.request('GET', '/api/admin/v1/queues')).status, 200, 'a viewer reads')
  const refused = await viewer.request('POST', '/api/admin/v1/queues/default/pause', { body: { paused: true }, csrf: true })
  t.equal(refused.status, 403)
  t.equal(refused.json.error.code, 'FORBIDDEN')
  t.match(refused.json.error, { requestId: String, details: { required: 'operator', role: 'viewer' } }, 'the envelope says what is needed')

  const operator = running.browser()
  t.equal((await operator.login('otto', 'operator pass')).json.role, 'operator')
  const paused = await operator.request('POST', '/api/admin/v1/queues/default/pause', { body: { paused: true }, csrf: true })
  t.equal(paused.status, 200, paused.text)
  const audit = await service.ListAuditEvents({ limit: 10 }, call())
  const record = audit.events.find(event => event.action === 'queue.pause')
  t.equal(record?.actor, 'otto', 'the audit actor is the console user')
  t.equal((record?.params as Record<string, unknown>)?.via, 'admin-console', 'via the console')
  const exported = await operator.request('GET', '/api/admin/v1/audit/export?format=csv')
  t.equal(exported.status, 200)
  t.match(exported.headers['content-type'], /text\/csv/, 'downloads keep their content type')
  t.match(exported.headers['content-disposition'], /^attachment; filename="/)
  t.match(exported.text, /queue\.pause/)
  const adminOnly = await operator.request('POST', '/api/admin/v1/pause', { csrf: true })
  t.equal(adminOnly.status, 403, 'PauseDequeue needs admin: an operator is refused (minRole of the RPC table)')

  // The service itself agrees: the role the console granted is the role it checks.
  await t.rejects(service.PauseQueue({ name: 'default', paused: false }, { actor: 'vera', via: 'admin-console', grantedRole: 'viewer', requestId: 'r1' }), { code: 'FORBIDDEN' })
  await t.rejects(service.PauseQueue({ name: 'default', paused: false }, { actor: 'vera', grantedRole: 'superuser' as never, requestId: 'r2' }), { code: 'FORBIDDEN' }, 'an unknown role is refused')
})

t.test('headers on every answer; no-store on the API; the app served with its caching, or 503 when not built', async t => {
  const backend = await serverBackend(t)
  const { service } = makeService(t, backend)
  const assets = await mkdtemp(join(tmpdir(), 'sy-console-app-'))
  t.teardown(() => rm(assets, { recursive: true, force: true }))
  const running = await startConsole(t, tls, service, { settings: consoleSettings({}, { mode: 'none' }), assetsDir: assets })
  const browser = running.browser()

  const notBuilt = await browser.request('GET', '/')
  t.equal(notBuilt.status, 503)
  t.equal(notBuilt.json.error.code, 'CONSOLE_NOT_BUILT')
  t.match(notBuilt.json.error.message, /npm run build/)

  await mkdir(join(assets, 'assets'))
  await writeFile(join(assets, 'index.html'), '<!doctype html><script type="module" src="/assets/index-AbCdEf12.js"></script>')
  await writeFile(join(assets, 'assets', 'index-AbCdEf12.js'), 'console.log(1)')
  const index = await browser.request('GET', '/')
  t.equal(index.status, 200)
  t.equal(index.headers['cache-control'], 'no-store', 'index.html is never cached')
  t.match(index.headers['content-type'], /text\/html/)
  const deepLink = await browser.request('GET', '/tasks?state=dead')
  t.equal(deepLink.status, 200)
  t.equal(deepLink.text, index.text, 'a deep link answers the app')
  const asset = await browser.request('GET', '/assets/index-AbCdEf12.js')
  t.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable', 'hashed assets are cached for a year')
  t.match(asset.headers['content-type'], /javascript/)
  t.equal(asset.headers['content-encoding'], undefined, 'without precompressed copies the asset goes as it is')
  t.equal((await browser.request('GET', '/assets/index-Gone0000.js')).status, 404, 'a missing asset is not the app')

  // The build's precompressed copies go to a browser that accepts them, brotli first.
  const source = 'console.log("switchyard")\n'.repeat(200)
  const br = brotliCompressSync(source)
  const gz = gzipSync(source)
  await writeFile(join(assets, 'assets', 'app-ZyXwVu98.js'), source)
  await writeFile(join(assets, 'assets', 'app-ZyXwVu98.js.br'), br)
  await writeFile(join(assets, 'assets', 'app-ZyXwVu98.js.gz'), gz)
  const asBrotli = await browser.request('GET', '/assets/app-ZyXwVu98.js', { headers: { 'accept-encoding': 'gzip, deflate, br, zstd' } })
  t.equal(asBrotli.headers['content-encoding'], 'br')
  t.equal(Number(asBrotli.headers['content-length']), br.length, 'the brotli copy is sent')
  t.equal(asBrotli.headers.vary, 'accept-encoding')
  t.equal(asBrotli.headers['cache-control'], 'public, max-age=31536000, immutable')
  t.match(asBrotli.headers['content-type'], /javascript/, 'the type is the script\'s, not the copy\'s')
  const asGzip = await browser.request('GET', '/assets/app-ZyXwVu98.js', { headers: { 'accept-encoding': 'gzip, br;q=0' } })
  t.equal(asGzip.headers['content-encoding'], 'gzip', 'br;q=0 refuses brotli')
  t.equal(Number(asGzip.headers['content-length']), gz.length)
  const plain = await browser.request('GET', '/assets/app-ZyXwVu98.js')
  t.equal(plain.headers['content-encoding'], undefined, 'no Accept-Encoding: the file itself')
  t.equal(plain.text, source)
  t.equal((await browser.request('GET', '/..%2F..%2Fetc%2Fpasswd')).text, index.text, 'no way out of the app directory')
  // Hashed assets are kept in memory once read (their content never changes under their
  // name): answered without touching the disk. index.html is read again when it changes.
  await rm(join(assets, 'assets', 'app-ZyXwVu98.js.br'))
  const fromMemory = await browser.request('GET', '/assets/app-ZyXwVu98.js', { headers: { 'accept-encoding': 'br' } })
  t.equal(fromMemory.headers['content-encoding'], 'br', 'a hashed asset already read is answered from memory')
  t.equal(Number(fromMemory.headers['content-length']), br.length)
  await writeFile(join(assets, 'index.html'), '<!doctype html><title>rebuilt</title><script type="module" src="/assets/index-AbCdEf12.js"></script>')
  t.match((await browser.request('GET', '/')).text, /rebuilt/, 'a rebuilt index.html is served at once')

  const api = await browser.session()
  for (const answer of [notBuilt, index, asset, api]) {
    t.equal(answer.headers['content-security-policy'], CONTENT_SECURITY_POLICY)
    t.match(answer.headers['content-security-policy'], /script-src 'self'/)
    t.match(answer.headers['content-security-policy'], /frame-ancestors 'none'/)
    t.notMatch(answer.headers['content-security-policy'], /unsafe-inline/)
    t.equal(answer.headers['x-content-type-options'], 'nosniff')
    t.equal(answer.headers['referrer-policy'], 'no-referrer')
  }
  t.equal(api.headers['cache-control'], 'no-store', 'API answers are not cached')
  const cookie = ([] as string[]).concat(api.headers['set-cookie'] ?? []).join('\n')
  t.match(cookie, /^__Host-switchyard-session=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Strict; Secure/, 'the session cookie is HttpOnly, SameSite=Strict and Secure')
  // none mode answers only loopback host names (DNS rebinding)
  t.equal((await browser.request('GET', '/api/session', { headers: { host: 'rebound.example:80' }, anyHostName: true })).status, 403)
})

t.test('password mode: the login form signs in and out; rate limit per address', async t => {
  const backend = await serverBackend(t)
  const { service } = makeService(t, backend)
  const users = await passwordUsers({ ada: ['correct horse', 'admin'] })
  const running = await startConsole(t, tls, service, { settings: consoleSettings({ loginAttemptsPerMinute: 4 }), passwordUsers: users })

  const browser = running.browser()
  const signedOut = await browser.session()
  t.equal(signedOut.status, 401)
  t.type(signedOut.json.error.details.loginCsrfToken, 'string', 'a signed-out app gets a token for its login form')
  t.equal((await browser.request('POST', '/api/login', { body: { user: 'ada', password: 'correct horse' } })).status, 403, 'login without the token: 403')
  const form = await browser.request('POST', '/api/login', { form: 'user=ada&password=correct+horse', csrf: true })
  t.equal(form.status, 200, form.text)
  t.match(form.json, { user: 'ada', role: 'admin', method: 'password', csrfHeader: 'x-csrf-token', readOnly: false, approvalRequired: false, version: '0.1.0-test', authMode: 'password' })
  browser.csrfToken = form.json.csrfToken
  t.equal((await browser.session()).status, 200, 'the cookie carries the session')
  t.equal((await browser.request('POST', '/api/logout')).status, 403, 'logout needs the token too')
  const out = await browser.request('POST', '/api/logout', { csrf: true })
  t.equal(out.status, 200)
  const afterLogout = await browser.request('GET', '/api/admin/v1/queues')
  t.equal(afterLogout.status, 401, 'signed out')

  // HTTP Basic works for scripts
  const basic = await running.browser().request('GET', '/api/admin/v1/queues', { headers: { authorization: 'Basic ' + Buffer.from('ada:correct horse').toString('base64') } })
  t.equal(basic.status, 200, 'HTTP Basic')
  const sessionsBefore = running.server.sessions.size
  for (let i = 0; i < 3; i++) {
    const again = await running.browser().request('GET', '/api/admin/v1/queues', { headers: { authorization: 'Basic ' + Buffer.from('ada:correct horse').toString('base64') } })
    t.equal(again.status, 200)
  }
  t.equal(running.server.sessions.size, sessionsBefore, 'a script without cookies reuses one session, pushing no one out')

  // 4 attempts a minute from one address: the 5th is refused even with the right password
  const guesser = running.browser()
  await guesser.session()
  let limited = null
  for (let i = 0; i < 6; i++) {
    const answer = await guesser.request('POST', '/api/login', { body: { user: 'ada', password: i < 5 ? `guess ${i}` : 'correct horse' }, csrf: true })
    if (answer.status === 429) { limited = answer; break }
    t.equal(answer.status, 401, `guess ${i}: 401`)
  }
  t.ok(limited, 'rate-limited')
  t.equal(limited?.json.error.code, 'CONSOLE_RATE_LIMITED')
  t.ok(Number(limited?.headers['retry-after']) > 0, 'Retry-After')
  const basicLimited = await guesser.request('GET', '/api/admin/v1/queues', { headers: { authorization: 'Basic ' + Buffer.from('ada:correct horse').toString('base64') } })
  t.equal(basicLimited.status, 429, 'HTTP Basic from a blocked address is refused too')
})

t.test('sessions end after the idle timeout and the absolute maximum', async t => {
  const backend = await serverBackend(t)
  const { service } = makeService(t, backend)
  let clock = Date.now()
  const running = await startConsole(t, tls, service, {
    settings: consoleSettings({ sessionIdleMs: 10_000, sessionMaxAgeMs: 25_000 }),
    passwordUsers: await passwordUsers({ ada: ['correct horse', 'admin'] }),
    now: () => clock
  })
  const idle = running.browser()
  t.equal((await idle.login('ada', 'correct horse')).status, 200)
  clock += 9_000
  t.equal((await idle.session()).status, 200, 'used within the idle timeout')
  clock += 11_000
  t.equal((await idle.session()).status, 401, 'idle too long: signed out')

  const busy = running.browser()
  t.equal((await busy.login('ada', 'correct horse')).status, 200)
  for (let i = 0; i < 3; i++) {
    clock += 8_000
    t.equal((await busy.session()).status, 200, `active at ${(i + 1) * 8} s`)
  }
  clock += 2_000
  t.equal((await busy.session()).status, 401, 'past the absolute maximum even when active')
})

t.test('bearer, header and none modes sign in; the start link signs in once', async t => {
  const backend = await serverBackend(t)
  const { service } = makeService(t, backend)
  const { createHash } = await import('node:crypto')
  const token = 'tok-' + 'x'.repeat(40)
  const bearer = await startConsole(t, tls, service, {
    settings: consoleSettings({}, { mode: 'bearer', tokens: [{ name: 'ci-bot', sha256: createHash('sha256').update(token).digest('hex'), role: 'operator' }] })
  })
  const bot = bearer.browser()
  t.equal((await bot.request('GET', '/api/session', { headers: { authorization: 'Bearer wrong' } })).status, 401)
  const botSession = await bot.request('GET', '/api/session', { headers: { authorization: `Bearer ${token}` } })
  t.match(botSession.json, { user: 'ci-bot', role: 'operator', method: 'bearer' })
  bot.csrfToken = botSession.json.csrfToken
  t.equal((await bot.request('POST', '/api/admin/v1/queues/default/pause', { body: { paused: true }, csrf: true, headers: { authorization: `Bearer ${token}` } })).status, 200, 'bearer + session CSRF: mutation runs')
  t.equal((await bot.request('POST', '/api/logout', { csrf: true })).status, 200, 'signs out')

  const header = await startConsole(t, tls, service, {
    settings: consoleSettings({}, { mode: 'header', header: { user: 'x-forwarded-user', role: null, proxies: ['127.0.0.1'], roles: { olga: 'operator' }, defaultRole: 'viewer' } })
  })
  const proxied = header.browser()
  const olga = await proxied.request('GET', '/api/session', { headers: { 'x-forwarded-user': 'olga' } })
  t.match(olga.json, { user: 'olga', role: 'operator', method: 'header' })
  t.equal((await proxied.request('GET', '/api/session', { headers: { 'x-forwarded-user': 'mallory' } })).json.user, 'mallory', 'the proxy\'s header wins over an older session')
  t.equal((await header.browser().request('GET', '/api/session')).status, 401, 'no header: 401')
  const notProxy = await startConsole(t, tls, service, {
    settings: consoleSettings({}, { mode: 'header', header: { user: 'x-forwarded-user', role: null, proxies: ['10.9.8.7'], roles: {}, defaultRole: 'admin' } })
  })
  t.equal((await notProxy.browser().request('GET', '/api/session', { headers: { 'x-forwarded-user': 'olga' } })).status, 401, 'the header from an address that is not a proxy is ignored')

  const none = await startConsole(t, tls, service, { settings: consoleSettings({}, { mode: 'none', noneRole: 'viewer' }) })
  const local = none.browser()
  t.match((await local.session()).json, { user: 'tester', role: 'viewer', method: 'none' })
  t.equal((await local.request('POST', '/api/logout', { csrf: true })).status, 200, 'none mode signs out too')

  // the start banner's link: once only
  const linked = await startConsole(t, tls, service, { settings: consoleSettings(), passwordUsers: await passwordUsers({}) })
  const link = new URL(linked.server.signInUrl())
  const first = linked.browser()
  const redirect = await first.request('GET', link.pathname + link.search)
  t.equal(redirect.status, 303)
  t.equal(redirect.headers.location, '/')
  t.match((await first.session()).json, { user: 'tester', role: 'admin', method: 'token' })
  t.equal((await linked.browser().request('GET', link.pathname + link.search)).status, 401, 'the link signs in once only')
})

t.test('read-only console; approval passed through; SSE with Last-Event-ID', async t => {
  const backend = await serverBackend(t)
  const { service } = makeService(t, backend, { requireApproval: true, approvalToken: 'ok-go' })
  const running = await startConsole(t, tls, service, { settings: consoleSettings({}, { mode: 'none' }), info: { version: 'v', backend: 'b', adminReadOnly: false, approvalRequired: true } })
  const browser = running.browser()
  t.equal((await browser.session()).json.approvalRequired, true)
  const unapproved = await browser.request('POST', '/api/admin/v1/queues/default/pause', { body: { paused: true }, csrf: true })
  t.equal(unapproved.status, 412)
  t.equal(unapproved.json.error.code, 'APPROVAL_REQUIRED', 'the contract\'s envelope passes through')
  const approved = await browser.request('POST', '/api/admin/v1/queues/default/pause', { body: { paused: true }, csrf: true, headers: { 'x-admin-approval': 'ok-go' } })
  t.equal(approved.status, 200, 'X-Admin-Approval passes through')

  const readOnly = await startConsole(t, tls, service, { settings: consoleSettings({ readOnly: true }, { mode: 'none' }) })
  const reader = readOnly.browser()
  t.equal((await reader.session()).json.readOnly, true)
  const refused = await reader.request('POST', '/api/admin/v1/queues/default/pause', { body: { paused: false }, csrf: true, headers: { 'x-admin-approval': 'ok-go' } })
  t.equal(refused.status, 403)
  t.equal(refused.json.error.code, 'READ_ONLY')

  // The event stream: an SSE answer, and Last-Event-ID resumes after the given event.
  const stream = await browser.request('GET', '/api/admin/v1/events', { headersOnly: true })
  t.equal(stream.status, 200)
  t.match(stream.headers['content-type'], /text\/event-stream/)
  // on a shared Postgres server an appended event turns readable once the transactions
  // running when it committed have ended (another test's long insert can hold it back)
  let all = await backend.readEvents({ afterId: null, limit: 100 })
  for (const deadline = Date.now() + 15_000; all.length === 0 && Date.now() < deadline;) {
    await new Promise(resolve => setTimeout(resolve, 100))
    all = await backend.readEvents({ afterId: null, limit: 100 })
  }
  const first = all[0]
  t.ok(first, 'events exist')
  const text = await readStream(browser, '/api/admin/v1/events', { 'last-event-id': first?.id ?? '' }, all.length > 1 ? all[1]?.id ?? '' : '')
  t.notMatch(text, new RegExp(`^id: ${first?.id}$`, 'm'), 'resumes after Last-Event-ID')
})

/** reads an event stream until an event with `untilId` arrived (or 5 s), then closes it */
async function readStream (browser: Browser, path: string, headers: Record<string, string>, untilId: string): Promise<string> {
  const { request } = await import('node:https')
  const target = new URL(path, browser.url)
  return await new Promise<string>((resolve, reject) => {
    const req = request(target, { headers: { ...headers, cookie: browser.cookieHeader() }, ca: (browser as unknown as { ca: Buffer }).ca }, res => {
      let text = ''
      const done = (): void => { clearTimeout(timer); res.destroy(); resolve(text) }
      const timer = setTimeout(done, 5_000)
      res.setEncoding('utf8')
      res.on('data', chunk => { text += chunk; if (untilId === '' || text.includes(`id: ${untilId}\n`)) done() })
      res.on('error', () => resolve(text))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('none is refused off loopback; plain only with header/bearer or on loopback', async t => {
  t.throws(() => { assertConsoleSettings(consoleSettings({ addr: '0.0.0.0:0' }, { mode: 'none' })) }, { code: 'CONFIG_INVALID', message: /none is refused on 0\.0\.0\.0:0/ })
  t.throws(() => { assertConsoleSettings(consoleSettings({ addr: '192.168.1.10:0' }, { mode: 'none' })) }, { code: 'CONFIG_INVALID' })
  t.doesNotThrow(() => { assertConsoleSettings(consoleSettings({ addr: '127.0.0.1:0' }, { mode: 'none' })) })
  t.doesNotThrow(() => { assertConsoleSettings(consoleSettings({ addr: '[::1]:0' }, { mode: 'none' })) })
  t.throws(() => { assertConsoleSettings(consoleSettings({ addr: '0.0.0.0:0', plain: true })) }, { code: 'CONFIG_INVALID', message: /console\.plain/ })
  t.doesNotThrow(() => { assertConsoleSettings(consoleSettings({ addr: '0.0.0.0:0', plain: true }, { mode: 'header', header: { user: 'x-forwarded-user', role: null, proxies: ['10.0.0.2'], roles: {}, defaultRole: 'viewer' } })) })
  t.throws(() => { assertConsoleSettings(consoleSettings({}, { mode: 'bearer' })) }, { code: 'CONFIG_INVALID', message: /tokens/ })
})
