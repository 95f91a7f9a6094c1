// Switchyard as an application gets it: core and the backend plugin packed with
// `npm pack`, installed from the tarballs into a fresh ES-module project outside the
// workspace, the README's "Writing a handler" example type-checked by the project's
// own tsc (strict, NodeNext, no skipLibCheck: no error may come from Switchyard's
// declarations) and run with plain node (no tsx installed): a task is processed and
// SIGINT ends the process cleanly.
import t from 'tap'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { outsideEnv, readmeBlocks, ROOT, run, watch } from './support.ts'

t.setTimeout(20 * 60_000)

const PACKED = ['core', 'plugins/backend-postgres']
const MINUTE = 60_000

async function workspaceVersion (name: string): Promise<string> {
  return (JSON.parse(await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
}

const dir = await mkdtemp(join(tmpdir(), 'switchyard-consumer-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
const packs = join(dir, 'packs')
const app = join(dir, 'app')
await mkdir(packs)
await mkdir(app)
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

t.test('the packages pack and install into a project outside the workspace', async t => {
  const built = await run(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, env: outsideEnv({ SWITCHYARD_BUILD_QUIET: '1' }), timeoutMs: 10 * MINUTE })
  t.equal(built.code, 0, 'npm run build', { output: built.stdout + built.stderr })
  // Built just above, so the packs skip prepack (which builds the same again).
  const packed = await run(npm, ['pack', '--ignore-scripts', '--pack-destination', packs, ...PACKED.flatMap(p => ['-w', p])], { cwd: ROOT, timeoutMs: 2 * MINUTE })
  t.equal(packed.code, 0, 'npm pack', { stderr: packed.stderr })
  const tarballs = (await readdir(packs)).filter(f => f.endsWith('.tgz')).map(f => join(packs, f))
  t.equal(tarballs.length, PACKED.length, 'one tarball per package')

  const core = await run('tar', ['-tzf', tarballs.find(f => f.includes('switchyard-core-')) as string], { cwd: dir, timeoutMs: MINUTE })
  const files = core.stdout.split('\n')
  for (const file of ['package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/cli.js', 'package/bin/switchyard.js', 'package/proto/worker/v1/admin.proto']) {
    t.ok(files.includes(file), `core's tarball has ${file}`)
  }
  t.notOk(files.some(f => f.endsWith('.test.js') || f.endsWith('.tsbuildinfo') || /package\/[^/]+\.ts$/.test(f)), 'no tests, build info or TypeScript sources')
  const backend = await run('tar', ['-tzf', tarballs.find(f => f.includes('switchyard-backend-postgres-')) as string], { cwd: dir, timeoutMs: MINUTE })
  // the embedded database's thread is started from its own file, which no import names
  t.ok(backend.stdout.split('\n').includes('package/dist/pglite-worker.js'), "backend-postgres' tarball has the PGlite thread's entry")

  const blocks = await readmeBlocks('Writing a handler')
  const install = blocks.get('sh')?.[0] ?? ''
  t.match(install, /^npm install @switchyard\/core @switchyard\/backend-postgres\n$/, 'the README installs what is packed here')
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'switchyard-consumer', private: true, type: 'module' }, null, 2))
  const typescript = `typescript@${await workspaceVersion('typescript')}`
  const nodeTypes = `@types/node@${await workspaceVersion('@types/node')}`
  // Third-party packages come from the local npm cache when it has them.
  const installed = await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs, typescript, nodeTypes], { cwd: app, timeoutMs: 5 * MINUTE })
  t.equal(installed.code, 0, 'npm install from the tarballs', { stderr: installed.stderr })
  t.notOk(existsSync(join(app, 'node_modules', 'tsx')), 'tsx is not installed with Switchyard')
})

t.test("the README's handler example type-checks with the project's own tsc (strict, NodeNext, no skipLibCheck)", async t => {
  const blocks = await readmeBlocks('Writing a handler')
  await writeFile(join(app, 'switchyard.yaml'), blocks.get('yaml')?.[0] ?? '')
  await writeFile(join(app, 'app.ts'), blocks.get('ts')?.[0] ?? '')
  await writeFile(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, types: ['node'], outDir: 'dist' },
    include: ['app.ts']
  }, null, 2))
  const checked = await run(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: app, timeoutMs: 10 * MINUTE })
  t.equal(checked.stdout + checked.stderr, '', 'no diagnostics')
  t.equal(checked.code, 0, 'tsc exits 0')
})

t.test('the example runs with plain node: a task is processed, SIGINT exits 0', async t => {
  const env = outsideEnv({ WORKER_ADMIN_HTTP_ADDR: '127.0.0.1:0', WORKER_ADMIN_GRPC_ADDR: '127.0.0.1:0' })
  const running = watch(process.execPath, ['dist/app.js'], { cwd: app, env })
  t.teardown(() => { running.child.kill('SIGKILL') })
  await running.waitFor(/admin gateway: https:\/\/127\.0\.0\.1:\d+\/admin\/v1/, 3 * MINUTE)
  t.pass('started with its admin listeners')
  await running.waitFor(/sent a welcome mail to ops@example\.com \(attempt 1\)/, 2 * MINUTE)
  t.pass('the enqueued task was processed')
  running.child.kill('SIGINT')
  const exit = await Promise.race([running.exited, new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error(`no exit within 60 s of SIGINT\n${running.output()}`)), MINUTE))])
  t.same(exit, { code: 0, signal: null }, 'exits by itself with code 0')
})

t.test('the installed switchyard command runs JavaScript, and names a TypeScript module it cannot load', async t => {
  const bin = join(app, 'node_modules', '.bin', 'switchyard')
  const help = await run(bin, ['--help'], { cwd: app, timeoutMs: MINUTE })
  t.equal(help.code, 0, 'switchyard --help exits 0', { stderr: help.stderr })
  t.match(help.stdout, /^Usage: switchyard/, 'and prints the usage')

  const stripsTypes = (process.features as unknown as Record<string, unknown>).typescript !== undefined && (process.features as unknown as Record<string, unknown>).typescript !== false
  if (stripsTypes) {
    t.comment('this Node.js strips TypeScript types itself; the refusal case does not occur')
    return
  }
  await writeFile(join(app, 'handlers.ts'), 'export const handlers = { hello: async (payload: unknown): Promise<void> => { console.log(payload) } }\n')
  const script = "import { loadHandlerModule } from '@switchyard/core'\ntry { await loadHandlerModule('./handlers.ts') } catch (err) { console.log(err.code + ': ' + err.message) }\n"
  const loaded = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app, timeoutMs: MINUTE })
  t.match(loaded.stdout, /^VALIDATION_FAILED: handlers module \.\/handlers\.ts: could not be loaded: \.\/handlers\.ts is TypeScript, which this Node\.js does not run: compile it and name the \.js file, or start Switchyard with a TypeScript loader/)

  await writeFile(join(app, 'audit-plugin.ts'), "export default {}\n")
  await writeFile(join(app, 'ts-plugin.yaml'), 'plugins:\n  - name: ./audit-plugin.ts\n')
  const started = await run(bin, ['start', '--config', 'ts-plugin.yaml'], { cwd: app, env: outsideEnv({ WORKER_ADMIN_HTTP_ADDR: '127.0.0.1:0', WORKER_ADMIN_GRPC_ADDR: '127.0.0.1:0' }), timeoutMs: MINUTE })
  t.equal(started.code, 1, 'start with a TypeScript plugin path exits 1')
  t.match(started.stderr, /audit-plugin\.ts is TypeScript, which this Node\.js does not run/)
})
