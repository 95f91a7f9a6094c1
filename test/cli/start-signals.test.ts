// SIGTERM while `switchyard start` is still starting: the step under way finishes,
// whatever started is closed, and the process exits 0 with no stack trace, leaving
// the embedded data directory unlocked and usable. Each case stops a real process at
// a different point of its start-up (its own temp dir, listeners on OS-picked ports).
import t from 'tap'
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { waitFor } from '../worker/support.ts'
import { EPHEMERAL_LISTENERS, runCli, startCli, type Running } from './support.ts'
import { sourcesEnv } from '../support/bin-env.ts'

const LOCK_FILE = join('.switchyard', 'pglite', 'switchyard.lock')

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false)

const HELD_READY_PLUGIN = fileURLToPath(new URL('../fixtures/plugin-held-ready.ts', import.meta.url))

interface Point {
  name: string
  /** a config file to start with, written into the temp dir (none: the embedded default) */
  config?: (dir: string) => string
  /** resolves at the moment the signal is to be sent */
  reached: (proc: Running, dir: string) => Promise<unknown>
  /** after the signal: lets start-up go on */
  release?: (dir: string) => Promise<void>
  /** open the data directory again afterwards (costs a PGlite start) */
  reopen: boolean
}

const POINTS: Point[] = [
  {
    name: 'while the embedded database opens',
    // the lock is taken just before PGlite starts, which takes seconds
    reached: async (_proc, dir) => await waitFor(() => exists(join(dir, LOCK_FILE)), 'the data directory lock', 60_000),
    reopen: true
  },
  {
    name: 'half-way through the ready hooks (backend open, listeners and worker not yet)',
    config: (dir) => [
      'plugins:',
      '  - name: backend-postgres',
      '    options: { embedded: { dataDir: .switchyard/pglite } }',
      `  - name: ${HELD_READY_PLUGIN}`,
      `    options: { reached: ${join(dir, 'reached')}, release: ${join(dir, 'release')} }`,
      'demo: { enabled: true }',
      ''
    ].join('\n'),
    reached: async (_proc, dir) => await waitFor(() => exists(join(dir, 'reached')), 'the held ready hook', 60_000),
    // the listeners and the worker start after the signal; they must be closed too
    release: async (dir) => { await writeFile(join(dir, 'release'), '') },
    reopen: false
  }
]

for (const point of POINTS) {
  t.test(`SIGTERM ${point.name}: clean stop, exit 0`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sy-sigterm-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const args = ['start']
    if (point.config !== undefined) {
      await writeFile(join(dir, 'switchyard.yaml'), point.config(dir))
      args.push('--config', 'switchyard.yaml')
    }
    // the held-ready plugin is a TypeScript fixture: the child needs the sources' loader
    const proc = startCli(args, dir, { ...EPHEMERAL_LISTENERS, ...sourcesEnv() })
    t.teardown(() => { if (proc.child.exitCode === null) proc.child.kill('SIGKILL') })

    await point.reached(proc, dir)
    proc.child.kill('SIGTERM')
    await point.release?.(dir)
    const code = await proc.exited
    t.equal(code, 0, `exit code 0\nstdout:\n${proc.stdout()}\nstderr:\n${proc.stderr()}`)
    t.match(proc.stdout(), 'SIGTERM received during start-up', 'says the signal came during start-up')
    t.notMatch(proc.stdout(), 'Press Ctrl-C to stop.', 'never reports itself started')
    t.match(proc.stdout(), 'switchyard stopped cleanly')
    t.notMatch(proc.stderr(), /\n\s+at /, 'no stack trace')
    t.notOk(await exists(join(dir, LOCK_FILE)), 'the data directory lock is released')
    if (point.release !== undefined) t.match(proc.stderr(), '"msg":"worker stopped"', 'the worker that started after the signal was stopped')

    if (point.reopen) {
      const tasks = await runCli(['tasks', '--local'], dir)
      t.equal(tasks.code, 0, `the embedded database opens again: ${tasks.stderr}`)
    }
  })
}
