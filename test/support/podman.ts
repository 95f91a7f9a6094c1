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
import { acquireEngineLock, type EngineLockMode } from './engine-lock.ts'

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
  /** the service's own log (its stderr), the last 20,000 characters: what to show when an engine call failed */
  log (): string
  close (): Promise<void>
}

export interface PodmanServiceOptions {
  /**
   * How the service holds the machine's engine lock until close() (engine-lock.ts):
   * 'exclusive' for the image build, whose layer commits hold podman's storage for
   * long; 'shared' (the default) for every other user, which then never runs beside it.
   */
  engineLock?: EngineLockMode
}

/** the longest an engine user waits for the image build, or the build for the users before it */
const ENGINE_LOCK_TIMEOUT_MS = 15 * 60_000

/**
 * Starts `podman system service` on a socket in a temporary directory and waits until it
 * answers a ping, after taking the engine lock (see PodmanServiceOptions); a test that
 * waited for the lock gets that time back from tap.
 */
export async function startPodmanService (options: PodmanServiceOptions = {}): Promise<PodmanService> {
  const lock = await acquireEngineLock(options.engineLock ?? 'shared', ENGINE_LOCK_TIMEOUT_MS)
  try {
    if (lock.waitedMs > 1_000) await restartTapTimeout()
    const service = await startService()
    return { ...service, close: async () => { try { await service.close() } finally { lock.release() } } }
  } catch (err) {
    lock.release()
    throw err
  }
}

/**
 * In a tap test process (tap's IPC channel is open), restarts the file's timeout from
 * now after a wait for the engine lock, which is not the test's own time: at least the
 * configured timeout and 20 minutes, the longest any engine-using file sets itself
 * (test/deploy/image.test.ts). A benchmark run by a test has no channel.
 */
async function restartTapTimeout (): Promise<void> {
  if (process.env.TAP_CHILD_ID === undefined || typeof process.send !== 'function') return
  const { t } = await import('tap')
  t.setTimeout(Math.max(Number(process.env.TAP_TIMEOUT ?? 0) * 1000, 20 * 60_000))
}

async function startService (): Promise<PodmanService> {
  const { stdout } = await run('bash', [join(CONTAINER_SCRIPTS, 'setup-podman.sh'), '--no-install'], { timeout: 60_000 })
  const env = { ...process.env, CONTAINERS_CONF: stdout.trim().split('\n').at(-1) as string }
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-podman-'))
  const socketPath = join(dir, 'podman.sock')
  const child: ChildProcess = spawn('podman', ['system', 'service', '--time=0', `unix://${socketPath}`], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-20_000) })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  const docker = new Docker({ socketPath, timeout: 600_000 })
  const close = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM')
    await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 10_000))])
    if (child.exitCode === null) child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  }
  // longer than its start takes on a quiet machine: a loaded one (CI) can be slow to answer
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`podman system service exited with ${child.exitCode}: ${stderr}`)
    if (existsSync(socketPath)) {
      try {
        await docker.ping()
        return { docker, socketPath, env, log: () => stderr, close }
      } catch { /* not listening yet */ }
    }
    if (Date.now() > deadline) {
      await close()
      throw new Error(`podman system service did not answer on ${socketPath} within 60 s: ${stderr}`)
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** The BusyBox job base image (imported once; later calls cost a second). Returns its name. */
export async function ensureJobBaseImage (env: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await run('bash', [join(CONTAINER_SCRIPTS, 'job-base-image.sh')], { env, timeout: 120_000, maxBuffer: 1 << 20 })
  return stdout.trim().split('\n').at(-1) as string
}
