// The schedule RPCs end to end: over the HTTPS gateway and over gRPC (mutual TLS),
// in front of an AdminService with a scheduler on a real Postgres schema. Every
// mutation is audited with the caller's identity and emits a schedule.* event.
import t, { type Test } from 'tap'
import * as grpc from '@grpc/grpc-js'
import type { Backend } from '../../core/backend/types.ts'
import { makeService, serverBackend, waitFor } from '../../core/admin/test-support.ts'
import { createScheduler } from '../../core/scheduler/index.ts'
import { startGrpcServer } from '../../core/transport/index.ts'
import { ADMIN_IDENTITY, gatewayFor, grpcCall, grpcClient, httpsCall, makeCerts } from '../admin/support.ts'

async function setup (t: Test) {
  const backend: Backend = await serverBackend(t)
  const scheduler = createScheduler({ backend, options: { autoTick: false } })
  scheduler.scheduleFactory('nightly_report', ({ instant, manual }) => ({ handler: 'report.nightly', payload: { instant, manual } }), { description: 'the nightly report' })
  const { service, events, sink } = makeService(t, backend, { scheduleRunMax: 2, scheduleRunWindowMs: 60_000 }, { scheduler })
  const certs = await makeCerts(t)
  const { address } = await gatewayFor(t, service, certs)
  const server = await startGrpcServer({ service, addr: '127.0.0.1:0', tls: certs.server, onError: err => { t.fail(`unexpected gRPC failure: ${String(err)}`) } })
  t.teardown(async () => { await server.close() })
  const client = grpcClient(t, server.address, certs.admin, certs.admin.ca)
  const http = async (method: string, path: string, body?: unknown) => await httpsCall(address, { method, path, identity: certs.admin, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  return { backend, scheduler, service, events, sink, http, client }
}

t.test('bad input: an unknown factory, a bad spec and a bad time zone each get a 400 naming the field, over HTTP and gRPC', async t => {
  const { http, client, sink } = await setup(t)
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ name: 'no_such_factory', spec: '* * * * *' }, 'name', /no schedule factory named "no_such_factory"/],
    [{ name: 'nightly_report', spec: '61 * * * *' }, 'spec', /"61 \* \* \* \*".*minute: 61/],
    [{ name: 'nightly_report', spec: '0 2 * * *', timezone: 'Europe/Atlantis' }, 'timezone', /"Europe\/Atlantis" is not a known IANA time zone/]
  ]
  for (const [body, field, message] of cases) {
    const res = await http('POST', '/admin/v1/schedules', body)
    t.equal(res.status, 400, `HTTP ${field}: 400`)
    t.match(res.json, { error: { code: 'VALIDATION_FAILED', message, details: { field } } }, `HTTP ${field}: names the field and the value`)
    const rpc = await grpcCall(client, 'CreateSchedule', body)
    t.equal(rpc.error?.code, grpc.status.INVALID_ARGUMENT, `gRPC ${field}: INVALID_ARGUMENT`)
    t.equal(rpc.code, 'VALIDATION_FAILED')
    t.match(rpc.details, { field }, `gRPC ${field}: names the field`)
  }
  t.equal(sink.events.filter(e => e.action === 'schedule.upsert' && e.outcome === 'error').length, 6, 'every refused create is audited as an error')
  const missing = await http('POST', '/admin/v1/schedules/ghost/pause', { paused: true })
  t.equal(missing.status, 404, 'pausing a schedule that does not exist: 404')
  t.equal(missing.json.error.code, 'SCHEDULE_NOT_FOUND')
})

t.test('create, pause, resume, run now, pause all, delete: over HTTP and gRPC, audited, with events', async t => {
  const { http, client, sink, backend, scheduler } = await setup(t)
  const factories = await http('GET', '/admin/v1/schedules/factories')
  t.same(factories.json, { factories: [{ name: 'nightly_report', description: 'the nightly report', durableDefault: true }] })

  const created = await http('POST', '/admin/v1/schedules', { name: 'nightly_report', spec: '30 2 * * *', timezone: 'Europe/Berlin' })
  t.equal(created.status, 200)
  t.match(created.json, { created: true, schedule: { name: 'nightly_report', spec: '30 2 * * *', timezone: 'Europe/Berlin', durable: true, paused: false, overlap: 'skip', catchUp: 'none', lastStatus: 'none', fired: 0, factoryRegistered: true } })
  t.ok(typeof created.json.schedule.nextRunAt === 'string', 'next run is reported')
  const updated = await grpcCall(client, 'CreateSchedule', { name: 'nightly_report', spec: '0 3 * * *' })
  t.match(updated.response, { created: false, schedule: { spec: '0 3 * * *', timezone: 'Europe/Berlin' } }, 'upsert by name keeps unspecified settings')

  const paused = await grpcCall(client, 'PauseSchedule', { name: 'nightly_report', paused: true })
  t.match(paused.response, { schedule: { paused: true } })
  t.notOk('nextRunAt' in paused.response.schedule && paused.response.schedule.nextRunAt !== '', 'no next run while paused')
  t.equal((await http('POST', '/admin/v1/schedules/nightly_report/pause', { paused: true })).json.schedule.paused, true, 'pausing twice is harmless')
  t.same((await http('GET', '/admin/v1/schedules/factories')).json.factories.map((f: { name: string }) => f.name), ['nightly_report'], 'pause keeps the factory registered')
  const resumed = await http('POST', '/admin/v1/schedules/nightly_report/pause', { paused: false })
  t.match(resumed.json, { schedule: { paused: false } })

  const run = await grpcCall(client, 'RunSchedule', { name: 'nightly_report' })
  t.match(run.response, { schedule: { lastStatus: 'fired', fired: 1 } })
  const task = await backend.getTask(run.response.taskId)
  t.match(task, { handler: 'report.nightly', payload: { manual: true } }, 'run now enqueued the factory\'s task')
  t.equal((await http('POST', '/admin/v1/schedules/nightly_report/run')).status, 200, 'second run within the cap')
  const capped = await http('POST', '/admin/v1/schedules/nightly_report/run')
  t.equal(capped.status, 429, 'the third run in the window is refused (WORKER_ADMIN_SCHEDULE_RUN_MAX = 2)')
  t.equal(capped.json.error.code, 'GUARDRAIL_EXCEEDED')

  const dry = await http('POST', '/admin/v1/schedules/pause', { paused: true, dryRun: true })
  t.same(dry.json, { paused: true, dryRun: true, changed: ['nightly_report'], total: 1 }, 'dry run names the targets')
  t.equal((await scheduler.listSchedules())[0]?.paused, false, 'and changes nothing')
  const all = await grpcCall(client, 'PauseSchedules', { paused: true })
  t.same(all.response, { paused: true, dryRun: false, changed: ['nightly_report'], total: 1 })

  const listed = await http('GET', '/admin/v1/schedules')
  t.match(listed.json.schedules, [{ name: 'nightly_report', paused: true, previousRunAt: String, lastStatus: 'fired', fired: 2 }])
  const history = await grpcCall(client, 'ListScheduleEvents', { name: 'nightly_report', limit: 10 })
  t.same(history.response.events.map((e: { type: string }) => e.type), ['paused', 'run_now', 'run_now', 'resumed', 'paused', 'updated', 'created'], 'bounded history, newest first')

  const deleted = await http('DELETE', '/admin/v1/schedules/nightly_report')
  t.same(deleted.json, { name: 'nightly_report', deleted: true })
  t.same((await grpcCall(client, 'DeleteSchedule', { name: 'nightly_report' })).response, { name: 'nightly_report', deleted: false }, 'deleting again is harmless')
  t.same((await http('GET', '/admin/v1/schedules')).json, { schedules: [] })

  const actions = sink.events.filter(e => e.outcome === 'ok').map(e => e.action).reverse()
  t.same(actions.reverse(), ['schedule.upsert', 'schedule.upsert', 'schedule.pause', 'schedule.pause', 'schedule.pause', 'schedule.run', 'schedule.run', 'schedule.pause_all', 'schedule.pause_all', 'schedule.delete', 'schedule.delete'], 'every mutation is audited')
  t.ok(sink.events.every(e => e.actor === ADMIN_IDENTITY || e.actor.includes(ADMIN_IDENTITY)), 'with the caller\'s certificate identity')
  t.ok(sink.events.some(e => e.action === 'schedule.run' && e.outcome === 'denied'), 'the capped run is audited as denied')

  const types = await waitFor(async () => {
    const stored = (await backend.readEvents({ afterId: null, limit: 1000 })).map(e => e.type).filter(type => type.startsWith('schedule.'))
    return stored.includes('schedule.deleted') ? stored : undefined
  }, 'schedule events in the event log')
  t.same(types, ['schedule.created', 'schedule.updated', 'schedule.paused', 'schedule.resumed', 'schedule.run', 'schedule.run', 'schedule.paused_all', 'schedule.deleted'], 'schedule.* events on the stream')
})

t.test('the run-now cap is counted cluster-wide: two admin services sharing one backend share it', async t => {
  const backend: Backend = await serverBackend(t)
  const serviceOn = () => {
    const scheduler = createScheduler({ backend, options: { autoTick: false } })
    scheduler.scheduleFactory('nightly_report', () => ({ handler: 'report.nightly', payload: {} }))
    t.teardown(async () => { await scheduler.stop() })
    return makeService(t, backend, { scheduleRunMax: 3, scheduleRunWindowMs: 60_000 }, { scheduler }).service
  }
  const first = serviceOn()
  const second = serviceOn()
  const ctx = { actor: ADMIN_IDENTITY, requestId: 'cap' }
  await first.CreateSchedule({ name: 'nightly_report', spec: '0 3 * * *' }, ctx)
  // Concurrent runs from both processes: each is counted once, none is lost to a race.
  const outcomes = await Promise.allSettled([first, second, first, second].map(async service => await service.RunSchedule({ name: 'nightly_report' }, ctx)))
  t.equal(outcomes.filter(outcome => outcome.status === 'fulfilled').length, 3, 'three runs in the window, whichever process served them')
  const refused = outcomes.find(outcome => outcome.status === 'rejected')
  t.match(refused?.status === 'rejected' ? refused.reason : null, { code: 'GUARDRAIL_EXCEEDED', details: { limit: 3, windowMs: 60_000 } })
  for (const service of [first, second]) {
    await t.rejects(service.RunSchedule({ name: 'nightly_report' }, ctx), { code: 'GUARDRAIL_EXCEEDED' }, 'the other process sees the same count')
  }
})
