// The embedded database's durability as the README states it: a write PGlite answered
// is in the data directory's files, so it survives the process being killed. Leases
// and acks included: with asynchronous commit they stayed in the process' memory (no
// WAL writer in single-user mode) and a killed process took answered acks with it.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createPostgresBackend } from '../../plugins/backend-postgres/index.ts'

const FIXTURE = fileURLToPath(new URL('../fixtures/pglite-ack-then-kill.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

async function ackThenKill (dataDir: string): Promise<{ out: string, signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, SY_PGLITE_KILL_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const signal = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (_code, sig) => resolve(sig))
  })
  clearTimeout(timer)
  return { out, signal }
}

t.test('pglite: leases and acks answered before a SIGKILL are in the data directory after it', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-pglite-kill-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const dataDir = join(dir, 'data')
  const { out, signal } = await ackThenKill(dataDir)
  t.equal(signal, 'SIGKILL', 'the process ended by its own SIGKILL')
  t.same(JSON.parse(out.trim()), { leased: 3, acks: ['ok', 'ok', 'ok'] }, 'three tasks leased and acked before the kill')

  const backend = createPostgresBackend({ embedded: { dataDir } })
  t.teardown(async () => { await backend.close() })
  await backend.init()
  const [stats] = await backend.queueStats(['q'])
  t.match(stats, { ready: 0, processing: 0, succeeded: 3 }, 'every answered ack survived the kill')
})
