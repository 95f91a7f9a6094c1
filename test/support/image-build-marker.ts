// Tells the processes that use podman on this machine that an image build is running.
// The image build (test/deploy/image.test.ts) writes hundreds of megabytes of layers,
// and podman holds its storage lock while it applies each one: a `podman system
// service` started meanwhile answers its first request only after that (once not
// within 30 s, and the test that started it failed), and a `podman` command waits as
// well. So the build leaves a marker file for as long as it runs, and the engine's
// users wait longer (bounded) while one is there, instead of failing. They do not wait
// for the build to end: most of the build does not hold the storage, and a test that
// sat out the whole build would hold a test-runner slot idle for minutes.
//
// A marker is `build-<pid>` in a directory of the machine's (podman's storage is the
// machine's too), holding its owner's pid; a marker whose process is gone is stale and
// removed, so a killed test never stretches the next run's waits.
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** next to the containers.conf scripts/container/setup-podman.sh writes */
export function buildMarkerDir (): string {
  return process.env.SWITCHYARD_BUILD_MARKER_DIR ?? '/var/tmp/switchyard-podman/builds'
}

function alive (pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists but belongs to another user
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Marks an image build as running until the returned function is called (or the process exits). */
export function markImageBuild (): () => void {
  const dir = buildMarkerDir()
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `build-${process.pid}`)
  writeFileSync(file, `${process.pid}\n`)
  const remove = (): void => { try { unlinkSync(file) } catch { /* already gone */ } }
  process.once('exit', remove)
  return () => {
    process.removeListener('exit', remove)
    remove()
  }
}

/** The pids of the image builds running now; stale markers are removed. */
export function imageBuildsRunning (): number[] {
  const dir = buildMarkerDir()
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const pids: number[] = []
  for (const name of names) {
    if (!name.startsWith('build-')) continue
    const file = join(dir, name)
    let pid: number
    try {
      pid = Number(readFileSync(file, 'utf8').trim())
    } catch {
      continue // removed meanwhile
    }
    if (alive(pid)) {
      pids.push(pid)
    } else if (!Number.isNaN(pid) && pid > 0) {
      try { unlinkSync(file) } catch { /* another process removed it */ }
    }
  }
  return pids
}
