import t from 'tap'
import { serverBackend, suffix } from '../../core/admin/test-support.ts'
import { createGrpcAdminClient, startGrpcServer } from '../../core/transport/index.ts'
import { GATEWAY_IDENTITY, adminService, gatewayFor, httpsCall, makeCerts } from './support.ts'

// ListTasks and ListDLQ cursors on the wire: every call crosses the gateway, then gRPC,
// then the service, so nextCursor and cursor travel through both transports.

t.test('ListTasks and ListDLQ page by cursor through the gateway and gRPC; foreign and mixed cursors are refused', async t => {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const server = await startGrpcServer({ service, addr: '127.0.0.1:0', tls: certs.server, trustedGateways: [GATEWAY_IDENTITY], onError: err => { t.fail(`unexpected gRPC failure: ${String(err)}`) } })
  t.teardown(async () => { await server.close() })
  const remote = createGrpcAdminClient({ target: server.address, tls: { ca: certs.server.ca, cert: certs.gateway.cert, key: certs.gateway.key } })
  t.teardown(() => { remote.close() })
  const { address } = await gatewayFor(t, remote, certs)
  const get = async (path: string): Promise<{ status: number, json: any }> => await httpsCall(address, { method: 'GET', path, identity: certs.admin })

  const queue = `cursor-${suffix()}`
  const ids: string[] = []
  for (let i = 0; i < 7; i++) {
    const created = await httpsCall(address, { method: 'POST', path: '/admin/v1/tasks', identity: certs.admin, body: JSON.stringify({ handler: 'mail.send', queue, payload: { i }, delayMs: 3_600_000 + i * 1000 }) })
    t.equal(created.status, 200, JSON.stringify(created.json))
    ids.push(created.json.id)
  }

  const seen: string[] = []
  let cursor: string | undefined
  let pages = 0
  do {
    const page = await get(`/admin/v1/tasks?queue=${queue}&state=scheduled&limit=3${cursor === undefined ? '' : `&cursor=${cursor}`}`)
    t.equal(page.status, 200, JSON.stringify(page.json))
    seen.push(...page.json.tasks.map((x: { id: string }) => x.id))
    cursor = page.json.nextCursor
    pages++
    // a task enqueued between pages runs after all of them: reached on a later page, once
    if (pages === 1) ids.push((await httpsCall(address, { method: 'POST', path: '/admin/v1/tasks', identity: certs.admin, body: JSON.stringify({ handler: 'mail.send', queue, delayMs: 7_200_000 }) })).json.id)
  } while (cursor !== undefined && pages < 10)
  t.same(seen, ids, 'scheduled tasks in run order, each once, including the one enqueued while paging')
  t.equal(pages, 3, '8 tasks in pages of 3')

  const first = await get(`/admin/v1/tasks?queue=${queue}&state=scheduled&limit=3`)
  const foreign = await get(`/admin/v1/tasks?queue=${queue}&state=ready&limit=3&cursor=${first.json.nextCursor}`)
  t.equal(foreign.status, 400, 'a cursor of another filter is refused')
  t.match(foreign.json.error, { code: 'VALIDATION_FAILED', details: { field: 'cursor' }, message: /cursor: belongs to another task list/ })
  const asDlq = await get(`/admin/v1/dlq?queue=${queue}&cursor=${first.json.nextCursor}`)
  t.equal(asDlq.status, 400, 'a task list cursor is not a DLQ cursor')
  t.match(asDlq.json.error, { details: { field: 'cursor' } })
  const garbage = await get(`/admin/v1/tasks?queue=${queue}&cursor=bm90LWEtY3Vyc29y`)
  t.equal(garbage.status, 400)
  t.match(garbage.json.error, { details: { field: 'cursor' }, message: /cursor: not a cursor/ })
  const both = await get(`/admin/v1/tasks?queue=${queue}&state=scheduled&offset=3&cursor=${first.json.nextCursor}`)
  t.equal(both.status, 400, 'cursor with an offset is refused')
  t.match(both.json.error, { details: { field: 'cursor' }, message: /either cursor or offset/ })

  const dlqFirst = await get(`/admin/v1/dlq?queue=${queue}&limit=3`)
  t.equal(dlqFirst.status, 200)
  t.same(dlqFirst.json.entries, [])
  t.equal(dlqFirst.json.nextCursor, undefined, 'an empty DLQ has no next page')
})
