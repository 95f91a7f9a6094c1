// Task dependencies from the CLI, as separate processes against a real deployment
// (`switchyard start` on PostgreSQL): enqueue --depends-on/--on-parent-failure, task get
// showing the parents, task graph (text and --json), refused input, and a cancel that
// reaches the child through its policy.
import t from 'tap'
import { startDeployment } from './deployment.ts'

t.setTimeout(600_000)
const d = await startDeployment(t)

t.test('enqueue --depends-on, task get, task graph, tasks --state blocked, cancel cascade', async t => {
  const p1 = (await d.json<{ id: string }>(['enqueue', 'ok', '--queue', 'depq', '--delay', '1h'])).id
  const p2 = (await d.json<{ id: string }>(['enqueue', 'ok', '--queue', 'depq', '--delay', '1h'])).id
  const child = await d.json<{ id: string, created: boolean }>(['enqueue', 'ok', '--queue', 'depq', '--depends-on', `${p1},${p2}`, '--on-parent-failure', 'dead'])
  t.equal(child.created, true)

  const got = await d.json<{ task: { state: string, dependsOn: string[], onParentFailure: string } }>(['task', 'get', child.id])
  t.match(got.task, { state: 'blocked', dependsOn: [p1, p2], onParentFailure: 'dead' })
  const text = await d.cli(['task', 'get', child.id])
  t.equal(text.code, 0, text.stderr)
  t.match(text.stdout, new RegExp(`depends on: +${p1}, ${p2} \\(a dying parent: dead\\)`), 'task get names the parents')

  const graph = await d.json<{ id: string, nodes: Array<{ id: string, state: string }>, edges: Array<{ parent: string, child: string }>, truncated: boolean }>(['task', 'graph', child.id])
  t.same(graph.nodes.map(n => n.id).sort(), [p1, p2, child.id].sort())
  t.same(graph.edges.map(e => `${e.parent}>${e.child}`).sort(), [`${p1}>${child.id}`, `${p2}>${child.id}`].sort())
  const graphText = await d.cli(['tasks', 'graph', p1, '--depth', '2'])
  t.equal(graphText.code, 0, graphText.stderr)
  t.match(graphText.stdout, /ID +STATE +QUEUE +HANDLER +PARENTS +CHILDREN/)
  t.match(graphText.stdout, new RegExp(`${p1} \\*`), 'marks the task asked about')
  t.match(graphText.stdout, '2 tasks, 1 links')

  const blocked = await d.json<{ tasks: Array<{ id: string }> }>(['tasks', '--state', 'blocked', '--queue', 'depq'])
  t.same(blocked.tasks.map(x => x.id), [child.id])

  const unknown = await d.cli(['enqueue', 'ok', '--queue', 'depq', '--depends-on', '999999999'])
  t.equal(unknown.code, 1, 'an unknown parent is refused')
  t.match(unknown.stderr, /dependsOn: no task 999999999/)
  const usage = await d.cli(['enqueue', 'ok', '--on-parent-failure', 'dead'])
  t.equal(usage.code, 2)
  t.match(usage.stderr, /--on-parent-failure: only with --depends-on/)
  const badPolicy = await d.cli(['enqueue', 'ok', '--depends-on', p1, '--on-parent-failure', 'explode'])
  t.equal(badPolicy.code, 2)
  t.match(badPolicy.stderr, /--on-parent-failure: "explode" is not one of cancel, dead/)
  const missingGraph = await d.cli(['task', 'graph', '999999999'])
  t.equal(missingGraph.code, 1)
  t.match(missingGraph.stderr, /TASK_NOT_FOUND|not found/)

  const canceled = await d.cli(['task', 'cancel', p1])
  t.equal(canceled.code, 0, canceled.stderr)
  const after = await d.json<{ task: { state: string, lastError: string } }>(['task', 'get', child.id])
  t.equal(after.task.state, 'dead', 'policy dead: the child is dead-lettered')
  t.match(after.task.lastError, `parent task ${p1} was canceled`)
})

t.test('a child runs after its parent succeeded through the deployment\'s worker', async t => {
  const parent = (await d.json<{ id: string }>(['enqueue', 'ok', '--queue', 'depq2', '--delay', '500ms'])).id
  const child = (await d.json<{ id: string }>(['enqueue', 'ok', '--queue', 'depq2', '--depends-on', parent])).id
  const deadline = Date.now() + 30_000
  let state = ''
  while (Date.now() < deadline) {
    state = (await d.admin.call('GetTask', { id: child })).task.state
    if (state === 'succeeded') break
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  t.equal(state, 'succeeded')
  t.equal((await d.admin.call('GetTask', { id: parent })).task.state, 'succeeded')
})
