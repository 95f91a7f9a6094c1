import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeService, serverBackend, suffix } from '../../core/admin/test-support.ts'
import { createGrpcAdminClient, startGrpcServer } from '../../core/transport/index.ts'
import { JOB_TASK_HANDLER } from '../../core/jobs/types.ts'
import { JOB_SETUP_BUDGET_MS } from '../../core/jobs/queue-run.ts'
import { ADMIN_IDENTITY, GATEWAY_IDENTITY, VIEWER_IDENTITY, WORKLOAD_URI, gatewayFor, httpsCall, makeCerts, type ClientIdentity } from '../admin/support.ts'

// The job RPCs through the real gateway (mutual TLS) and gRPC, over a Postgres backend:
// definitions refused by field, roles, read-only, approval, audit, RunJob queuing a run
// and its task, CancelJobRun on queued and running runs, and artifacts downloaded as
// the file itself (gateway) and as chunks (gRPC).

const certs = await makeCerts(t)
const backend = await serverBackend(t)
const tarballDir = await mkdtemp(join(tmpdir(), 'sy-job-tarballs-'))
t.teardown(async () => { await rm(tarballDir, { recursive: true, force: true }) })
const roles = { [ADMIN_IDENTITY]: 'admin', [VIEWER_IDENTITY]: 'viewer', [WORKLOAD_URI]: 'operator' } as const
const { service } = makeService(t, backend, { roles }, { jobs: { adminTarballDir: tarballDir } })
const { address } = await gatewayFor(t, service, certs)

async function call (method: string, path: string, identity: ClientIdentity, body?: unknown, headers: Record<string, string> = {}) {
  return await httpsCall(address, { method, path, identity, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
}

function gitJob (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, source: 'git_tag', repo: 'https://git.example/team/app.git', tag: 'v1.2.3', ...extra }
}

t.test('bad definitions are refused with 400 naming the field, and nothing is stored', async t => {
  const name = `bad-${suffix()}`
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ name, source: 'git_tag', repo: 'https://git.example/a.git' }, 'tag'],
    [{ name, source: 'git_tag', tag: 'v1' }, 'repo'],
    [gitJob(name, { repo: 'file:///etc' }), 'repo'],
    [gitJob(name, { repo: '--upload-pack=touch /tmp/x' }), 'repo'],
    [gitJob(name, { tag: '-v1' }), 'tag'],
    [gitJob(name, { tarballUrl: 'https://x.example/a.tgz' }), 'tarballUrl'],
    [{ name, source: 'tarball_url', tarballUrl: 'http://downloads.example/a.tgz' }, 'tarballUrl'],
    [{ name, source: 'tarball_path' }, 'tarballPath'],
    [{ name, source: 'tarball_path', tarballPath: '../outside.tgz' }, 'tarballPath'],
    [{ name, source: 'tarball_url', tarballUrl: 'https://d.example/a.tgz', tarballSha256: 'abc' }, 'tarballSha256'],
    [{ name, source: 'svn' }, 'source'],
    [gitJob('Bad Name'), 'name'],
    [gitJob('runs'), 'name'],
    [gitJob(name, { path: '../..' }), 'path'],
    [gitJob(name, { path: '/abs' }), 'path'],
    [gitJob(name, { dockerfile: 'a/../../Dockerfile' }), 'dockerfile'],
    [gitJob(name, { env: ['OK=1', '1BAD=2'] }), 'env[1]'],
    [gitJob(name, { env: ['NOVALUE'] }), 'env[0]'],
    [gitJob(name, { env: ['A=1', 'A=2'] }), 'env[1]'],
    [gitJob(name, { command: Array.from({ length: 65 }, () => 'x') }), 'command'],
    [gitJob(name, { retries: 101 }), 'retries'],
    [gitJob(name, { timeoutSeconds: 0 }), 'timeoutSeconds'],
    [gitJob(name, { timeoutSeconds: 86_401 }), 'timeoutSeconds'],
    [gitJob(name, { queue: 'bad queue' }), 'queue'],
    [gitJob(name, { resources: { memory: 'lots' } }), 'resources.memory'],
    [gitJob(name, { resources: { memory: '1mb' } }), 'resources.memory'],
    [gitJob(name, { resources: { cpus: 0 } }), 'resources.cpus'],
    [gitJob(name, { resources: { cpus: 65 } }), 'resources.cpus'],
    [gitJob(name, { resources: { pids: 0 } }), 'resources.pids'],
    [gitJob(name, { network: 'host' }), 'network'],
    [gitJob(name, { surprise: true }), 'surprise']
  ]
  for (const [body, field] of cases) {
    const res = await call('POST', '/admin/v1/jobs', certs.admin, body)
    t.match({ status: res.status, code: res.json?.error?.code, field: res.json?.error?.details?.field }, { status: 400, code: 'VALIDATION_FAILED', field }, `${JSON.stringify(body).slice(0, 120)} → ${field}: ${res.json?.error?.message as string}`)
  }
  const got = await call('GET', `/admin/v1/jobs/${name}`, certs.admin)
  t.match({ status: got.status, code: got.json?.error?.code }, { status: 404, code: 'JOB_NOT_FOUND' }, 'no half-applied definition')
})

t.test('UpsertJob stores a definition with defaults, audited; only admins define jobs', async t => {
  const name = `build-${suffix()}`
  const denied = await call('POST', '/admin/v1/jobs', certs.workload, gitJob(name))
  t.match({ status: denied.status, code: denied.json?.error?.code }, { status: 403, code: 'FORBIDDEN' }, 'an operator cannot define what runs')
  const viewer = await call('POST', '/admin/v1/jobs', certs.viewer, gitJob(name))
  t.equal(viewer.status, 403)

  const created = await call('POST', '/admin/v1/jobs', certs.admin, gitJob(name, { env: ['MODE=ci'], resources: { memory: '256mb', cpus: 0.5 } }), { 'x-request-id': `upsert-${name}` })
  t.equal(created.status, 200, created.text)
  t.match(created.json, {
    created: true,
    job: { name, source: 'git_tag', tag: 'v1.2.3', path: '.', dockerfile: 'Dockerfile', command: [], env: ['MODE=ci'], queue: 'default', retries: 0, timeoutSeconds: 600, resources: { memoryBytes: 256 * 1024 * 1024, cpus: 0.5, pids: 256 } }
  }, 'absent lists are empty, absent fields take the defaults')
  const again = await call('POST', '/admin/v1/jobs', certs.admin, gitJob(name, { tag: 'v1.2.4', retries: 2 }))
  t.match(again.json, { created: false, job: { tag: 'v1.2.4', retries: 2, createdAt: created.json?.job?.createdAt } }, 'a second upsert replaces it, keeping its creation time')

  const read = await call('GET', `/admin/v1/jobs/${name}`, certs.viewer)
  t.match(read.json, { job: { name, tag: 'v1.2.4' } }, 'viewers read definitions')
  const list = await call('GET', '/admin/v1/jobs?limit=1000', certs.viewer)
  t.ok((list.json?.jobs as Array<{ name: string }>).some(job => job.name === name))

  const audit = await service.ListAuditEvents({ action: 'job.upsert', limit: 100 }, { actor: ADMIN_IDENTITY, requestId: 'check' })
  t.match(audit.events.find(event => event.requestId === `upsert-${name}`), { action: 'job.upsert', target: name, actor: ADMIN_IDENTITY, outcome: 'ok' })
  t.ok(audit.events.some(event => event.outcome === 'denied' && event.target === name), 'the refused upsert is audited as denied')
})

t.test('RunJob queues a run and its task; CancelJobRun cancels a queued run and asks a running one to stop', async t => {
  const name = `nightly-${suffix()}`
  const queue = `jobs-${suffix()}`
  t.equal((await call('POST', '/admin/v1/jobs', certs.admin, gitJob(name, { queue, retries: 2, timeoutSeconds: 120 }))).status, 200)

  const viewerRun = await call('POST', `/admin/v1/jobs/${name}/run`, certs.viewer)
  t.equal(viewerRun.status, 403, 'viewers cannot run jobs')
  const ran = await call('POST', `/admin/v1/jobs/${name}/run`, certs.workload, undefined, { 'x-request-id': `run-${name}` })
  t.equal(ran.status, 200, ran.text)
  const run = ran.json?.run as { id: string, taskId: string }
  t.match(ran.json, { taskId: run.taskId, run: { job: name, state: 'queued', attempt: 1, maxAttempts: 3, trigger: 'admin', definition: { name, retries: 2 } } })
  const task = await backend.getTask(run.taskId)
  t.match(task, { handler: JOB_TASK_HANDLER, queue, state: 'ready', maxAttempts: 3, payload: { runId: run.id, job: name }, timeoutMs: 120_000 + JOB_SETUP_BUDGET_MS }, 'one durable task in the job\'s queue carries the run')
  const listed = await call('GET', `/admin/v1/jobs/runs?job=${name}`, certs.viewer)
  t.same((listed.json?.runs as Array<{ id: string }>).map(item => item.id), [run.id])
  const events = await call('GET', `/admin/v1/jobs/events?name=${name}&limit=10`, certs.viewer)
  t.match((events.json?.events as Array<{ type: string }>).map(event => event.type), ['job.created', 'job.queued'])
  t.match(events.json?.events[1], { type: 'job.queued', data: { job: name, runId: run.id, taskId: run.taskId, trigger: 'admin' } })
  const audit = await service.ListAuditEvents({ action: 'job.run', limit: 100 }, { actor: ADMIN_IDENTITY, requestId: 'check' })
  t.match(audit.events.find(event => event.requestId === `run-${name}`), { actor: WORKLOAD_URI, target: name, outcome: 'ok' })

  const canceled = await call('POST', `/admin/v1/jobs/runs/${run.id}/cancel`, certs.workload)
  t.match(canceled.json, { outcome: 'canceled', run: { id: run.id, state: 'canceled' } }, 'a queued run is canceled at once')
  t.equal((await backend.getTask(run.taskId))?.state, 'canceled', 'and its task with it')
  const twice = await call('POST', `/admin/v1/jobs/runs/${run.id}/cancel`, certs.workload)
  t.match(twice.json, { outcome: 'already_canceled' }, 'canceling again is idempotent')

  // A worker leased the task: the runner owns the run now, so the cancel is a request.
  const second = (await call('POST', `/admin/v1/jobs/${name}/run`, certs.admin)).json?.run as { id: string, taskId: string }
  const leased = await backend.leaseTasks({ workerId: 'runner-under-test', queues: [queue], limit: 1, leaseMs: 60_000 })
  t.equal(leased[0]?.id, second.taskId)
  const requested = await call('POST', `/admin/v1/jobs/runs/${second.id}/cancel`, certs.workload)
  t.match(requested.json, { outcome: 'cancel_requested', run: { id: second.id, state: 'queued' } }, 'a started run is asked to stop')
  t.type(requested.json?.run?.cancelRequestedAt, 'string')
  const after = await call('GET', `/admin/v1/jobs/events?runId=${second.id}`, certs.viewer)
  t.match((after.json?.events as Array<{ type: string }>).map(event => event.type), ['job.queued', 'job.cancel_requested'])

  const missing = await call('POST', '/admin/v1/jobs/runs/0000000000000-ffffff/cancel', certs.workload)
  t.match({ status: missing.status, code: missing.json?.error?.code }, { status: 404, code: 'JOB_RUN_NOT_FOUND' })
  const unknown = await call('POST', `/admin/v1/jobs/nope-${suffix()}/run`, certs.workload)
  t.match({ status: unknown.status, code: unknown.json?.error?.code }, { status: 404, code: 'JOB_NOT_FOUND' })

  const deleted = await call('DELETE', `/admin/v1/jobs/${name}`, certs.admin)
  t.match(deleted.json, { name, deleted: true })
  t.match((await call('DELETE', `/admin/v1/jobs/${name}`, certs.admin)).json, { deleted: false }, 'deleting again is idempotent')
  const history = await call('GET', `/admin/v1/jobs/runs?job=${name}`, certs.viewer)
  t.equal((history.json?.runs as unknown[]).length, 2, 'its runs are kept')
})

t.test('read-only and approval hold for the job mutations', async t => {
  const readOnly = makeService(t, backend, { readOnly: true }).service
  const ro = await gatewayFor(t, readOnly, certs)
  const refused = await httpsCall(ro.address, { method: 'POST', path: '/admin/v1/jobs', identity: certs.admin, body: JSON.stringify(gitJob(`ro-${suffix()}`)) })
  t.match({ status: refused.status, code: refused.json?.error?.code }, { status: 403, code: 'READ_ONLY' })

  const guarded = makeService(t, backend, { requireApproval: true, approvalToken: 'let-me-in' }).service
  const gw = await gatewayFor(t, guarded, certs)
  const name = `approved-${suffix()}`
  const unapproved = await httpsCall(gw.address, { method: 'POST', path: '/admin/v1/jobs', identity: certs.admin, body: JSON.stringify(gitJob(name)) })
  t.match({ status: unapproved.status, code: unapproved.json?.error?.code }, { status: 412, code: 'APPROVAL_REQUIRED' })
  const approved = await httpsCall(gw.address, { method: 'POST', path: '/admin/v1/jobs', identity: certs.admin, body: JSON.stringify(gitJob(name)), headers: { 'x-admin-approval': 'let-me-in' } })
  t.equal(approved.status, 200)
  const run = await httpsCall(gw.address, { method: 'POST', path: `/admin/v1/jobs/${name}/run`, identity: certs.admin })
  t.equal(run.status, 412, 'RunJob needs approval too')
})

t.test('a tarball_path archive downloads through the gateway and as gRPC chunks, never from outside the directory', async t => {
  const content = randomBytes(200 * 1024 + 17)
  const sha256 = createHash('sha256').update(content).digest('hex')
  await mkdir(join(tarballDir, 'releases'), { recursive: true })
  await writeFile(join(tarballDir, 'releases', 'app-1.0.tar.gz'), content)
  const name = `tarball-${suffix()}`
  t.equal((await call('POST', '/admin/v1/jobs', certs.admin, { name, source: 'tarball_path', tarballPath: 'releases/app-1.0.tar.gz' })).status, 200)

  const meta = await call('GET', `/admin/v1/jobs/${name}/artifact/meta`, certs.viewer)
  t.match(meta.json, { job: name, artifact: { name: 'app-1.0.tar.gz', size: content.length, sha256 } })
  const download = await httpsCall(address, { method: 'GET', path: `/admin/v1/jobs/${name}/artifact`, identity: certs.viewer })
  t.equal(download.status, 200)
  t.equal(download.headers['content-disposition'], 'attachment; filename="app-1.0.tar.gz"')
  t.equal(download.headers['x-switchyard-sha256'], sha256)
  t.equal(createHash('sha256').update(download.body).digest('hex'), sha256, 'the gateway serves the exact bytes')

  const server = await startGrpcServer({ service, addr: '127.0.0.1:0', tls: certs.server })
  t.teardown(async () => { await server.close() })
  const client = createGrpcAdminClient({ target: server.address, tls: certs.admin, serverName: 'localhost' })
  t.teardown(() => { client.close() })
  const stream = client.GetJobArtifact({ name }, { actor: ADMIN_IDENTITY, requestId: `dl-${suffix()}` })
  await stream.ready
  const pieces: Buffer[] = []
  let first: { size?: number, sha256?: string } | null = null
  for await (const chunk of stream) {
    first ??= chunk
    pieces.push(Buffer.from(chunk.dataBase64, 'base64'))
  }
  t.match(first, { size: content.length, sha256 }, 'the first chunk carries the metadata')
  t.ok(pieces.length > 1, 'the archive comes in several chunks')
  t.ok(Buffer.concat(pieces).equals(content), 'the chunks are the archive')

  const outside = await mkdtemp(join(tmpdir(), 'sy-outside-'))
  t.teardown(async () => { await rm(outside, { recursive: true, force: true }) })
  await writeFile(join(outside, 'secret.tgz'), 'not yours')
  await symlink(join(outside, 'secret.tgz'), join(tarballDir, 'escape.tgz'))
  const sneaky = `sneaky-${suffix()}`
  t.equal((await call('POST', '/admin/v1/jobs', certs.admin, { name: sneaky, source: 'tarball_path', tarballPath: 'escape.tgz' })).status, 200)
  const refused = await call('GET', `/admin/v1/jobs/${sneaky}/artifact`, certs.viewer)
  t.match({ status: refused.status, code: refused.json?.error?.code }, { status: 404, code: 'JOB_ARTIFACT_NOT_FOUND' }, 'a link out of the directory is not followed')
  const gitName = `git-${suffix()}`
  t.equal((await call('POST', '/admin/v1/jobs', certs.admin, gitJob(gitName))).status, 200)
  const noStore = await call('GET', `/admin/v1/jobs/${gitName}/artifact`, certs.viewer)
  t.match({ status: noStore.status, code: noStore.json?.error?.code }, { status: 501, code: 'ARTIFACT_STORE_NOT_CONFIGURED' }, 'without an artifact store, a run artifact cannot be read')
})

t.test('a gateway apart from the service downloads an artifact through gRPC: no shared mount', async t => {
  // the service (with the tarball directory) behind its gRPC server; the gateway only has the gRPC client
  const content = randomBytes(300 * 1024 + 5)
  const sha256 = createHash('sha256').update(content).digest('hex')
  await writeFile(join(tarballDir, 'split-1.0.tar.gz'), content)
  const name = `split-${suffix()}`
  t.equal((await call('POST', '/admin/v1/jobs', certs.admin, { name, source: 'tarball_path', tarballPath: 'split-1.0.tar.gz' })).status, 200)
  const server = await startGrpcServer({ service, addr: '127.0.0.1:0', tls: certs.server, trustedGateways: [GATEWAY_IDENTITY] })
  t.teardown(async () => { await server.close() })
  const client = createGrpcAdminClient({ target: server.address, tls: certs.gateway, serverName: 'localhost' })
  t.teardown(() => { client.close() })
  const split = await gatewayFor(t, client as unknown as Parameters<typeof gatewayFor>[1], certs)
  const download = await httpsCall(split.address, { method: 'GET', path: `/admin/v1/jobs/${name}/artifact`, identity: certs.viewer })
  t.equal(download.status, 200)
  t.equal(download.headers['content-disposition'], 'attachment; filename="split-1.0.tar.gz"')
  t.equal(download.headers['x-switchyard-sha256'], sha256)
  t.ok(download.body.equals(content), 'the split gateway serves the exact bytes')
  const missing = await httpsCall(split.address, { method: 'GET', path: `/admin/v1/jobs/none-${suffix()}/artifact`, identity: certs.viewer })
  t.equal(missing.status, 404, 'a refusal crosses the hop with its status')
})
