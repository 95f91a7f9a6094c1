// The Node.js check of the switchyard command: the supported range is engines.node of
// @switchyard/core (the one its dependencies need), and an unsupported Node.js gets
// one line and exit code 1 before anything else loads. The running version is faked
// by a preload module, not by installing another Node.js.
import t from 'tap'
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ROOT, run, workspacePlugins } from './support.ts'
// @ts-expect-error: plain JavaScript (the bin's own module), no declarations
import { satisfies, supportedRange, unsupportedNodeMessage } from '../../core/bin/node-version.js'

const BIN = join(ROOT, 'core', 'bin', 'switchyard.js')

async function manifest (dir: string): Promise<{ engines?: { node?: string } }> {
  return JSON.parse(await readFile(join(ROOT, dir, 'package.json'), 'utf8')) as { engines?: { node?: string } }
}

t.test('every package states the same Node.js range, and the check reads it', async t => {
  const range = (await manifest('core')).engines?.node
  t.equal(supportedRange(), range)
  for (const dir of ['.', ...workspacePlugins()]) {
    t.equal((await manifest(dir)).engines?.node, range, `${dir}/package.json engines.node`)
  }
  t.ok(satisfies(process.versions.node, range as string), 'the Node.js running the tests is supported')
})

t.test('version ranges as engines writes them', async t => {
  t.ok(satisfies('20.20.2', '>=20.20.2'))
  t.ok(satisfies('24.1.0', '>=20.20.2'))
  t.notOk(satisfies('20.20.1', '>=20.20.2'))
  t.notOk(satisfies('18.19.0', '>=20.20.2'))
  t.ok(satisfies('v22.12.0', '^20.19.0 || ^22.12.0 || >=23'))
  t.notOk(satisfies('22.11.0', '^20.19.0 || ^22.12.0 || >=23'))
  t.ok(satisfies('23.0.0', '^20.19.0 || ^22.12.0 || >=23'))
  t.throws(() => satisfies('20.0.0', '~20.1'), /unsupported comparator "~20\.1"/)
  t.equal(unsupportedNodeMessage('24.0.0', '>=20.20.2'), null)
  t.equal(unsupportedNodeMessage('18.19.0', '>=20.20.2'), 'switchyard: Node.js 18.19.0 is not supported; Switchyard needs Node.js >=20.20.2 (install a supported version, e.g. the current LTS)')
})

t.test('switchyard start on an unsupported Node.js: one line, exit code 1', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-node-version-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const fake = join(dir, 'fake-node-18.mjs')
  await writeFile(fake, "Object.defineProperty(process.versions, 'node', { value: '18.19.0' })\n")
  const result = await run(process.execPath, ['--import', pathToFileURL(fake).href, BIN, 'start'], { cwd: dir, env: process.env, timeoutMs: 60_000 })
  t.equal(result.code, 1)
  t.equal(result.stdout, '')
  t.equal(result.stderr, `switchyard: Node.js 18.19.0 is not supported; Switchyard needs Node.js ${supportedRange() as string} (install a supported version, e.g. the current LTS)\n`)
})
