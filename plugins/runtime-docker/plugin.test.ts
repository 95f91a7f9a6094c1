import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, loadPlugins } from '@switchyard/core'
import { ensureHookRegistry } from '@switchyard/core/plugin'
import { DockerRuntime } from './index.ts'

const root = await mkdtemp(join(tmpdir(), 'sy-runtime-plugin-'))
t.teardown(() => rm(root, { recursive: true, force: true }))

async function load (t: Test, options: Record<string, unknown>, env: Record<string, string> = { WORKER_JOB_DOCKER_BIN: join(root, 'no-such-cli') }) {
  const { config } = await loadConfig({ env, cwd: root })
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

t.test('without socketPath: jobs.dockerSocket (WORKER_JOB_DOCKER_SOCKET) first, then DOCKER_HOST, then what jobs.dockerBin (WORKER_JOB_DOCKER_BIN) reports', async t => {
  const saved = process.env.DOCKER_HOST
  t.teardown(() => { if (saved === undefined) delete process.env.DOCKER_HOST; else process.env.DOCKER_HOST = saved })
  process.env.DOCKER_HOST = 'unix:///run/from-docker-host.sock'
  const socketOf = async (env: Record<string, string>, options: Record<string, unknown> = {}): Promise<string> =>
    ((await load(t, options, env)).registry.getContainerRuntime('docker') as DockerRuntime).socketPath
  t.equal(await socketOf({ WORKER_JOB_DOCKER_SOCKET: '/run/from-setting.sock' }), '/run/from-setting.sock', 'the setting wins over DOCKER_HOST')
  t.equal(await socketOf({ WORKER_JOB_DOCKER_SOCKET: 'run/relative.sock' }), join(root, 'run/relative.sock'), 'a relative setting is relative to the config directory')
  t.equal(await socketOf({ WORKER_JOB_DOCKER_SOCKET: '/run/from-setting.sock' }, { socketPath: '/run/from-option.sock' }), '/run/from-option.sock', 'the plugin option wins over the setting')
  delete process.env.DOCKER_HOST
  // a CLI of the test's own that answers as docker and podman do
  const cli = join(root, 'fake-engine-cli')
  const podmanCli = join(root, 'podman')
  const script = '#!/bin/sh\ncase "$1" in context) echo unix:///run/docker-context.sock ;; info) echo /run/podman/from-info.sock ;; *) exit 2 ;; esac\n'
  await writeFile(cli, script, { mode: 0o755 })
  await writeFile(podmanCli, script, { mode: 0o755 })
  t.equal(await socketOf({ WORKER_JOB_DOCKER_BIN: cli }), '/run/docker-context.sock', 'docker: the current context\'s host')
  t.equal(await socketOf({ WORKER_JOB_DOCKER_BIN: podmanCli }), '/run/podman/from-info.sock', 'podman: info\'s remote socket')
  const silly = join(root, 'silly-cli')
  await writeFile(silly, '#!/bin/sh\necho tcp://10.0.0.1:2375\n', { mode: 0o755 })
  t.equal(await socketOf({ WORKER_JOB_DOCKER_BIN: silly }), '/var/run/docker.sock', 'an answer that is not a unix socket is not taken')
  t.equal(await socketOf({ WORKER_JOB_DOCKER_BIN: join(root, 'no-such-cli') }), '/var/run/docker.sock', 'a missing CLI: the default socket')
})

t.test('bad options fail loading naming the field; a root default user is refused', async t => {
  await t.rejects(load(t, { requestTimeout: 'soon' }), { code: 'PLUGIN_OPTIONS_INVALID', message: /plugins\[0\]\(runtime-docker\)\.options\.requestTimeout/ })
  await t.rejects(load(t, { tmpfsSize: 'lots' }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.tmpfsSize/ })
  await t.rejects(load(t, { privileged: true }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.privileged/ })
  await t.rejects(load(t, { defaultUser: '0:0' }), { code: 'VALIDATION_FAILED', message: /must not be root/ })
})
