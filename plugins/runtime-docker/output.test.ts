import t from 'tap'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { execFileSync } from 'node:child_process'
import * as tar from 'tar'
import { CappedOutput, FrameDecoder, truncationMarker } from './output.ts'
import { checkedDockerfile, packBuildContext } from './context.ts'
import { checkedUser, containerCreateOptions } from './run.ts'
import { resolveSocketPath } from './engine.ts'
import { DEFAULT_RUN_DEFAULTS } from './runtime.ts'

function frame (stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text)
  const header = Buffer.alloc(8)
  header.writeUInt8(stream, 0)
  header.writeUInt32BE(payload.length, 4)
  return Buffer.concat([header, payload])
}

t.test('FrameDecoder: stdout and stderr payloads in order, across any chunking', async t => {
  const bytes = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err\n'), frame(1, ''), frame(1, 'out two\n')])
  for (const size of [1, 3, 7, 8, 9, 13, bytes.length]) {
    const decoder = new FrameDecoder()
    const payloads: Buffer[] = []
    for (let i = 0; i < bytes.length; i += size) payloads.push(...decoder.push(bytes.subarray(i, i + size)))
    t.equal(Buffer.concat(payloads).toString(), 'out one\nerr\nout two\n', `chunks of ${size}`)
  }
})

t.test('CappedOutput keeps the first maxBytes, counts the rest and appends the marker', async t => {
  const output = new CappedOutput(10)
  t.equal(output.push(Buffer.from('12345')).toString(), '12345')
  t.equal(output.push(Buffer.from('6789abcdef')).toString(), '6789a')
  t.equal(output.push(Buffer.from('more')).length, 0, 'nothing past the cap')
  t.equal(output.totalBytes, 19)
  t.ok(output.truncated)
  t.equal(output.result().toString(), '123456789a' + truncationMarker(10, 19))

  const exact = new CappedOutput(3)
  exact.push(Buffer.from('abc'))
  t.notOk(exact.truncated, 'exactly the cap is not cut')
  t.equal(exact.result().toString(), 'abc')
  t.throws(() => new CappedOutput(-1), RangeError)
})

t.test('users: numeric and non-root only', async t => {
  t.equal(checkedUser('65534:65534'), '65534:65534')
  t.equal(checkedUser('1000'), '1000')
  for (const user of ['0', '0:0', '00', 'root', 'root:root', '1000:0', 'nobody', '', '1000:', ' 1000']) {
    t.throws(() => checkedUser(user), { code: 'VALIDATION_FAILED', details: { field: 'user' } }, JSON.stringify(user))
  }
})

t.test('create options carry the hardening and the limits', async t => {
  const spec = {
    image: 'img', command: ['sh', '-c', 'true'], env: ['A=1'], labels: { l: 'v' }, user: '', network: '', timeoutMs: 1000,
    stopGraceMs: 100, outputMaxBytes: 10, signal: new AbortController().signal, artifactsDir: '/srv/run/artifacts', pids: 32
  }
  const options = containerCreateOptions(spec, DEFAULT_RUN_DEFAULTS)
  t.match(options, {
    Image: 'img', Cmd: ['sh', '-c', 'true'], Env: ['A=1'], Labels: { l: 'v' }, User: '65534:65534',
    HostConfig: {
      Privileged: false, SecurityOpt: ['no-new-privileges'], CapDrop: ['ALL'], ReadonlyRootfs: true,
      Tmpfs: { '/tmp': 'rw,noexec,nosuid,nodev,size=67108864' }, Memory: 512 * 1024 * 1024, MemorySwap: 512 * 1024 * 1024,
      NanoCpus: 1e9, PidsLimit: 32, NetworkMode: 'none',
      Mounts: [{ Type: 'bind', Source: '/srv/run/artifacts', Target: '/artifacts', ReadOnly: false }]
    }
  })
  t.notOk('Binds' in (options.HostConfig ?? {}), 'no other host path')
  t.notOk('Cmd' in containerCreateOptions({ ...spec, command: [] }, DEFAULT_RUN_DEFAULTS), "an empty command keeps the image's CMD")
  t.throws(() => containerCreateOptions({ ...spec, artifactsDir: 'rel' }, DEFAULT_RUN_DEFAULTS), { code: 'VALIDATION_FAILED', details: { field: 'artifactsDir' } })
  t.throws(() => containerCreateOptions({ ...spec, memoryBytes: 1024 }, DEFAULT_RUN_DEFAULTS), { code: 'VALIDATION_FAILED', details: { field: 'memoryBytes' } })
})

t.test('socket path: explicit, else DOCKER_HOST (unix only), else the default', async t => {
  t.equal(resolveSocketPath('/run/podman.sock', {}), '/run/podman.sock')
  t.equal(resolveSocketPath('unix:///run/x.sock', {}), '/run/x.sock')
  t.equal(resolveSocketPath(undefined, { DOCKER_HOST: 'unix:///run/user/1000/podman/podman.sock' }), '/run/user/1000/podman/podman.sock')
  t.equal(resolveSocketPath(undefined, { DOCKER_HOST: 'tcp://10.0.0.1:2375' }), '/var/run/docker.sock')
  t.equal(resolveSocketPath(undefined, {}), '/var/run/docker.sock')
})

t.test('build context: symbolic links are sent as links (never followed), special files are left out', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-runtime-context-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const outside = join(dir, '..', `sy-runtime-secret-${process.pid}`)
  await writeFile(outside, 'host secret')
  t.teardown(() => rm(outside, { force: true }))
  const context = join(dir, 'ctx')
  await mkdir(join(context, 'sub'), { recursive: true })
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch\n')
  await writeFile(join(context, 'sub', 'file.txt'), 'inside')
  await symlink(outside, join(context, 'escape'))
  execFileSync('mkfifo', [join(context, 'pipe')])
  const packed = await packBuildContext(context, 'Dockerfile')
  const entries: Array<{ path: string, type: string, linkpath?: string, body: string }> = []
  const parser = new tar.Parser({
    onReadEntry: entry => {
      let body = ''
      entry.on('data', (chunk: Buffer) => { body += chunk.toString() })
      entry.on('end', () => { entries.push({ path: entry.path, type: entry.type, linkpath: entry.linkpath, body }) })
    }
  })
  await new Promise<void>((resolve, reject) => {
    Readable.from(packed.stream).pipe(parser as unknown as NodeJS.WritableStream).on('finish', resolve).on('error', reject)
  })
  t.same(entries.map(e => e.path).sort(), ['Dockerfile', 'escape', 'sub/', 'sub/file.txt'])
  const link = entries.find(e => e.path === 'escape')
  t.equal(link?.type, 'SymbolicLink')
  t.equal(link?.body, '', 'the target is not read')
  t.notOk(entries.some(e => e.body.includes('host secret')))

  await t.rejects(packBuildContext(context, '../Dockerfile'), { code: 'VALIDATION_FAILED', details: { field: 'dockerfile' } })
  await t.rejects(packBuildContext(context, 'escape'), { code: 'IMAGE_BUILD_FAILED', message: /no regular file escape/ })
  await t.rejects(packBuildContext('relative/dir', 'Dockerfile'), { code: 'VALIDATION_FAILED', details: { field: 'contextDir' } })
  t.equal(checkedDockerfile('docker/Dockerfile.job'), 'docker/Dockerfile.job')
  t.equal(checkedDockerfile(''), 'Dockerfile')
})
