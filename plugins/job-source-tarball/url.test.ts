// tarball_url against a real HTTPS server on loopback with a test CA. The legitimate
// cases turn on allowPrivateAddresses (the server is on 127.0.0.1); the address
// attacks run without it. Every refusal leaves the run's directory empty and writes
// nothing beside it.
import t, { type Test } from 'tap'
import { readFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { LookupAddress } from 'node:dns'
import { HostAllowlist } from './url-rules.ts'
import {
  packedContext, rawTar, sandbox, serve, sha256, sourceWith, startTarballServer, testCertificates, tree,
  type TarballServer, type TestCa
} from './test-support.ts'
import type { TarballSourceOptions } from './source.ts'

const certs: TestCa = await testCertificates()
const scratch = await sandbox(t)
const context = await packedContext(scratch.root)
const contextSha = sha256(context)

async function setup (t: Test, overrides: Partial<TarballSourceOptions> = {}) {
  const server: TarballServer = await startTarballServer(t, certs)
  server.routes.set('/ctx.tar.gz', serve(context))
  const box = await sandbox(t)
  const source = sourceWith({ ca: [certs.ca.cert], ...overrides })
  const fetchUrl = (url: string, extra: { tarballSha256?: string, signal?: AbortSignal } = {}) => source.fetch({
    kind: 'tarball_url', tarballUrl: url, destDir: box.destDir, signal: extra.signal ?? AbortSignal.timeout(30_000),
    ...(extra.tarballSha256 === undefined ? {} : { tarballSha256: extra.tarballSha256 })
  })
  return { server, box, source, fetchUrl }
}

/** the refusal left nothing: destDir empty, nothing beside it */
async function nothingKept (t: Test, box: { root: string, destDir: string }) {
  t.same(await readdir(box.destDir), [], 'destDir is empty')
  t.same(await tree(box.root), ['outside/', 'work/', 'work/dest/'], 'nothing written anywhere else')
}

t.test('a legitimate tarball URL is fetched, verified, extracted, and its archive kept', async t => {
  const { server, box, fetchUrl } = await setup(t)
  const fetched = await fetchUrl(server.url('/ctx.tar.gz'), { tarballSha256: contextSha.toUpperCase() })
  t.equal(fetched.sha256, contextSha)
  t.equal(fetched.revision, null)
  t.equal(fetched.dir, join(box.destDir, 'context'))
  t.equal(fetched.archivePath, join(box.destDir, 'source.tar.gz'))
  t.same(await readFile(fetched.archivePath as string), context, 'the archive is kept byte for byte')
  t.equal(await readFile(join(fetched.dir, 'hello.txt'), 'utf8'), 'hello from a tarball\n')
  t.same(await tree(box.destDir), ['context/', 'context/Dockerfile', 'context/bin/', 'context/bin/run.sh', 'context/hello.txt', 'source.tar.gz'])
  const script = await stat(join(fetched.dir, 'bin', 'run.sh'))
  t.equal(script.mode & 0o7777, 0o755, 'executable kept, setuid dropped')
  t.equal((await stat(join(fetched.dir, 'hello.txt'))).mode & 0o7777, 0o644)
})

t.test('a plain (uncompressed) tar works too', async t => {
  const { server, box, fetchUrl } = await setup(t)
  const plain = await packedContext(box.root, false)
  server.routes.set('/ctx.tar', serve(plain))
  const fetched = await fetchUrl(server.url('/ctx.tar'))
  t.equal(fetched.archivePath, join(box.destDir, 'source.tar'))
  t.equal(fetched.sha256, sha256(plain))
  t.equal(await readFile(join(fetched.dir, 'Dockerfile'), 'utf8'), 'FROM scratch\nCOPY hello.txt /\n')
})

t.test('http:// is refused before any connection', async t => {
  const { server, box, fetchUrl } = await setup(t)
  await t.rejects(fetchUrl(server.url('/ctx.tar.gz').replace('https:', 'http:')), { code: 'JOB_SOURCE_REFUSED', message: /is not https/ })
  t.same(server.requests, [])
  await nothingKept(t, box)
})

t.test('a host not on the allowlist is refused; an empty allowlist allows nothing', async t => {
  const { server, box, fetchUrl } = await setup(t)
  await t.rejects(fetchUrl(server.url('/ctx.tar.gz', '127.0.0.1')), { code: 'JOB_SOURCE_REFUSED', message: /host "127\.0\.0\.1" is not on the tarball host allowlist/ })
  const closed = await setup(t, { allowlist: new HostAllowlist([]) })
  await t.rejects(closed.fetchUrl(server.url('/ctx.tar.gz')), { code: 'JOB_SOURCE_REFUSED', message: /allowlist is empty/ })
  await t.rejects(fetchUrl('https://user:secret@localhost/ctx.tar.gz'), { code: 'JOB_SOURCE_REFUSED', message: /carries credentials/ })
  t.same(server.requests, [])
  await nothingKept(t, box)
})

t.test('a host resolving to a loopback address is refused without allowPrivateAddresses', async t => {
  const { server, box, fetchUrl } = await setup(t, { allowPrivateAddresses: false })
  await t.rejects(fetchUrl(server.url('/ctx.tar.gz')), { code: 'JOB_SOURCE_REFUSED', message: /resolves to 127\.0\.0\.1, a loopback address/ })
  t.same(server.requests, [], 'never connected')
  await nothingKept(t, box)
})

t.test('every address of a host is checked, and the connection goes to the checked one (no DNS rebinding)', async t => {
  const answers: LookupAddress[][] = [
    [{ address: '127.0.0.1', family: 4 }],
    [{ address: '8.8.8.8', family: 4 }, { address: '169.254.169.254', family: 4 }]
  ]
  let lookups = 0
  const resolve = async (): Promise<LookupAddress[]> => answers[Math.min(lookups++, answers.length - 1)] as LookupAddress[]
  // With private addresses allowed, the first answer (loopback) is pinned; a second
  // lookup by the HTTP stack would get the other answer and fail to connect.
  const { server, fetchUrl } = await setup(t, { resolve })
  const fetched = await fetchUrl(server.url('/ctx.tar.gz'))
  t.equal(fetched.sha256, contextSha)
  t.equal(lookups, 1, 'resolved once; the connection used the pinned address')
  // Without the development option, a public address beside a metadata address is refused.
  const strict = await setup(t, { resolve: async () => answers[1] as LookupAddress[], allowPrivateAddresses: false })
  await t.rejects(strict.fetchUrl(server.url('/ctx.tar.gz')), { code: 'JOB_SOURCE_REFUSED', message: /169\.254\.169\.254, a link-local/ })
  await nothingKept(t, strict.box)
})

t.test('redirects are followed and every hop is checked again', async t => {
  const { server, box, fetchUrl } = await setup(t, { allowlist: new HostAllowlist(['localhost', '127.0.0.1']) })
  server.routes.set('/moved', (_req, res) => { res.writeHead(302, { location: '/ctx.tar.gz' }).end() })
  const fetched = await fetchUrl(server.url('/moved'))
  t.equal(fetched.sha256, contextSha, 'a same-host redirect is followed')
  t.same(server.requests, ['/moved', '/ctx.tar.gz'])
  await t.test('to a host not on the allowlist', async t => {
    const box2 = await setup(t)
    box2.server.routes.set('/away', (_req, res) => { res.writeHead(301, { location: box2.server.url('/ctx.tar.gz', 'evil.example') }).end() })
    await t.rejects(box2.fetchUrl(box2.server.url('/away')), { code: 'JOB_SOURCE_REFUSED', message: /redirect from .* to host "evil\.example" is not on the tarball host allowlist/ })
    t.same(box2.server.requests, ['/away'])
    await nothingKept(t, box2.box)
  })
  await t.test('to http://', async t => {
    const box2 = await setup(t)
    box2.server.routes.set('/down', (_req, res) => { res.writeHead(307, { location: `http://localhost:${box2.server.port}/ctx.tar.gz` }).end() })
    await t.rejects(box2.fetchUrl(box2.server.url('/down')), { code: 'JOB_SOURCE_REFUSED', message: /is not https/ })
    t.same(box2.server.requests, ['/down'])
    await nothingKept(t, box2.box)
  })
  await t.test('to a private address', async t => {
    // The test server is on loopback, so the first hop is let through by naming its
    // exact address (allowAddresses), not by allowing every private address; the
    // redirect names a host whose address (a stand-in DNS answer: 10.0.0.7) is private.
    const resolve = async (host: string): Promise<LookupAddress[]> => host === 'internal.example' ? [{ address: '10.0.0.7', family: 4 }] : [{ address: '127.0.0.1', family: 4 }]
    const box2 = await setup(t, { allowlist: new HostAllowlist(['localhost', 'internal.example']), resolve, allowPrivateAddresses: false, allowAddresses: ['127.0.0.1'] })
    box2.server.routes.set('/inside', (_req, res) => { res.writeHead(308, { location: 'https://internal.example/ctx.tar.gz' }).end() })
    t.equal((await box2.fetchUrl(box2.server.url('/ctx.tar.gz'))).sha256, contextSha, 'the named address is reachable')
    const box3 = await setup(t, { allowlist: new HostAllowlist(['localhost', 'internal.example']), resolve, allowPrivateAddresses: false, allowAddresses: ['127.0.0.1'] })
    box3.server.routes.set('/inside', (_req, res) => { res.writeHead(308, { location: 'https://internal.example/ctx.tar.gz' }).end() })
    await t.rejects(box3.fetchUrl(box3.server.url('/inside')), { code: 'JOB_SOURCE_REFUSED', message: /host "internal\.example" resolves to 10\.0\.0\.7, a private/ })
    t.same(box3.server.requests, ['/inside'])
    await nothingKept(t, box3.box)
    const literal = await setup(t, { allowlist: new HostAllowlist(['localhost', '169.254.169.254']), allowPrivateAddresses: false })
    await t.rejects(literal.fetchUrl('https://169.254.169.254/latest/meta-data/'), { code: 'JOB_SOURCE_REFUSED', message: /169\.254\.169\.254, a link-local/ })
    await nothingKept(t, literal.box)
  })
  await t.test('too many redirects', async t => {
    const box2 = await setup(t, { maxRedirects: 2 })
    box2.server.routes.set('/loop', (_req, res) => { res.writeHead(302, { location: '/loop' }).end() })
    await t.rejects(box2.fetchUrl(box2.server.url('/loop')), { code: 'JOB_SOURCE_REFUSED', message: /redirected more than 2 times/ })
    t.equal(box2.server.requests.length, 3)
    await nothingKept(t, box2.box)
  })
  t.ok(box)
})

t.test('a body over the cap is cut: refused early by Content-Length, and while streaming without one', async t => {
  const { server, box, fetchUrl } = await setup(t, { maxBytes: 64 * 1024 })
  const big = Buffer.alloc(256 * 1024, 7)
  server.routes.set('/declared', serve(big))
  await t.rejects(fetchUrl(server.url('/declared')), { code: 'JOB_SOURCE_TOO_LARGE', message: /is 262144 bytes, over the 65536-byte tarball cap/ })
  await nothingKept(t, box)
  let sent = 0
  server.routes.set('/chunked', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/gzip' })
    const push = () => {
      while (sent < 4 * 1024 * 1024) {
        sent += 16 * 1024
        if (!res.write(Buffer.alloc(16 * 1024, 1))) { res.once('drain', push); return }
      }
      res.end()
    }
    res.on('close', () => { sent = Infinity })
    push()
  })
  await t.rejects(fetchUrl(server.url('/chunked')), { code: 'JOB_SOURCE_TOO_LARGE', message: /sent more than the 65536-byte tarball cap/ })
  await nothingKept(t, box)
})

t.test('a slow server is timed out', async t => {
  const { server, box, fetchUrl } = await setup(t, { timeoutMs: 500 })
  server.routes.set('/slow', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/gzip' })
    res.write(context.subarray(0, 10))
    // ...and nothing more, ever (the socket is destroyed when the test server closes)
  })
  server.routes.set('/silent', () => { /* never answers */ })
  await t.rejects(fetchUrl(server.url('/slow')), { code: 'JOB_SOURCE_TIMEOUT', message: /took longer than 500 ms/ })
  await nothingKept(t, box)
  await t.rejects(fetchUrl(server.url('/silent')), { code: 'JOB_SOURCE_TIMEOUT', message: /took longer than 500 ms/ })
  await nothingKept(t, box)
  const aborted = new AbortController()
  setTimeout(() => aborted.abort(new Error('run canceled')), 100)
  const patient = await setup(t, { timeoutMs: 60_000 })
  patient.server.routes.set('/silent', () => { /* never answers */ })
  await t.rejects(patient.fetchUrl(patient.server.url('/silent'), { signal: aborted.signal }), { code: 'JOB_SOURCE_TIMEOUT', message: /aborted/ })
  await nothingKept(t, patient.box)
})

t.test('a SHA-256 mismatch is refused and nothing is extracted', async t => {
  const { server, box, fetchUrl } = await setup(t)
  await t.rejects(fetchUrl(server.url('/ctx.tar.gz'), { tarballSha256: 'a'.repeat(64) }), { code: 'JOB_SOURCE_REFUSED', message: new RegExp(`SHA-256 is ${contextSha}, not the tarballSha256 a{64}`) })
  await nothingKept(t, box)
  await t.rejects(fetchUrl(server.url('/ctx.tar.gz'), { tarballSha256: 'not-a-digest' }), { code: 'JOB_SOURCE_REFUSED', message: /64 hexadecimal/ })
  t.same(server.requests, ['/ctx.tar.gz'], 'a malformed digest is refused before fetching')
})

t.test('a server error, a missing file and an untrusted certificate are clear failures', async t => {
  const { server, box, fetchUrl } = await setup(t)
  server.routes.set('/boom', (_req, res) => { res.writeHead(500).end() })
  await t.rejects(fetchUrl(server.url('/boom')), { code: 'JOB_SOURCE_FAILED', message: /answered HTTP 500/ })
  await t.rejects(fetchUrl(server.url('/missing.tgz')), { code: 'JOB_SOURCE_NOT_FOUND', message: /answered HTTP 404/ })
  const untrusted = await setup(t, { ca: [] })
  untrusted.server.routes.set('/ctx.tar.gz', serve(context))
  await t.rejects(untrusted.fetchUrl(untrusted.server.url('/ctx.tar.gz')), { code: 'JOB_SOURCE_FAILED', message: /certificate/ })
  await nothingKept(t, box)
  await nothingKept(t, untrusted.box)
})

t.test('a hostile archive served over HTTPS is refused the same way as a local one', async t => {
  const { server, box, fetchUrl } = await setup(t)
  server.routes.set('/evil.tgz', serve(rawTar([{ path: '../../outside/pwned', body: 'x' }])))
  await t.rejects(fetchUrl(server.url('/evil.tgz')), { code: 'JOB_SOURCE_REFUSED', message: /contains '\.\.'/ })
  await nothingKept(t, box)
})
