// What a run leaves in the artifact store (artifact-store-fs): the tarball it was built
// from, its combined output, and the regular files its container wrote to /artifacts
// within the per-run cap; a symbolic link (to a host file or any other) and a file
// past the cap are not kept, and job.finished names them.
import { createHash } from 'node:crypto'
import t from 'tap'
import { ensureHookRegistry } from '../../core/plugin/hooks.ts'
import { runArtifactKey, SOURCE_ARCHIVE_ARTIFACT } from '../../core/jobs/types.ts'
import { containersOfRun, jobApp, jobDefinition, jobTarball, jobWorld, podmanMissing } from './support.ts'

const missing = await podmanMissing()
if (missing !== null) {
  t.plan(0, `podman is needed for the container job tests: ${missing}`)
} else {
  t.test('source archive, output.log and /artifacts files are stored; links and files past the cap are not', async t => {
    const world = await jobWorld(t)
    const app = await jobApp(t, world, { artifactMaxBytes: 1000 }, { extraPlugins: ['  - name: artifact-store-fs', `    options: { dir: "${world.dir}/artifact-store" }`] })
    const tarball = await jobTarball(world, 'producer', [
      'echo result > /artifacts/result.txt',
      'mkdir -p /artifacts/sub && echo \'{"nested":true}\' > /artifacts/sub/n.json',
      'ln -s /etc/passwd /artifacts/passwd-link',
      'head -c 4000 /dev/zero > /artifacts/zz-too-big.bin',
      'echo produced'
    ].join('\n'))
    const run = await app.startRun(jobDefinition('producer', tarball))
    const done = await app.waitFinal(run.id, 120_000)
    t.equal(done.state, 'succeeded', `succeeded (error: ${done.error ?? 'none'})`)

    const keys = done.artifacts.map(meta => meta.key).sort()
    t.same(keys, [
      runArtifactKey(run.id, 'artifacts/result.txt'),
      runArtifactKey(run.id, 'artifacts/sub/n.json'),
      runArtifactKey(run.id, 'output.log'),
      runArtifactKey(run.id, SOURCE_ARCHIVE_ARTIFACT)
    ].sort(), 'the source archive, the output and the regular files within the cap')

    const store = ensureHookRegistry(app.sy.app).artifactStores()[0]!
    const read = async (key: string): Promise<Buffer> => {
      const body = await store.open(key)
      if (body === null) throw new Error(`no artifact ${key}`)
      const parts: Uint8Array[] = []
      for await (const part of body) parts.push(part)
      return Buffer.concat(parts)
    }
    t.equal((await read(runArtifactKey(run.id, 'artifacts/result.txt'))).toString(), 'result\n')
    t.match((await read(runArtifactKey(run.id, 'output.log'))).toString(), /produced\n/)
    const archive = await read(runArtifactKey(run.id, SOURCE_ARCHIVE_ARTIFACT))
    t.equal(createHash('sha256').update(archive).digest('hex'), done.sourceSha256, 'the stored archive is the one the run was built from')
    t.equal(done.artifacts.find(meta => meta.key === runArtifactKey(run.id, SOURCE_ARCHIVE_ARTIFACT))?.contentType, 'application/gzip', 'its content type says it is gzipped')

    const finished = (await app.eventsOf(run.id)).find(event => event.type === 'job.finished')?.data as { artifactsSkipped?: Array<{ name: string }> }
    t.same((finished.artifactsSkipped ?? []).map(skipped => skipped.name).sort(), ['passwd-link', 'zz-too-big.bin'], 'job.finished names what was not kept')
    t.same(await containersOfRun(world, run.id), [], 'no container is left')
  })
}
