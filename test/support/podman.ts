// Podman's Docker-compatible API for tests that need a real container engine: a
// `podman system service` on a socket of the test's own, and the small BusyBox base
// image job images are built FROM (scripts/container/job-base-image.sh).
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Docker from 'dockerode'
import { imageBuildsRunning } from './image-build-marker.ts'

const run = promisify(execFile)

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const CONTAINER_SCRIPTS = join(REPO_ROOT, 'scripts', 'container')

/** Why the container tests cannot run here, or null when podman and runc are installed (.ci/run installs them). */
export async function podmanMissing (): Promise<string | null> {
  for (const tool of ['podman', 'runc', 'busybox']) {
    try {
      await run('sh', ['-c', `command -v ${tool}`])
    } catch {
      return `${tool} is not installed (scripts/container/setup-podman.sh installs podman, runc and busybox from Debian's packages)`
    }
  }
  return null
}

export interface PodmanService {
  docker: Docker
  socketPath: string
  /** CONTAINERS_CONF for podman commands run beside the API */
  env: NodeJS.ProcessEnv
  close (): Promise<void>
}

/** Starts `podman system service` on a socket in a temporary directory and waits until it answers a ping. */
export async function startPodmanService (): Promise<PodmanService> {
  const { stdout } = await run('bash', [join(CONTAINER_SCRIPTS, 'setup-podman.sh'), '--no-install'], { timeout: 60_000 })
  const env = { ...process.env, CONTAINERS_CONF: stdout.trim().split('\n').at(-1) as string }
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-podman-'))
  const socketPath = join(dir, 'podman.sock')
  const child: ChildProcess = spawn('podman', ['system', 'service', '--time=0', `unix://${socketPath}`], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { if (stderr.length < 20_000) stderr += d.toString() })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  const docker = new Docker({ socketPath, timeout: 600_000 })
  const close = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM')
    await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 10_000))])
    if (child.exitCode === null) child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  }
  // 30 s, and while an image build runs beside it (image-build-marker.ts), until 60 s
  // after the build ended, at most 10 minutes: its layer commits hold podman's storage.
  const started = Date.now()
  let deadline = started + 30_000
  let sawBuild = false
  for (;;) {
    if (child.exitCode !== null) throw new Error(`podman system service exited with ${child.exitCode}: ${stderr}`)
    if (existsSync(socketPath)) {
      try {
        await docker.ping()
        if (sawBuild && Date.now() - started > 30_000) await restartTapTimeout()
        return { docker, socketPath, env, close }
      } catch { /* not listening yet */ }
    }
    const builds = imageBuildsRunning()
    if (builds.length > 0) {
      sawBuild = true
      deadline = Math.min(Math.max(deadline, Date.now() + 60_000), started + BUILD_WAIT_MS)
    }
    if (Date.now() > deadline) {
      await close()
      const during = sawBuild ? `, waiting on an image build beside it (pid ${builds.join(', ') || 'ended'})` : ''
      throw new Error(`podman system service did not answer on ${socketPath} within ${Math.round((Date.now() - started) / 1000)} s${during}: ${stderr}`)
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** the longest an engine user waits for podman's storage while an image build runs */
const BUILD_WAIT_MS = 10 * 60_000

/**
 * In a tap test process (tap's IPC channel is open), restarts the file's timeout from
 * now after a long wait on an image build, which is not the test's own time: at least
 * the configured timeout and 20 minutes, the longest any engine-using file sets
 * itself (test/deploy/image.test.ts). A benchmark run by a test has no channel.
 */
async function restartTapTimeout (): Promise<void> {
  if (process.env.TAP_CHILD_ID === undefined || typeof process.send !== 'function') return
  const { t } = await import('tap')
  t.setTimeout(Math.max(Number(process.env.TAP_TIMEOUT ?? 0) * 1000, 20 * 60_000))
}

/** The BusyBox job base image (imported once; later calls cost a second). Returns its name. */
export async function ensureJobBaseImage (env: NodeJS.ProcessEnv): Promise<string> {
  // podman's commands wait for its storage while an image build commits a layer
  const timeout = imageBuildsRunning().length > 0 ? BUILD_WAIT_MS : 120_000
  const { stdout } = await run('bash', [join(CONTAINER_SCRIPTS, 'job-base-image.sh')], { env, timeout, maxBuffer: 1 << 20 })
  return stdout.trim().split('\n').at(-1) as string
}
