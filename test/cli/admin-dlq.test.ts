// The dead-letter commands through a real gateway (see admin-commands.test.ts): a
// bulk replay never runs without a selection and a confirmation; on a terminal (a
// pseudo-terminal made by util-linux `script`) it shows the dry-run count and asks.
import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startDeployment } from './deployment.ts'
import { waitFor as pollUntil } from '../../core/backend/conformance/support.ts'

// one deployment for the whole file; every CLI call is its own process, which takes a while
t.setTimeout(900_000)
const d = await startDeployment(t)
/** `switchyard <args> --json`: its one JSON line */
async function json<T = Record<string, unknown>> (args: string[], options: { stdin?: string } = {}): Promise<T> {
  return await d.json<T>(args, options)
}

async function waitFor<T> (what: string, check: () => Promise<T | null | false>): Promise<T> {
  return await pollUntil(check, { what, timeoutMs: 30_000, intervalMs: 200 })
}

t.test('dlq: list, get, stats, replay needs a selection and a confirmation, delete', async t => {
  await writeFile(join(d.dir, 'fixed.json'), '{"fixed":true}')
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push((await d.admin.call('EnqueueTask', { handler: 'boom', queue: 'deadq', maxAttempts: 1 })).id)
  const deadIn = async (queue: string): Promise<number> => (await d.admin.call('GetDLQStats', {})).byQueue[queue] ?? 0
  await waitFor('three dead tasks', async () => await deadIn('deadq') === 3)
  const list = await json<{ entries: Array<{ id: string }>, total?: number }>(['dlq', 'list', '--queue', 'deadq'])
  t.same(list.entries.map(e => e.id).sort(), [...ids].sort())
  t.match(await json(['dlq', 'get', ids[0] as string]), { entry: { id: ids[0], state: 'dead', lastError: /boom on purpose/ } })

  const none = await d.cli(['dlq', 'replay'])
  t.equal(none.code, 2, 'no selection: usage error')
  t.match(none.stderr, /dlq replay: select what to replay: --ids a,b, a filter \(--queue q, --handler h, --query text, --tenant t, --correlation-id c, --since 24h, --until t\), or --all/)
  const unconfirmed = await d.cli(['dlq', 'replay', '--queue', 'deadq'])
  t.equal(unconfirmed.code, 2, 'no terminal and no --yes: usage error')
  t.match(unconfirmed.stderr, /dlq replay acts in bulk and there is no terminal to ask on: pass --yes/)
  const both = await d.cli(['dlq', 'replay', '--all', '--queue', 'deadq', '--yes'])
  t.equal(both.code, 2)
  const payloadWithFilter = await d.cli(['dlq', 'replay', '--queue', 'deadq', '--payload', '{}', '--yes'])
  t.equal(payloadWithFilter.code, 2)
  t.equal(await deadIn('deadq'), 3, 'none of them replayed anything')

  t.match(await json(['dlq', 'replay', '--queue', 'deadq', '--dry-run']), { dryRun: true, count: 3 })
  t.match(await json(['dlq', 'replay', '--ids', ids[0] as string, '--payload', '@fixed.json', '--yes']), { dryRun: false, count: 1, replayed: [ids[0]] })
  await waitFor('the replayed task to die again', async () => (await d.admin.call('GetTask', { id: ids[0] as string })).task.state === 'dead')
  t.same((await d.admin.call('GetTask', { id: ids[0] as string })).task.payload, { fixed: true }, 'replayed with the new payload')

  const replayed = await json<{ count: number }>(['dlq', 'replay', '--queue', 'deadq', '--handler', 'boom', '--limit', '2', '--yes'])
  t.equal(replayed.count, 2, '--limit bounds a filtered replay')
  await waitFor('all dead again', async () => await deadIn('deadq') === 3)

  t.match(await json(['dlq', 'delete', ids[2] as string]), { id: ids[2], deleted: true })
  const text = await d.cli(['dlq', 'delete', ids[2] as string])
  t.match(text.stdout, 'was already gone')
})

t.test('dlq replay on a terminal shows the dry-run count and asks', { skip: !await hasScript() ? 'script (util-linux) is not installed' : false }, async t => {
  const ids: string[] = []
  for (let i = 0; i < 2; i++) ids.push((await d.admin.call('EnqueueTask', { handler: 'boom', queue: 'ttyq', maxAttempts: 1 })).id)
  await waitFor('two dead tasks', async () => (await d.admin.call('GetDLQStats', {})).byQueue.ttyq === 2)

  const declined = await onTerminal(['dlq', 'replay', '--queue', 'ttyq'], 'n\n')
  t.equal(declined.code, 1, 'declining exits 1')
  t.match(declined.output, /dlq replay: replay 2 dead tasks of queue ttyq \(.*\)\. Go ahead\? \[y\/N\]/)
  t.match(declined.output, 'not confirmed; nothing changed')
  t.equal((await d.admin.call('GetTask', { id: ids[0] as string })).task.replays, 0, 'nothing replayed')

  const accepted = await onTerminal(['dlq', 'replay', '--queue', 'ttyq'], 'y\n')
  t.equal(accepted.code, 0, accepted.output)
  t.match(accepted.output, /replayed 2 dead tasks:/)
  for (const id of ids) t.equal((await d.admin.call('GetTask', { id })).task.replays, 1, `${id} replayed once`)

  const noSelection = await onTerminal(['dlq', 'replay'], '')
  t.equal(noSelection.code, 2, 'on a terminal too, no selection is a usage error')
})

async function hasScript (): Promise<boolean> {
  const { execFile } = await import('node:child_process')
  return await new Promise(resolve => execFile('script', ['--version'], err => resolve(err === null)))
}

/** runs the CLI inside a pseudo-terminal (util-linux `script`), typing `input` */
async function onTerminal (args: string[], input: string): Promise<{ code: number | null, output: string }> {
  const { spawn } = await import('node:child_process')
  const { BIN } = await import('./support.ts')
  const { binEnv } = await import('../support/bin-env.ts')
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`
  const command = [process.execPath, BIN, ...args, '--config', 'sy.yaml'].map(quote).join(' ')
  return await new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: d.dir, env: { ...process.env, ...binEnv(), ...d.env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`switchyard ${args.join(' ')} on a terminal did not finish:\n${output}`)) }, 60_000)
    // type the answer once the question is on the screen
    const answer = setInterval(() => {
      if (!/Go ahead\?/.test(output) && input !== '') return
      clearInterval(answer)
      child.stdin.end(input)
    }, 50)
    child.on('exit', code => {
      clearTimeout(timer)
      clearInterval(answer)
      // eslint-disable-next-line no-control-regex
      resolve({ code, output: output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '') })
    })
  })
}
