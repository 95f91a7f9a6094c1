// Two real processes on one Postgres schema tick an every-second durable schedule;
// the leader is killed with SIGKILL mid-run. The survivor takes the lock once the
// dead leader's expires (leaderTtl 1 s) and fires the instants it missed (they are
// within misfireGrace): every instant from the first fire to the last exactly once.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { createPostgresBackend } from '@switchyard/backend-postgres'
import { dropSchema, TEST_POSTGRES_URL } from '../../plugins/backend-postgres/test-support.ts'
import { instantsOf, tasksOf, waitFor } from './support.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/node.ts', import.meta.url))

function startNode (t: Test, schema: string, id: string): { child: ChildProcess, lines: string[] } {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, TEST_POSTGRES_URL, schema, id], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines: string[] = []
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)))
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  return { child, lines }
}

t.test('two processes, leader killed mid-run: no instant missed or doubled', async t => {
  const schema = `sy_test_${randomBytes(6).toString('hex')}`
  const observer = createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize: 1 })
  await observer.init()
  t.teardown(async () => { await observer.close(); await dropSchema(schema) })

  const a = startNode(t, schema, 'node-a')
  await waitFor(async () => a.lines.includes('leader'), 'node-a to lead', 20_000)
  const b = startNode(t, schema, 'node-b')
  await waitFor(async () => b.lines.includes('ready'), 'node-b to start', 20_000)
  await waitFor(async () => (await tasksOf(observer, 'test.every_second')).length >= 3 || undefined, 'a few fires by node-a', 10_000)

  a.child.kill('SIGKILL')
  const killedAt = await observer.now()
  await waitFor(async () => b.lines.includes('leader'), 'node-b to take over', 10_000)
  // run on until node-b has fired a few instants after the takeover
  await waitFor(async () => {
    const instants = instantsOf(await tasksOf(observer, 'test.every_second'))
    return (instants.at(-1) ?? 0) >= killedAt + 3000 || undefined
  }, 'node-b to keep firing', 15_000)
  b.child.kill('SIGTERM')
  await new Promise(resolve => b.child.once('exit', resolve))

  const tasks = await tasksOf(observer, 'test.every_second')
  const instants = instantsOf(tasks)
  t.equal(new Set(instants).size, instants.length, `no instant doubled (${instants.length} fires)`)
  const first = instants[0] as number
  const last = instants.at(-1) as number
  t.same(instants, Array.from({ length: (last - first) / 1000 + 1 }, (_, i) => first + i * 1000), 'no instant missed between the first fire and the last')
  const byNode = (node: string) => tasks.filter(task => (task.payload as { node: string }).node === node).length
  t.ok(byNode('node-a') >= 3 && byNode('node-b') >= 3, `both nodes fired (node-a ${byNode('node-a')}, node-b ${byNode('node-b')})`)
})
