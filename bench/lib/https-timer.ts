// The HTTPS client of admin-reads: one keep-alive mutual-TLS connection, sequential
// requests, so each latency is one request's own. It normally runs in a process of its
// own (https-timer-child.ts), as a user's client does; `--client inline` runs it in the
// service's process, as the benchmark once did, to show what that costs.
import https from 'node:https'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { recordGcPauses } from './gc-pauses.ts'
import type { TimedRequests, TimerSpec } from './https-timer-protocol.ts'

export interface HttpsTimer {
  /** one GET: its status and body (`port`: another server than the spec's, same TLS material) */
  get: (path: string, port?: number) => Promise<{ status: number, body: string }>
  /** `count` sequential GETs, each answered 200: their latencies and starts, the TLS connections they used, the client's collections meanwhile */
  time: (path: string, count: number, port?: number) => Promise<TimedRequests>
  close: () => Promise<void>
}

export function createHttpsTimer (spec: TimerSpec): HttpsTimer {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: spec.ca, cert: spec.cert, key: spec.key })
  const sockets = new Set<Socket>()

  // the agent keeps one connection per port: each server has its own kept-alive connection
  const get = (path: string, port = spec.port): Promise<{ status: number, body: string }> => new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, agent, servername: 'localhost', headers: { accept: 'application/json' } }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('socket', (socket: Socket) => { sockets.add(socket) })
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path}: no answer within 10 s`)))
    req.on('error', reject)
    req.end()
  })

  const time = async (path: string, count: number, port = spec.port): Promise<TimedRequests> => {
    sockets.clear()
    const samplesMs: number[] = []
    const startsAtMs: number[] = []
    const gc = recordGcPauses()
    try {
      for (let i = 0; i < count; i++) {
        const before = performance.now()
        const { status, body } = await get(path, port)
        if (status !== 200) throw new Error(`GET ${path} answered ${status}: ${body.slice(0, 500)}`)
        samplesMs.push(performance.now() - before)
        startsAtMs.push(performance.timeOrigin + before)
      }
    } catch (err) {
      gc.stop()
      throw err
    }
    return { samplesMs, startsAtMs, sockets: sockets.size, clientGc: gc.stop() }
  }

  return { get, time, close: async () => { agent.destroy() } }
}
