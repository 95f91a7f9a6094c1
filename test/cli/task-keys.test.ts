// Idempotency key modes, keys as handles and tenant/correlation filters from the CLI:
// `switchyard start` on PostgreSQL, the CLI as a separate process over mutual TLS.
import t from 'tap'
import { startDeployment } from './deployment.ts'

t.setTimeout(600_000)
const d = await startDeployment(t)

interface Enqueued { id: string, created: boolean, outcome: string, state?: string }

t.test('enqueue --idempotency-mode, task get/cancel/delete --key, --tenant and --correlation-id filters', async t => {
  const key = `digest:user-${Date.now()}`
  const first = await d.json<Enqueued>(['enqueue', 'ok', '--queue', 'keysq', '--key', key, '--delay', '1h', '--payload', '{"n":1}', '--tenant', 'acme', '--correlation-id', 'flow-9'])
  t.match(first, { created: true, outcome: 'created' })
  const replaced = await d.json<Enqueued>(['enqueue', 'ok', '--queue', 'keysq', '--key', key, '--delay', '2h', '--payload', '{"n":2}', '--idempotency-mode', 'replace'])
  t.match(replaced, { id: first.id, created: false, outcome: 'replaced' })
  const text = await d.cli(['enqueue', 'ok', '--queue', 'keysq', '--key', key, '--delay', '2h', '--idempotency-mode', 'preserve_run_at'])
  t.equal(text.code, 0, text.stderr)
  t.match(text.stdout, `replaced task ${first.id} in queue keysq (it had not started)`)

  const got = await d.json<{ task: { id: string, payload: unknown, tenant?: string, correlationId?: string } }>(['task', 'get', '--key', key])
  t.match(got.task, { id: first.id, payload: {}, tenant: 'acme', correlationId: 'flow-9' }, 'task get --key (the last replace sent the default payload)')
  const shown = await d.cli(['task', 'get', '--key', key])
  t.match(shown.stdout, /^tenant: +acme$/m, 'task detail shows the tenant')
  t.match(shown.stdout, /^correlation id: +flow-9$/m, 'and the correlation id')

  const listed = await d.json<{ tasks: Array<{ id: string }> }>(['tasks', '--tenant', 'acme', '--correlation-id', 'flow-9'])
  t.same(listed.tasks.map(x => x.id), [first.id], 'tasks --tenant --correlation-id')
  const dlq = await d.json<{ entries: unknown[] }>(['dlq', 'list', '--tenant', 'acme'])
  t.same(dlq.entries, [], 'dlq list --tenant')

  t.match(await d.json(['task', 'cancel', '--key', key]), { id: first.id, key, state: 'canceled' })
  t.match(await d.json(['task', 'delete', '--key', key, '--dry-run']), { key, deleted: false, id: first.id })
  const deleted = await d.cli(['task', 'delete', '--key', key])
  t.equal(deleted.code, 0, deleted.stderr)
  t.match(deleted.stdout, `deleted task ${first.id} (canceled) holding key ${key}`)
  const gone = await d.cli(['task', 'get', '--key', key])
  t.equal(gone.code, 1, 'a key no task holds is refused')
  t.match(gone.stderr, /TASK_NOT_FOUND/)

  for (const [args, message] of [
    [['enqueue', 'ok', '--idempotency-mode', 'overwrite', '--key', 'k'], /--idempotency-mode: "overwrite"/],
    [['enqueue', 'ok', '--idempotency-mode', 'replace'], /--idempotency-mode replace: needs --key/],
    [['task', 'get'], /task get: missing <id> or --key/],
    [['task', 'get', '123', '--key', 'k'], /give a task id or --key, not both/],
    [['task', 'delete'], /task delete: missing --key/]
  ] as const) {
    const bad = await d.cli([...args])
    t.equal(bad.code, 2, `${args.join(' ')} is a usage error`)
    t.match(bad.stderr, message)
  }
  const badTenant = await d.cli(['enqueue', 'ok', '--tenant', 'not a name'])
  t.equal(badTenant.code, 1, 'the deployment refuses a bad tenant')
  t.match(badTenant.stderr, /VALIDATION_FAILED.*tenant/)
})
