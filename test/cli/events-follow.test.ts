// `switchyard events --follow` through a real gateway, with a real dropped connection:
// the CLI reaches the gateway through a TCP relay in this test, which cuts every
// connection and refuses new ones for a while. Events appended meanwhile are printed
// after the reconnect (Last-Event-ID = the last one printed): the output is the event
// log itself, without a gap or a repeat.
import t from 'tap'
import net from 'node:net'
import { startDeployment } from './deployment.ts'
import { startCli } from './support.ts'

t.setTimeout(600_000)

interface Relay { address: string, cut: () => void, refuse: (on: boolean) => void, close: () => Promise<void> }

async function relay (target: string): Promise<Relay> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))]
  const sockets = new Set<net.Socket>()
  let refusing = false
  const server = net.createServer(client => {
    if (refusing) { client.destroy(); return }
    const upstream = net.connect(port, host)
    for (const s of [client, upstream]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}) }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port: relayPort } = server.address() as net.AddressInfo
  return {
    address: `127.0.0.1:${relayPort}`,
    cut: () => { for (const s of sockets) s.destroy() },
    refuse: (on) => { refusing = on },
    close: async () => { for (const s of sockets) s.destroy(); await new Promise(resolve => server.close(resolve)) }
  }
}

t.test('events --follow resumes after a dropped connection, without a gap or a repeat', async t => {
  const d = await startDeployment(t)
  const r = await relay(d.gateway)
  t.teardown(() => r.close())
  const follower = startCli(['events', '--follow', '--json', '--config', 'sy.yaml'], d.dir, { WORKER_ADMIN_HTTP_ADDR: r.address })
  t.teardown(() => { if (follower.child.exitCode === null) follower.child.kill('SIGKILL') })
  const printed = (): Array<{ id: string, type: string, data: unknown }> =>
    follower.stdout().split('\n').filter(line => line !== '').map(line => JSON.parse(line) as { id: string, type: string, data: unknown })
  const enqueuedIds = (): string[] => printed().filter(e => e.type === 'task.enqueued').map(e => (e.data as { id: string }).id)

  // the follower starts from now: wait until a task enqueued after it connected shows up
  let first = ''
  for (let i = 0; first === '' && i < 60; i++) {
    const { id } = await d.admin.call('EnqueueTask', { handler: 'ok', queue: 'followq' })
    await new Promise(resolve => setTimeout(resolve, 500))
    if (enqueuedIds().includes(id)) first = id
  }
  t.ok(first, 'the follower prints events as they come')

  r.refuse(true)
  r.cut()
  const during: string[] = []
  for (let i = 0; i < 3; i++) during.push((await d.admin.call('EnqueueTask', { handler: 'ok', queue: 'followq' })).id)
  await follower.waitFor(/event stream interrupted .*; reconnecting in \d+ ms after event \S+/, 60_000, 'stderr')
  r.refuse(false)
  const after = (await d.admin.call('EnqueueTask', { handler: 'ok', queue: 'followq' })).id
  const until = Date.now() + 120_000
  while (!enqueuedIds().includes(after) && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 250))
  const seen = enqueuedIds()
  for (const id of [...during, after]) t.ok(seen.includes(id), `task ${id} enqueued while disconnected or after is printed`)

  // exactly the event log: a replay of the same range prints the same ids
  const ids = printed().map(e => e.id)
  t.equal(new Set(ids).size, ids.length, 'no event printed twice')
  const replay = await d.cli(['events', '--json', '--after', ids[0] as string, '--limit', String(ids.length - 1)])
  t.equal(replay.code, 0, replay.stderr)
  const replayed = replay.stdout.trim().split('\n').map(line => (JSON.parse(line) as { id: string }).id)
  t.same(ids.slice(1), replayed, 'no event missing')

  follower.child.kill('SIGINT')
  t.equal(await follower.exited, 0, 'stops cleanly on Ctrl-C')
})
