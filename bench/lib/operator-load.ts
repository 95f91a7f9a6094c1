// Operators against the gateway, for a worker thread: `clients` keep-alive mutual-TLS
// connections, each sending requests back to back for `seconds`, nine reads in ten
// (overview, queue list, task list, DLQ list) and one mutation in ten (enqueue, pause
// or resume a queue, cancel a queued task). A non-2xx answer and a failed socket
// are counted apart, per request kind, with the first few answers kept to say why.
import https from 'node:https'
import { parentPort, workerData } from 'node:worker_threads'
import { summarize, type LatencySummary } from './stats.ts'

export interface OperatorPlan {
  url: string
  ca: string
  cert: string
  key: string
  /** connections (one client each) in this worker */
  clients: number
  seconds: number
  /** client numbers start here, so queue names and keys differ between workers */
  firstClient: number
  /** queues the reads and mutations pick from */
  queues: string[]
  /** one request gives up after this long (counted as a socket error) */
  timeoutMs: number
  /** queued tasks this worker's clients may cancel (no other worker has them); its enqueues add to them */
  cancelable: string[]
}

export const READ_KINDS = ['overview', 'queues', 'tasks', 'dlq'] as const
export const MUTATION_KINDS = ['enqueue', 'pause', 'resume', 'cancel'] as const
export type RequestKind = typeof READ_KINDS[number] | typeof MUTATION_KINDS[number]

export interface KindResult {
  ok: number
  /** status → count of answers outside 2xx */
  non2xx: Record<string, number>
  socketErrors: number
  latencyMs: LatencySummary
}

export interface OperatorResult {
  requests: number
  elapsedMs: number
  kinds: Record<string, KindResult>
  /** every latency of a 2xx answer per kind, for percentiles across workers */
  latenciesMs: Record<string, number[]>
  /** the first few failures, verbatim enough to act on */
  failures: string[]
  /** requests that opened a connection: request start → TLS handshake done, and → answer (2xx) */
  newConnection: { handshakeMs: number[], answerMs: number[] }
}

interface Request { kind: RequestKind, method: string, path: string, body: string | null }

const MAX_FAILURES_KEPT = 10
/** tasks kept in reserve for cancels; each id is taken by one client only, so a cancel never races another */
const MAX_CANCELABLE = 10_000

async function run (plan: OperatorPlan): Promise<OperatorResult> {
  const base = new URL(plan.url)
  const agent = new https.Agent({ keepAlive: true, maxSockets: plan.clients, ca: plan.ca, cert: plan.cert, key: plan.key })
  const samples = new Map<RequestKind, number[]>()
  const kinds = new Map<RequestKind, Omit<KindResult, 'latencyMs'>>()
  for (const kind of [...READ_KINDS, ...MUTATION_KINDS]) { samples.set(kind, []); kinds.set(kind, { ok: 0, non2xx: {}, socketErrors: 0 }) }
  const failures: string[] = []
  const fail = (text: string): void => { if (failures.length < MAX_FAILURES_KEPT) failures.push(text) }

  const handshakeMs: number[] = []
  const newConnectionAnswerMs: number[] = []
  const send = (request: Request): Promise<string | null> => new Promise((resolve) => {
    const started = performance.now()
    let fresh = false
    const counts = kinds.get(request.kind)!
    const headers: Record<string, string> = { accept: 'application/json' }
    if (request.body !== null) headers['content-type'] = 'application/json'
    const req = https.request({ host: base.hostname, port: base.port, method: request.method, path: request.path, agent, servername: 'localhost', headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const status = res.statusCode ?? 0
        const text = Buffer.concat(chunks).toString('utf8')
        if (status >= 200 && status < 300) {
          counts.ok++
          samples.get(request.kind)!.push(performance.now() - started)
          if (fresh) newConnectionAnswerMs.push(performance.now() - started)
          resolve(text)
        } else {
          counts.non2xx[status] = (counts.non2xx[status] ?? 0) + 1
          fail(`${request.method} ${request.path}: ${status} ${text.slice(0, 300)}`)
          resolve(null)
        }
      })
      res.on('error', (err) => { counts.socketErrors++; fail(`${request.method} ${request.path}: response ${err.message}`); resolve(null) })
    })
    // a request on a new connection waits for its TLS handshake first: told apart, so a
    // tail made of handshakes shows as such
    req.once('socket', (socket) => {
      if (req.reusedSocket) return
      fresh = true
      socket.once('secureConnect', () => handshakeMs.push(performance.now() - started))
    })
    req.setTimeout(plan.timeoutMs, () => req.destroy(new Error(`no answer within ${plan.timeoutMs} ms`)))
    req.on('error', (err) => { counts.socketErrors++; fail(`${request.method} ${request.path}: ${err.message}`); resolve(null) })
    req.end(request.body ?? undefined)
  })

  const cancelable = [...plan.cancelable]
  const deadline = performance.now() + plan.seconds * 1000
  const started = performance.now()
  await Promise.all(Array.from({ length: plan.clients }, async (_, i) => {
    const client = plan.firstClient + i
    const queue = (n: number): string => plan.queues[(client + n) % plan.queues.length]!
    for (let n = 0; performance.now() < deadline; n++) {
      // one request in ten is a mutation; clients are staggered so mutations come from the start
      let request: Request
      if ((client + n) % 10 !== 9) {
        const kind = READ_KINDS[(client + n) % READ_KINDS.length]!
        const path = kind === 'overview' ? '/admin/v1/overview'
          : kind === 'queues' ? '/admin/v1/queues'
            : kind === 'tasks' ? `/admin/v1/tasks?queue=${encodeURIComponent(queue(n))}&limit=50`
              : '/admin/v1/dlq?limit=50'
        request = { kind, method: 'GET', path, body: null }
      } else {
        // the mutations take turns: enqueue, pause, enqueue, resume, enqueue, cancel, ...
        const turn = (client + Math.floor(n / 10)) % 6
        const kind: RequestKind = turn % 2 === 0 || (turn === 5 && cancelable.length === 0) ? 'enqueue' : turn === 1 ? 'pause' : turn === 3 ? 'resume' : 'cancel'
        const q = queue(0)
        if (kind === 'enqueue') request = { kind, method: 'POST', path: '/admin/v1/tasks', body: JSON.stringify({ queue: q, handler: 'under-load', payload: { client, n } }) }
        else if (kind === 'cancel') request = { kind, method: 'POST', path: `/admin/v1/tasks/${encodeURIComponent(cancelable.pop()!)}/cancel`, body: null }
        else request = { kind, method: 'POST', path: `/admin/v1/queues/${encodeURIComponent(q)}/pause`, body: JSON.stringify({ paused: kind === 'pause' }) }
      }
      const answer = await send(request)
      if (request.kind === 'enqueue' && answer !== null && cancelable.length < MAX_CANCELABLE) {
        const { id } = JSON.parse(answer) as { id?: unknown }
        if (typeof id === 'string') cancelable.push(id)
      }
    }
  }))
  const elapsedMs = performance.now() - started
  agent.destroy()
  return {
    requests: [...samples.values()].reduce((sum, list) => sum + list.length, 0) + [...kinds.values()].reduce((sum, k) => sum + Object.values(k.non2xx).reduce((a, b) => a + b, 0) + k.socketErrors, 0),
    elapsedMs,
    kinds: Object.fromEntries([...kinds].map(([kind, counts]) => [kind, { ...counts, latencyMs: summarize(samples.get(kind)!) }])),
    latenciesMs: Object.fromEntries(samples),
    failures,
    newConnection: { handshakeMs, answerMs: newConnectionAnswerMs }
  }
}

if (parentPort !== null) {
  run(workerData as OperatorPlan).then((result) => parentPort?.postMessage(result))
}
