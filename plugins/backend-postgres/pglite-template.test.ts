// New embedded databases start from the saved cluster (pglite-template.ts): the first
// one on a machine runs initdb (in memory) and saves it, later ones (persistent or in
// memory) load it and are whole databases; a damaged archive falls back to initdb and is
// replaced. The archive never carries a data-directory lock file: one unpacked over a
// new directory replaced that directory's own lock with a dead process's pid.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import t, { type Test } from 'tap'
import { LOCK_FILE_NAME } from './datadir-lock.ts'
import { createPgliteClient } from './pglite-client.ts'
import { templatePath } from './pglite-template.ts'

const root = mkdtempSync(join(tmpdir(), 'sy-pglite-template-'))
t.teardown(() => { rmSync(root, { recursive: true, force: true }) })
const saved = process.env.XDG_CACHE_HOME
process.env.XDG_CACHE_HOME = join(root, 'cache')
t.teardown(() => { if (saved === undefined) delete process.env.XDG_CACHE_HOME; else process.env.XDG_CACHE_HOME = saved })

const open = async (dataDir: string | undefined) => await createPgliteClient({ dataDir, statementTimeoutMs: 60_000, settings: {} })

async function roundTrip (t: Test, dataDir: string | undefined): Promise<void> {
  const db = await open(dataDir)
  await db.exec('CREATE TABLE kept (n int)')
  await db.query('INSERT INTO kept VALUES ($1)', [7])
  t.same(await db.query('SELECT n FROM kept'), [{ n: 7 }], 'reads what it wrote')
  await db.close()
  if (dataDir === undefined) return
  const again = await open(dataDir)
  t.same(await again.query('SELECT n FROM kept'), [{ n: 7 }], 'and again after a reopen')
  await again.close()
}

t.test('the first new database saves its cluster; later ones start from it', { timeout: 180_000 }, async t => {
  const archive = templatePath()
  t.equal(archive, join(root, 'cache', 'switchyard', archive?.split('/').at(-1) as string), 'in the cache directory')
  t.match(archive, /pglite-cluster-\d+\.\d+\.\d+-2\.tar\.gz$/, 'named after PGlite\'s version and the archive format')
  // an archive of the format before, which held the lock file of the directory it was dumped from
  const older = (archive as string).replace(/-2\.tar\.gz$/, '.tar.gz')
  mkdirSync(join(older, '..'), { recursive: true })
  writeFileSync(older, 'an archive of the format before')
  await roundTrip(t, join(root, 'first'))
  t.ok(existsSync(archive as string), 'saved by the first new database')
  t.notOk(existsSync(older), 'the archive of the format before is removed')
  t.notOk(gunzipSync(readFileSync(archive as string)).includes(LOCK_FILE_NAME), 'the archive holds no data-directory lock file')
  const size = statSync(archive as string).size

  const cpu = process.cpuUsage()
  await roundTrip(t, join(root, 'second'))
  const used = process.cpuUsage(cpu)
  t.ok(existsSync(join(root, 'second', 'PG_VERSION')), 'a whole cluster in the new directory')
  t.equal(statSync(archive as string).size, size, 'the archive is left as it was')
  const third = join(root, 'third-open')
  const held = await open(third)
  t.equal(readFileSync(join(third, LOCK_FILE_NAME), 'utf8').trim(), String(process.pid), 'a database started from it holds its own lock')
  await held.close()
  t.comment(`second new database, opened twice: ${Math.round((used.user + used.system) / 1000)} ms CPU`)
  await roundTrip(t, undefined)
  t.pass('an in-memory database starts from it too')
})

t.test('a damaged archive falls back to initdb and is replaced', { timeout: 180_000 }, async t => {
  const archive = templatePath() as string
  writeFileSync(archive, 'not a tar archive')
  await roundTrip(t, join(root, 'third'))
  t.ok(statSync(archive).size > 1_000_000, 'a whole archive again')
})

t.test('SWITCHYARD_PGLITE_TEMPLATE=0 turns it off', async t => {
  process.env.SWITCHYARD_PGLITE_TEMPLATE = '0'
  t.teardown(() => { delete process.env.SWITCHYARD_PGLITE_TEMPLATE })
  t.equal(templatePath(), null)
})
