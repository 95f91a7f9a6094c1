// What an operator reads in the log about the admin API: reads at debug, and each
// mutation exactly one info line with action, target, actor and outcome, whether it
// was applied, refused by a guard or failed.
import t from 'tap'
import { call, embeddedBackend, makeService } from '../../core/admin/test-support.ts'

interface Line { level: 'debug' | 'info', fields: Record<string, unknown>, msg: string }

function memoryLog (): { lines: Line[], log: { debug: (o: object, m?: string) => void, info: (o: object, m?: string) => void } } {
  const lines: Line[] = []
  return {
    lines,
    log: {
      debug: (fields, msg) => { lines.push({ level: 'debug', fields: fields as Record<string, unknown>, msg: msg ?? '' }) },
      info: (fields, msg) => { lines.push({ level: 'info', fields: fields as Record<string, unknown>, msg: msg ?? '' }) }
    }
  }
}

t.test('reads log at debug; a mutation logs one info line whatever its outcome', async (t) => {
  const backend = await embeddedBackend(t)
  const { lines, log } = memoryLog()
  const { service } = makeService(t, backend, { roles: { 'CN=ops': 'operator', 'CN=viewer': 'viewer' } }, { log })

  await service.ListQueues({}, call('CN=viewer'))
  t.same(lines.map(l => [l.level, l.fields.rpc, l.fields.actor]), [['debug', 'ListQueues', 'CN=viewer']], 'a read: one debug line')

  lines.length = 0
  await service.PauseQueue({ name: 'critical', paused: true }, call('CN=ops'))
  t.equal(lines.length, 1, 'one line for an applied mutation')
  t.match(lines[0], { level: 'info', fields: { action: 'queue.pause', target: 'critical', actor: 'CN=ops', outcome: 'ok' }, msg: 'admin queue.pause critical by CN=ops: ok' })

  lines.length = 0
  await t.rejects(service.PauseQueue({ name: 'critical', paused: false }, call('CN=viewer')), { code: 'FORBIDDEN' })
  t.equal(lines.length, 1, 'one line for a refused mutation')
  t.match(lines[0], { level: 'info', fields: { action: 'queue.pause', target: 'critical', actor: 'CN=viewer', outcome: 'denied', error: /^FORBIDDEN/ } })

  lines.length = 0
  await t.rejects(service.PauseQueue({ name: 'no-such-queue', paused: true }, call('CN=ops')), { code: 'QUEUE_NOT_FOUND' })
  t.equal(lines.length, 1, 'one line for a failed mutation')
  t.match(lines[0], { level: 'info', fields: { target: 'no-such-queue', outcome: 'error', error: /^QUEUE_NOT_FOUND/ } })
})
