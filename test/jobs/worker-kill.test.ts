// A worker killed with SIGKILL mid-run leaves a running container and runs that no
// longer progress. Once another worker runs, the orphaned containers are removed and
// each run ends per its definition: retried (retries ≥ 1) or failed (retries 0).
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { WORKER_LABEL } from '../../core/jobs/types.ts'
import { containersOfRun, jobApp, jobTarball, jobDefinition, jobWorld, podmanMissing } from './support.ts'

const WORKER_PROCESS = fileURLToPath(new URL('./fixtures/worker-process.ts', import.meta.url))

const missing = await podmanMissing()
if (missing !== null) {
  t.plan(0, `podman is needed for the container job tests: ${missing}`)
} else {
  t.test('a worker killed mid-run: its containers are reaped, runs retried or failed per the definition', async t => {
    const world = await jobWorld(t)
    // the test enqueues through a process without a worker, so only the spawned worker takes the runs
    const client = await jobApp(t, world, {}, { worker: false })

    const configFile = await world.configFile('victim')
    const victim = spawn(process.execPath, [WORKER_PROCESS, configFile], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    victim.stderr.setEncoding('utf8').on('data', (chunk: string) => { if (stderr.length < 20_000) stderr += chunk })
    const exited = new Promise<void>(resolve => victim.on('exit', () => resolve()))
    t.teardown(async () => { if (victim.exitCode === null && victim.signalCode === null) victim.kill('SIGKILL'); await exited })
    const victimId = await new Promise<string>((resolve, reject) => {
      let stdout = ''
      victim.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
        const ready = /ready (\S+)\n/.exec(stdout)
        if (ready !== null) resolve(ready[1] as string)
      })
      victim.on('exit', code => reject(new Error(`the worker process exited with ${String(code)} before it was ready: ${stderr}`)))
    })

    // long enough that the first run is still in its container when the second starts on a
    // busy machine (a finished run's container is removed by its worker, not left behind)
    const tarball = await jobTarball(world, 'interrupted', 'echo "attempt starts"; sleep 25; echo "attempt ends"')
    // one after the other: the second finds the image the first built
    const retried = await client.startRun(jobDefinition('interrupted-retried', tarball, { retries: 1 }))
    await client.waitRun(retried.id, r => r.state === 'running' && r.containerId !== undefined, 'running in a container', 120_000)
    const failed = await client.startRun(jobDefinition('interrupted-failed', tarball, { retries: 0 }))
    await client.waitRun(failed.id, r => r.state === 'running' && r.containerId !== undefined, 'running in a container', 60_000)
    t.equal((await containersOfRun(world, retried.id)).length, 1, 'the retried run has its container')
    t.equal((await containersOfRun(world, failed.id)).length, 1, 'the failed run has its container')

    victim.kill('SIGKILL')
    await exited
    const orphans = await world.podman.docker.listContainers({ all: true, filters: { label: [`${WORKER_LABEL}=${victimId}`] } })
    t.equal(orphans.length, 2, 'the killed worker left its two containers behind')

    const rescuer = await jobApp(t, world, { reapIntervalMs: 500 })
    const again = await rescuer.waitFinal(retried.id, 120_000)
    t.equal(again.state, 'succeeded', `the run with a retry left succeeded on its next attempt (error: ${again.error ?? 'none'})`)
    t.equal(again.attempt, 2, 'on attempt 2')
    const lost = await rescuer.waitFinal(failed.id, 60_000)
    t.equal(lost.state, 'failed', 'the run without retries failed')
    t.match(lost.error, /worker stopped mid-run/)
    const deadline = Date.now() + 30_000
    let reaped = -1
    while (reaped !== 0 && Date.now() < deadline) {
      reaped = (await world.podman.docker.listContainers({ all: true, filters: { label: [`${WORKER_LABEL}=${victimId}`] } })).length
      if (reaped !== 0) await new Promise(resolve => setTimeout(resolve, 200))
    }
    t.equal(reaped, 0, 'no container of the killed worker is left')
    t.same(await containersOfRun(world, retried.id), [], 'nor of its runs')
    t.same(await containersOfRun(world, failed.id), [])
    const events = await client.eventsOf(retried.id)
    t.ok(events.some(event => event.type === 'job.retrying'), 'the interrupted attempt is announced as job.retrying')
  })
}
