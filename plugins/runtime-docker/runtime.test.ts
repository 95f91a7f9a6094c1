// The Docker runtime against a real engine: podman's Docker-compatible API on a socket
// of this test's own, and a job image built FROM the BusyBox base image.
import t from 'tap'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type Docker from 'dockerode'
import type { ContainerRunSpec } from '@switchyard/core'
import { waitFor } from '@switchyard/core/testing'
import { ensureJobBaseImage, podmanMissing, startPodmanService } from '../../test/support/podman.ts'
import { createDockerRuntime, truncationMarker } from './index.ts'

const missing = await podmanMissing()
if (missing !== null) t.plan(0, `skipped: ${missing}`)
else await suite()

async function suite (): Promise<void> {
  const podman = await startPodmanService()
  t.teardown(async () => {
    // a failed engine call (a reset connection, say) is explained by the service's own log, if anywhere
    if (!t.passing()) t.comment(`podman system service log (last 20,000 characters):\n${podman.log()}`)
    await podman.close()
  })
  const baseImage = await ensureJobBaseImage(podman.env)
  const root = await mkdtemp(join(tmpdir(), 'sy-runtime-docker-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  const suffix = randomBytes(4).toString('hex')
  // Labels of this test's own: a job runner's reaper in a parallel test file lists the
  // runner's labels, never these.
  const LABEL = `io.switchyard.test.runtime-${suffix}`
  const tag = `localhost/switchyard-test-job:${suffix}`
  t.teardown(async () => { await podman.docker.getImage(tag).remove({ force: true }).catch(() => undefined) })

  const runtime = createDockerRuntime({ socketPath: podman.socketPath, requestTimeoutMs: 60_000, defaults: { stopGraceMs: 2000 } })

  function spec (command: string[], extra: Partial<ContainerRunSpec> = {}): ContainerRunSpec {
    return {
      image: tag,
      command,
      env: [],
      labels: { [LABEL]: 'yes' },
      user: '',
      network: 'none',
      timeoutMs: 60_000,
      stopGraceMs: 2000,
      outputMaxBytes: 1024 * 1024,
      signal: new AbortController().signal,
      ...extra
    }
  }

  async function gone (docker: Docker, id: string): Promise<boolean> {
    try {
      await docker.getContainer(id).inspect()
      return false
    } catch (err) {
      return (err as { statusCode?: number }).statusCode === 404
    }
  }

  t.test('ping answers; a socket with nothing behind it is a clear error naming it', async t => {
    await runtime.ping()
    const nowhere = createDockerRuntime({ socketPath: join(root, 'nothing.sock'), requestTimeoutMs: 5000 })
    await t.rejects(nowhere.ping(), { code: 'CONTAINER_ENGINE_UNAVAILABLE', message: new RegExp(`unix://${join(root, 'nothing.sock')} did not answer`) })
  })

  t.test('build from a context dir: output streamed, labels set, the second lookup hits the cache', async t => {
    const context = join(root, 'context')
    await mkdir(join(context, 'docker'), { recursive: true })
    await writeFile(join(context, 'hello.txt'), 'hello from the context\n')
    await writeFile(join(context, 'docker', 'Dockerfile.job'), `FROM ${baseImage}\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt\nCMD ["cat", "/hello.txt"]\n`)
    t.equal(await runtime.findImage(tag), null, 'nothing cached yet')
    let log = ''
    const { imageId } = await runtime.buildImage({
      contextDir: context, dockerfile: 'docker/Dockerfile.job', tag, labels: { 'io.switchyard.cache-key': suffix },
      timeoutMs: 120_000, signal: new AbortController().signal, onOutput: chunk => { log += chunk }
    })
    t.match(imageId, /^(sha256:)?[0-9a-f]{64}$/)
    t.match(log, /hello from the context/, 'the RUN step output came through onOutput')
    t.equal(await runtime.findImage(tag), imageId, 'found by tag')
    const inspected = await podman.docker.getImage(tag).inspect()
    t.equal(inspected.Config.Labels?.['io.switchyard.cache-key'], suffix)
  })

  t.test('a failing build is IMAGE_BUILD_FAILED with the last lines; no network during the build', async t => {
    const context = join(root, 'failing')
    await mkdir(context, { recursive: true })
    await writeFile(join(context, 'Dockerfile'), `FROM ${baseImage}\nRUN echo "about to fail" && ls /sys/class/net && exit 3\n`)
    const err = await runtime.buildImage({ contextDir: context, dockerfile: 'Dockerfile', tag: `${tag}-failing`, labels: {}, timeoutMs: 120_000, signal: new AbortController().signal })
      .then(() => null, (e: unknown) => e as Error & { code: string })
    t.equal(err?.code, 'IMAGE_BUILD_FAILED')
    t.match(err?.message, /last lines of the build output[\s\S]*about to fail/)
    t.match(err?.message, /\blo\b/, 'the build step sees only the loopback interface')
    t.notMatch(err?.message, /\beth0\b/)
    t.equal(await runtime.findImage(`${tag}-failing`), null)
  })

  t.test('a FROM image the engine lacks refuses the build before it starts (builds never pull)', async t => {
    const context = join(root, 'missing-base')
    await mkdir(context, { recursive: true })
    await writeFile(join(context, 'Dockerfile'), `FROM ${baseImage} AS base\nFROM registry.invalid/switchyard/absent:1\nRUN echo never\n`)
    const output: string[] = []
    const err = await runtime.buildImage({ contextDir: context, dockerfile: 'Dockerfile', tag: `${tag}-missing-base`, labels: {}, timeoutMs: 60_000, signal: new AbortController().signal, onOutput: line => output.push(line) })
      .then(() => null, (e: unknown) => e as Error & { code: string })
    t.equal(err?.code, 'IMAGE_BUILD_FAILED')
    t.match(err?.message, /registry\.invalid\/switchyard\/absent:1.*never pull/)
    t.same(output, [], 'no build step ran')
    t.equal(await runtime.findImage(`${tag}-missing-base`), null)
  })

  t.test('ADD of a URL is refused before the build: the builder would fetch it from the host\'s network', async t => {
    // podman fetches ADD sources itself, outside the build's network namespace: without
    // the check this server on the host's loopback answers the build.
    const requests: string[] = []
    const server = createHttpServer((req, res) => { requests.push(req.url ?? ''); res.end('secret of the host\n') })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>(resolve => server.close(() => resolve())))
    const { port } = server.address() as AddressInfo
    const context = join(root, 'add-url')
    await mkdir(context, { recursive: true })
    for (const line of [`ADD http://127.0.0.1:${port}/secret /secret`, `RUN --network=host wget -q -O- http://127.0.0.1:${port}/run`]) {
      await writeFile(join(context, 'Dockerfile'), `FROM ${baseImage}\n${line}\nRUN cat /secret\n`)
      const output: string[] = []
      const err = await runtime.buildImage({ contextDir: context, dockerfile: 'Dockerfile', tag: `${tag}-add-url`, labels: {}, timeoutMs: 60_000, signal: new AbortController().signal, onOutput: chunk => output.push(chunk) })
        .then(() => null, (e: unknown) => e as Error & { code: string })
      t.equal(err?.code, 'IMAGE_BUILD_FAILED', line)
      t.match(err?.message, /network/)
      t.same(output, [], 'no build step ran')
      t.equal(await runtime.findImage(`${tag}-add-url`), null)
    }
    t.same(requests, [], 'the host\'s server was never asked')
  })

  t.test('aborting a build rejects with the abort reason and tags nothing', async t => {
    const context = join(root, 'slow')
    await mkdir(context, { recursive: true })
    await writeFile(join(context, 'Dockerfile'), `FROM ${baseImage}\nRUN echo building-slowly && sleep 120\n`)
    const controller = new AbortController()
    const reason = new Error('canceled by the test')
    const building = runtime.buildImage({
      contextDir: context, dockerfile: 'Dockerfile', tag: `${tag}-slow`, labels: {}, timeoutMs: 120_000, signal: controller.signal,
      onOutput: chunk => { if (chunk.includes('building-slowly')) controller.abort(reason) }
    })
    await t.rejects(building, reason)
    t.equal(await runtime.findImage(`${tag}-slow`), null)
  })

  t.test('run: combined output, exit code, onCreated before start, the container removed after', async t => {
    let created = ''
    const result = await runtime.runContainer(spec(['sh', '-c', 'echo to-stdout; echo to-stderr >&2; cat /hello.txt; exit 7'], { onCreated: id => { created = id } }))
    t.equal(result.exitCode, 7)
    t.equal(result.containerId, created)
    t.same([result.timedOut, result.canceled, result.truncated], [false, false, false])
    const text = Buffer.from(result.output).toString()
    t.match(text, /to-stdout\n/)
    t.match(text, /to-stderr\n/)
    t.match(text, /hello from the context/)
    t.equal(result.outputBytes, result.output.length)
    t.ok(result.finishedAt >= result.startedAt)
    t.ok(await gone(podman.docker, created), 'removed')
  })

  t.test('hardening: visible in the engine and from inside', async t => {
    let inspected: Promise<Docker.ContainerInspectInfo> | undefined
    const script = [
      'echo "uid=$(id -u) gid=$(id -g)"',
      'touch /rootfs-write 2>/dev/null && echo "rootfs:writable" || echo "rootfs:read-only"',
      'echo x > /tmp/scratch && echo "tmp:writable"',
      'cp /bin/busybox /tmp/bb && (/tmp/bb true 2>/dev/null && echo "tmp:exec" || echo "tmp:noexec")',
      'echo "net:$(ls /sys/class/net | tr "\\n" " ")"',
      'grep -E "^(CapEff|NoNewPrivs):" /proc/self/status'
    ].join('; ')
    const result = await runtime.runContainer(spec(['sh', '-c', script], {
      pids: 64,
      memoryBytes: 64 * 1024 * 1024,
      cpus: 0.5,
      onCreated: id => { inspected = podman.docker.getContainer(id).inspect() }
    }))
    const info = await inspected as Docker.ContainerInspectInfo
    const host = info.HostConfig as Docker.HostConfig
    // Docker reports CapDrop ["ALL"]; podman the list of capabilities it dropped. The effective set inside (below) is the proof.
    t.ok(host.CapDrop !== undefined && host.CapDrop.length > 0, `CapDrop ${JSON.stringify(host.CapDrop)}`)
    t.same(host.CapAdd ?? [], [])
    t.equal(host.ReadonlyRootfs, true)
    t.ok(host.SecurityOpt?.some((opt: string) => /^no-new-privileges(:true)?$/.test(opt)), `SecurityOpt ${JSON.stringify(host.SecurityOpt)}`)
    t.equal(info.Config.User, '65534:65534')
    t.equal(host.PidsLimit, 64)
    t.equal(host.Memory, 64 * 1024 * 1024)
    t.equal(host.NanoCpus, 5e8)
    t.equal(host.NetworkMode, 'none')
    t.equal(host.Privileged, false)
    t.equal(info.Config.Labels?.[LABEL], 'yes')
    const text = Buffer.from(result.output).toString()
    t.equal(result.exitCode, 0, text)
    t.match(text, /uid=65534 gid=65534/)
    t.match(text, /rootfs:read-only/)
    t.match(text, /tmp:writable/)
    t.match(text, /tmp:noexec/)
    t.match(text, /net:lo \n/, 'no interface but the loopback')
    t.match(text, /CapEff:\s+0000000000000000/)
    t.match(text, /NoNewPrivs:\s+1/)
  })

  t.test('a root user is refused before any container exists', async t => {
    const before = await runtime.listManagedContainers(LABEL)
    for (const user of ['0', 'root', '0:0', '1000:0']) {
      await t.rejects(runtime.runContainer(spec(['true'], { user })), { code: 'VALIDATION_FAILED', details: { field: 'user' } }, user)
    }
    t.equal((await runtime.listManagedContainers(LABEL)).length, before.length)
  })

  t.test('10 MB of output is cut at the cap with the marker; onOutput never sees more than the cap', async t => {
    let streamed = 0
    const cap = 64 * 1024
    const result = await runtime.runContainer(spec(['sh', '-c', 'head -c 10485760 /dev/zero | tr "\\0" a; echo; echo done >&2'], {
      outputMaxBytes: cap,
      onOutput: chunk => { streamed += chunk.length }
    }))
    t.equal(result.exitCode, 0)
    t.equal(result.truncated, true)
    t.equal(result.outputBytes, 10 * 1024 * 1024 + 1 + 5, 'every byte was counted (drained, not cut off)')
    const text = Buffer.from(result.output).toString()
    t.equal(text, 'a'.repeat(cap) + truncationMarker(cap, result.outputBytes))
    t.equal(streamed, cap)
  })

  t.test('past its timeout a container gets SIGTERM, then SIGKILL after the grace period', async t => {
    const graceful = await runtime.runContainer(spec(['sh', '-c', 'trap "echo got SIGTERM; exit 0" TERM; echo started; sleep 120 & wait'], { timeoutMs: 1500, stopGraceMs: 30_000 }))
    t.equal(graceful.timedOut, true)
    t.equal(graceful.canceled, false)
    t.equal(graceful.exitCode, null)
    t.match(Buffer.from(graceful.output).toString(), /started\n[\s\S]*got SIGTERM/, 'SIGTERM came first and was handled')
    t.ok(await gone(podman.docker, graceful.containerId))

    // sleep as PID 1 has no SIGTERM handler: only SIGKILL ends it.
    const stubborn = await runtime.runContainer(spec(['sleep', '120'], { timeoutMs: 1000, stopGraceMs: 500 }))
    t.equal(stubborn.timedOut, true)
    t.equal(stubborn.exitCode, null)
    t.ok(stubborn.finishedAt - stubborn.startedAt < 60_000, 'stopped long before sleep would have ended')
    t.ok(await gone(podman.docker, stubborn.containerId))
  })

  t.test('aborting the signal mid-run cancels: the container is stopped and gone', async t => {
    const controller = new AbortController()
    let seen = ''
    const result = await runtime.runContainer(spec(['sh', '-c', 'echo ready; sleep 120'], {
      signal: controller.signal,
      stopGraceMs: 500,
      onOutput: chunk => { seen += Buffer.from(chunk).toString(); if (seen.includes('ready')) controller.abort() }
    }))
    t.equal(result.canceled, true)
    t.equal(result.timedOut, false)
    t.equal(result.exitCode, null)
    t.match(Buffer.from(result.output).toString(), /ready/)
    t.ok(await gone(podman.docker, result.containerId))

    const early = new AbortController()
    early.abort()
    const never = await runtime.runContainer(spec(['sh', '-c', 'echo should-not-run'], { signal: early.signal }))
    t.equal(never.canceled, true)
    t.equal(Buffer.from(never.output).toString(), '', 'never started')
    t.ok(await gone(podman.docker, never.containerId))
  })

  t.test('files written to /artifacts are on the host afterwards', async t => {
    const artifactsDir = join(root, 'run-1', 'artifacts')
    await mkdir(artifactsDir, { recursive: true })
    const result = await runtime.runContainer(spec(['sh', '-c', 'echo report > /artifacts/report.txt && mkdir /artifacts/sub && echo nested > /artifacts/sub/n.txt'], { artifactsDir }))
    t.equal(result.exitCode, 0, Buffer.from(result.output).toString())
    t.equal(await readFile(join(artifactsDir, 'report.txt'), 'utf8'), 'report\n')
    t.equal(await readFile(join(artifactsDir, 'sub', 'n.txt'), 'utf8'), 'nested\n')
  })

  t.test('listManagedContainers finds labelled containers in any state; removeContainer removes, a missing one is fine', async t => {
    const make = async (start: boolean): Promise<Docker.Container> => {
      const container = await podman.docker.createContainer({ Image: tag, Cmd: ['sleep', '120'], Labels: { [LABEL]: 'orphan' }, HostConfig: { NetworkMode: 'none' } })
      if (start) await container.start()
      return container
    }
    const running = await make(true)
    const created = await make(false)
    const listed = await runtime.listManagedContainers(LABEL)
    t.same(listed.map(c => c.id).sort(), [running.id, created.id].sort())
    t.equal(listed.find(c => c.id === running.id)?.running, true)
    t.equal(listed.find(c => c.id === created.id)?.running, false)
    t.equal(listed[0]?.labels[LABEL], 'orphan')
    t.same(await runtime.listManagedContainers(`${LABEL}.none`), [], 'another label key lists nothing')
    await runtime.removeContainer(running.id)
    await runtime.removeContainer(created.id)
    await waitFor(async () => (await runtime.listManagedContainers(LABEL)).length === 0, { timeoutMs: 30_000, what: 'the containers to be gone' })
    await runtime.removeContainer(running.id)
    t.pass('removing a missing container is not an error')
  })
}
