import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, loadPlugins } from '@switchyard/core'
import { ensureHookRegistry } from '@switchyard/core/plugin'
import { DockerRuntime } from './index.ts'

const root = await mkdtemp(join(tmpdir(), 'sy-runtime-plugin-'))
t.teardown(() => rm(root, { recursive: true, force: true }))

async function load (t: Test, options: Record<string, unknown>) {
  const { config } = await loadConfig({ env: {}, cwd: root })
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  const registry = ensureHookRegistry(app)
  const loaded = await loadPlugins(app, [{ name: 'runtime-docker', options }], { config, configDir: root })
  return { registry, loaded }
}

t.test('loads by built-in name and registers the runtime under its name', async t => {
  const { registry, loaded } = await load(t, { socketPath: '/run/podman/podman.sock' })
  t.match(loaded, [{ name: 'runtime-docker', version: '0.1.0', kind: 'builtin' }])
  const runtime = registry.getContainerRuntime('docker')
  t.ok(runtime instanceof DockerRuntime)
  t.equal((runtime as DockerRuntime).socketPath, '/run/podman/podman.sock')
  const named = await load(t, { name: 'podman-ci', socketPath: 'unix:///tmp/x.sock' })
  t.equal((named.registry.getContainerRuntime('podman-ci') as DockerRuntime).socketPath, '/tmp/x.sock')
})

t.test('without socketPath: DOCKER_HOST when it names a unix socket, else /var/run/docker.sock', async t => {
  const saved = process.env.DOCKER_HOST
  t.teardown(() => { if (saved === undefined) delete process.env.DOCKER_HOST; else process.env.DOCKER_HOST = saved })
  process.env.DOCKER_HOST = 'unix:///run/user/1000/podman/podman.sock'
  t.equal(((await load(t, {})).registry.getContainerRuntime('docker') as DockerRuntime).socketPath, '/run/user/1000/podman/podman.sock')
  delete process.env.DOCKER_HOST
  t.equal(((await load(t, {})).registry.getContainerRuntime('docker') as DockerRuntime).socketPath, '/var/run/docker.sock')
})

t.test('bad options fail loading naming the field; a root default user is refused', async t => {
  await t.rejects(load(t, { requestTimeout: 'soon' }), { code: 'PLUGIN_OPTIONS_INVALID', message: /plugins\[0\]\(runtime-docker\)\.options\.requestTimeout/ })
  await t.rejects(load(t, { tmpfsSize: 'lots' }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.tmpfsSize/ })
  await t.rejects(load(t, { privileged: true }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.privileged/ })
  await t.rejects(load(t, { defaultUser: '0:0' }), { code: 'VALIDATION_FAILED', message: /must not be root/ })
})
