import t from 'tap'
import Fastify from 'fastify'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, loadPlugins } from '@switchyard/core'
import { ensureHookRegistry } from '@switchyard/core/plugin'
import { FsArtifactStore } from './index.ts'

const root = await mkdtemp(join(tmpdir(), 'sy-artifacts-'))
t.teardown(() => rm(root, { recursive: true, force: true }))
let counter = 0

function store (maxBytes = 1024 * 1024): FsArtifactStore {
  return new FsArtifactStore({ dir: join(root, `s${++counter}`), maxBytes })
}

async function read (stream: AsyncIterable<Uint8Array> | null): Promise<Buffer | null> {
  if (stream === null) return null
  const chunks: Uint8Array[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}

async function * chunks (count: number, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < count; i++) yield Buffer.alloc(size, i % 256)
}

async function files (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) if (entry.isFile()) out.push(join(entry.parentPath, entry.name).slice(dir.length + 1))
  return out.sort()
}

t.test('put streams, hashes and sizes; stat, open and delete', async t => {
  const s = store()
  const body = (await read(chunks(10, 1000))) as Buffer
  const before = Date.now()
  const meta = await s.put('runs/r1/output.log', chunks(10, 1000), { contentType: 'text/plain; charset=utf-8' })
  t.match(meta, { key: 'runs/r1/output.log', size: 10_000, sha256: createHash('sha256').update(body).digest('hex'), contentType: 'text/plain; charset=utf-8' })
  t.ok(meta.createdAt >= before)
  t.same(await s.stat('runs/r1/output.log'), meta)
  t.same(await read(await s.open('runs/r1/output.log')), body)
  t.same(await files(s.dir), ['data/runs/r1/output.log', 'meta/runs/r1/output.log.json'])
  t.equal(await s.delete('runs/r1/output.log'), true)
  t.equal(await s.delete('runs/r1/output.log'), false, 'nothing left to delete')
  t.equal(await s.stat('runs/r1/output.log'), null)
  t.equal(await s.open('runs/r1/output.log'), null)
  t.same(await readdir(join(s.dir, 'data')), [], "the run's emptied folder went with its last artifact")
})

t.test('a Uint8Array body, an empty body, and a put over an existing key', async t => {
  const s = store()
  t.match(await s.put('a.bin', new Uint8Array([1, 2, 3]), { contentType: 'application/octet-stream' }), { size: 3 })
  t.match(await s.put('empty', new Uint8Array(), { contentType: 'text/plain' }), { size: 0, sha256: createHash('sha256').digest('hex') })
  t.same(await read(await s.open('empty')), Buffer.alloc(0))
  await s.put('a.bin', Buffer.from('replaced'), { contentType: 'text/plain' })
  t.same((await read(await s.open('a.bin')))?.toString(), 'replaced')
  t.match(await s.stat('a.bin'), { size: 8, contentType: 'text/plain' })
})

t.test('maxBytes is enforced while streaming and nothing is left behind', async t => {
  const s = store(4096)
  await t.rejects(s.put('runs/r/big', chunks(5, 1000), { contentType: 'application/octet-stream' }), { code: 'ARTIFACT_TOO_LARGE', message: /larger than 4096 bytes/ })
  await t.rejects(s.put('runs/r/big', Buffer.alloc(5000), { contentType: 'application/octet-stream' }), { code: 'ARTIFACT_TOO_LARGE' })
  t.same(await files(s.dir), [], 'no temporary file, no data, no meta')
  t.equal(await s.stat('runs/r/big'), null)
  t.match(await s.put('runs/r/fits', chunks(4, 1024), { contentType: 'application/octet-stream' }), { size: 4096 }, 'exactly the cap fits')
})

t.test('a body that fails midway leaves nothing', async t => {
  const s = store()
  async function * broken (): AsyncIterable<Uint8Array> { yield Buffer.from('part'); throw new Error('source went away') }
  await t.rejects(s.put('x', broken(), { contentType: 'text/plain' }), { message: 'source went away' })
  t.same(await files(s.dir), [])
})

t.test('keys are validated: no .., no absolute, a short alphabet, bounded', async t => {
  const s = store()
  for (const bad of ['', '/etc/passwd', '../x', 'a/../../x', 'a/./b', '.hidden', 'a//b', 'a/', 'a\\b', 'a b', 'ä', 'a'.repeat(513), `${'a'.repeat(201)}/b`, 'a\u0000b']) {
    await t.rejects(s.put(bad, Buffer.from('x'), { contentType: 'text/plain' }), { code: 'VALIDATION_FAILED', details: { field: 'key' } }, JSON.stringify(bad).slice(0, 40))
    await t.rejects(s.stat(bad), { code: 'VALIDATION_FAILED' })
    await t.rejects(s.delete(bad), { code: 'VALIDATION_FAILED' })
  }
  await t.rejects(s.put('ok', Buffer.from('x'), { contentType: 'text/plain\r\nX-Evil: 1' }), { code: 'VALIDATION_FAILED', details: { field: 'contentType' } })
  await s.put('folder/file', Buffer.from('x'), { contentType: 'text/plain' })
  await t.rejects(s.put('folder', Buffer.from('x'), { contentType: 'text/plain' }), { code: 'VALIDATION_FAILED', message: /both an artifact and a folder/ })
  await t.rejects(s.put('folder/file/deeper', Buffer.from('x'), { contentType: 'text/plain' }), { code: 'VALIDATION_FAILED', message: /both an artifact and a folder/ })
  t.same(await files(s.dir), ['data/folder/file', 'meta/folder/file.json'], 'nothing else was written')
})

t.test('artifacts survive a new store on the same directory', async t => {
  const dir = join(root, 'reopen')
  const first = new FsArtifactStore({ dir, maxBytes: 1024 })
  const meta = await first.put('runs/r9/source.tar.gz', Buffer.from('archive'), { contentType: 'application/gzip' })
  const second = new FsArtifactStore({ dir, maxBytes: 1024 })
  t.same(await second.stat('runs/r9/source.tar.gz'), meta)
  t.equal((await read(await second.open('runs/r9/source.tar.gz')))?.toString(), 'archive')
})

t.test('the plugin: loads by built-in name; dir relative to the config dir, default under the data dir', async t => {
  const { config } = await loadConfig({ env: {}, cwd: root })
  const load = async (options: Record<string, unknown>) => {
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    const registry = ensureHookRegistry(app)
    await loadPlugins(app, [{ name: 'artifact-store-fs', options }], { config, configDir: root })
    return registry.artifactStores()[0] as FsArtifactStore
  }
  const configured = await load({ dir: 'arts', maxBytes: '1kb' })
  t.ok(configured instanceof FsArtifactStore)
  t.equal(configured.name, 'fs')
  t.equal(configured.dir, join(root, 'arts'))
  t.equal(configured.maxBytes, 1024)
  const jobs = (config as unknown as { jobs?: { workdir?: string } }).jobs
  t.equal((await load({})).dir, join(jobs?.workdir ?? config.dataDir, 'artifacts'))
  t.equal((await load({})).maxBytes, 256 * 1024 * 1024)
  await t.rejects(load({ maxBytes: 'lots' }), { code: 'PLUGIN_OPTIONS_INVALID', message: /options\.maxBytes/ })
  const written = await configured.put('k', Buffer.from('v'), { contentType: 'text/plain' })
  t.equal(JSON.parse(await readFile(join(root, 'arts', 'meta', 'k.json'), 'utf8')).sha256, written.sha256)
})
